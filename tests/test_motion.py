"""The Motion value: transl, resampling, in-place, validation."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from motionprompt.body.motion import Motion
from motionprompt.postprocess import in_place, resample
from motionprompt.body.skeleton import DEFAULT_REST_OFFSETS, DEFAULT_REST_PELVIS

from test_rep272 import synthetic_motion


def test_transl_is_pelvis_minus_rest_pelvis():
    local, root, pos = synthetic_motion(T=10)
    m = Motion(local, root, joints=pos)
    np.testing.assert_allclose(m.smplx_transl(), root - DEFAULT_REST_PELVIS)
    np.testing.assert_allclose(m.rest_offsets(), DEFAULT_REST_OFFSETS, atol=1e-9)
    assert m.duration == pytest.approx(10 / 30)


def test_resampled_matches_scipy_slerp():
    local, root, pos = synthetic_motion(T=31)
    m = Motion(local, root, joints=pos)
    r = resample(m, 24.0)
    assert r.fps == 24.0 and r.num_frames == 25  # 1 s at 24 fps: 25 frames incl. both ends
    times = np.arange(31) / 30.0
    for j in (0, 5, 21):
        s = Slerp(times, Rotation.from_matrix(local[:, j]))
        np.testing.assert_allclose(r.rotations[:, j], s(np.arange(25) / 24.0).as_matrix(), atol=1e-9)
    np.testing.assert_allclose(r.root_translation[:, 1], np.interp(np.arange(25) / 24.0, times, root[:, 1]))
    np.testing.assert_allclose(r.rest_offsets(), m.rest_offsets())


def test_in_place_keeps_height_and_pose():
    local, root, pos = synthetic_motion(T=20)
    m = in_place(Motion(local, root, joints=pos))
    np.testing.assert_allclose(m.root_translation[:, [0, 2]], np.broadcast_to(root[0, [0, 2]], (20, 2)))
    np.testing.assert_allclose(m.root_translation[:, 1], root[:, 1])
    np.testing.assert_allclose(m.rotations, local)


def test_rejects_nan_and_bad_shapes():
    local, root, _ = synthetic_motion(T=5)
    root[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Motion(local, root)
    with pytest.raises(ValueError, match="22"):
        Motion(local[:, :21], root)
    with pytest.raises(ValueError, match="NaN"):
        Motion.from_272(np.full((4, 272), np.nan))


def test_a_new_pose_drops_the_caches_derived_from_the_old_one():
    """``with_`` or assignment of rotations / root: to_272 and joints follow the new pose."""
    local, root, pos = synthetic_motion(T=12)
    m = Motion.from_272(Motion(local, root, joints=pos).to_272())
    old = m.to_272().copy()
    R = m.rotations.copy()
    R[:, 18] = R[:, 18] @ Rotation.from_rotvec([0.0, 0.0, 0.8]).as_matrix()  # bend the left elbow
    changed = m.with_(rotations=R)
    assert changed.features is None and changed.joints is None
    np.testing.assert_allclose(changed.to_272(), Motion(R, m.root_translation, rest=m.rest_offsets()).to_272())
    assert np.abs(changed.to_272() - old).max() > 1e-2
    np.testing.assert_allclose(changed.rest_offsets(), m.rest_offsets())  # the skeleton stays
    np.testing.assert_allclose(m.to_272(), old)  # the original is untouched
    moved = m.with_(root_translation=m.root_translation + [1.0, 0.0, 0.0])
    np.testing.assert_allclose(moved.joint_positions(), m.joint_positions() + [1.0, 0.0, 0.0], atol=1e-9)
    m.rotations = R  # assignment drops them too
    assert m.features is None and m.joints is None
    np.testing.assert_allclose(m.to_272(), changed.to_272())


def test_fk_views_are_the_cached_fk_and_read_only():
    """Motion.fk(): the FK joint_positions / global_rotations give, without copies, and no
    caller can change the cache through them."""
    rng = np.random.default_rng(0)
    from motionprompt.body.rotations import axis_angle_to_matrix

    m = Motion(axis_angle_to_matrix(rng.normal(0, 0.3, (6, 22, 3))), rng.normal(0, 0.5, (6, 3)))
    P, G = m.fk()
    np.testing.assert_array_equal(P, m.joint_positions())
    np.testing.assert_array_equal(G, m.global_rotations())
    assert P.base is not None and not P.flags.writeable and not G.flags.writeable
    with pytest.raises(ValueError):
        P[0, 0, 0] = 1.0
    assert m.fk()[0] is not P and np.shares_memory(m.fk()[0], P)
