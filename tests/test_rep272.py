"""The 272 representation: synthetic round trips and the real mocap clip."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motionprompt.body import rep272
from motionprompt.body.motion import Motion
from motionprompt.body.rotations import heading_angle, yaw_matrix
from motionprompt.body.skeleton import DEFAULT_REST_OFFSETS, NUM_BODY_JOINTS, estimate_rest_offsets, forward_kinematics


def synthetic_motion(T=90, seed=0):
    """Random smooth pose + a walking root with turning heading; FK on the default skeleton."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, T)[:, None, None]
    a0, a1 = rng.normal(0, 0.4, (1, 22, 3)), rng.normal(0, 0.4, (1, 22, 3))
    aa = a0 * (1 - t) + a1 * t
    local = Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(T, 22, 3, 3)
    yaw = np.linspace(0.3, 2.8, T)  # large heading change, crosses +-pi/2
    local[:, 0] = yaw_matrix(yaw) @ local[:, 0]
    root = np.stack([np.linspace(0.5, 2.0, T), 0.9 + 0.05 * np.sin(6 * t[:, 0, 0]), np.linspace(-1, 1.5, T) ** 2], 1)
    pos, _ = forward_kinematics(local, root, DEFAULT_REST_OFFSETS)
    return local, root, pos


def test_round_trip_rotations_and_joints():
    local, root, pos = synthetic_motion()
    x = rep272.motion_to_272(local, pos)
    rots, root_rec = rep272.recover_from_272(x)
    # Recovery's world = original shifted (frame-0 pelvis at x=z=0, floor at the lowest joint)
    # and turned so frame 0's heading is removed: R_y(h0).
    h0 = heading_angle(local[0, 0])
    Y = yaw_matrix(h0)
    shift = np.array([pos[0, 0, 0], pos[..., 1].min(), pos[0, 0, 2]])
    np.testing.assert_allclose(rots[:, 1:], local[:, 1:], atol=1e-9)
    np.testing.assert_allclose(rots[:, 0], Y @ local[:, 0], atol=1e-9)
    expected_root = (root - shift) @ Y.T
    np.testing.assert_allclose(root_rec, expected_root, atol=1e-9)
    expected_pos = (pos - shift) @ Y.T
    np.testing.assert_allclose(rep272.recover_positions(x), expected_pos, atol=1e-9)
    # and FK of the recovered pose on the estimated skeleton gives the same joints
    off, spread = estimate_rest_offsets(rots, rep272.recover_positions(x))
    np.testing.assert_allclose(off[1:], DEFAULT_REST_OFFSETS[1:], atol=1e-9)
    assert spread.max() < 1e-9
    fk, _ = forward_kinematics(rots, root_rec, off)
    np.testing.assert_allclose(fk, expected_pos, atol=1e-6)


def test_layout_fields_by_hand():
    local, root, pos = synthetic_motion(T=5, seed=3)
    x = rep272.motion_to_272(local, pos)
    np.testing.assert_array_equal(x[0, 0:2], 0)
    np.testing.assert_allclose(x[0, 2:8], [1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(x[0, 74:140], 0)
    # heading change of frame 2, straight from the definition
    h = heading_angle(local[:, 0])
    R = Rotation.from_euler("y", h[2] - h[1]).as_matrix()
    np.testing.assert_allclose(x[2, 2:8], R[:2].reshape(6), atol=1e-12)
    # root velocity of frame 3 in frame 2's heading-free frame
    v = yaw_matrix(h[2]) @ (pos[3, 0] - pos[2, 0])
    np.testing.assert_allclose(x[3, 0:2], v[[0, 2]], atol=1e-12)
    # pelvis x, z are zero in the position block; velocities are differences of positions
    np.testing.assert_allclose(x[:, [8, 10]], 0, atol=1e-12)
    np.testing.assert_allclose(x[1:, 74:140], x[1:, 8:74] - x[:-1, 8:74], atol=1e-12)


def test_real_clip_forward_matches_published_frames(real_clip):
    """Our forward transform reproduces the published 272 file from its SMPL-X pose."""
    p85, j55, x = real_clip["smplx85"], real_clip["joints55"], real_clip["x272"]
    local = Rotation.from_rotvec(p85[:, :66].reshape(-1, 3)).as_matrix().reshape(-1, 22, 3, 3)
    ours = rep272.motion_to_272(local, j55[:, :NUM_BODY_JOINTS])
    np.testing.assert_allclose(ours, x, atol=1e-6)  # the file is float32


def test_real_clip_recovery(real_clip):
    x, j55, p85 = real_clip["x272"], real_clip["joints55"], real_clip["smplx85"]
    m = Motion.from_272(x)
    fk = m.joint_positions()
    # 1) FK of recovered rotations == the clip's own position channels (heading restored)
    np.testing.assert_allclose(fk, rep272.recover_positions(x), atol=1e-5)
    # 2) == the 55-joint file, first 22, shifted to the floor, frame-0 heading removed
    j = j55[:, :NUM_BODY_JOINTS].copy()
    j[..., [0, 2]] -= j[0, 0, [0, 2]]
    j[..., 1] -= j[..., 1].min()
    h0 = heading_angle(Rotation.from_rotvec(p85[0, :3]).as_matrix())
    np.testing.assert_allclose(fk, j @ yaw_matrix(h0).T, atol=1e-5)
    # 3) feet on the floor: the lowest foot over the clip at 0 +- 1 cm
    feet = fk[:, [7, 8, 10, 11], 1]
    assert abs(feet.min()) < 0.01
    assert m.rest_spread().max() < 1e-5
    # 4) SMPL-X transl: pelvis minus the subject's rest pelvis, as the clip's own transl does
    transl_shift = (p85[:, 72:75] - j55[:, 0])  # = -J0, constant
    np.testing.assert_allclose(transl_shift.std(0), 0, atol=1e-5)


def test_mean_std_denormalise_round_trip():
    mean, std = rep272.load_mean_std()
    assert mean.shape == std.shape == (272,) and np.all(std > 0)
    x = np.random.default_rng(0).normal(size=(7, 272))
    np.testing.assert_allclose(rep272.normalize(rep272.denormalize(x, mean, std), mean, std), x, atol=1e-12)
    np.testing.assert_allclose(rep272.denormalize(x, mean, std)[3, 5], x[3, 5] * std[5] + mean[5])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="272"):
        rep272.recover_from_272(np.zeros((10, 263)))
    with pytest.raises(ValueError, match="22"):
        rep272.motion_to_272(np.zeros((3, 21, 3, 3)), np.zeros((3, 21, 3)))


def test_hand_and_face_rest_offsets_match_the_real_clip(real_clip):
    """skeleton.EXTRA_REST_OFFSETS (jaw, eyes, fingers) = the clip's 55 joints seen from their
    parents (body rotations from smplx85, hands/face at rest)."""
    from motionprompt.body.skeleton import EXTRA_REST_OFFSETS, PARENTS, full_rest_offsets

    p85, j55 = real_clip["smplx85"][:50], real_clip["joints55"][:50]
    local = np.broadcast_to(np.eye(3), (50, 55, 3, 3)).copy()
    local[:, :22] = Rotation.from_rotvec(p85[:, :66].reshape(-1, 3)).as_matrix().reshape(50, 22, 3, 3)
    off, spread = estimate_rest_offsets(local, j55, PARENTS)
    assert spread.max() < 1e-5
    np.testing.assert_allclose(off[22:], EXTRA_REST_OFFSETS, atol=2e-6)
    np.testing.assert_allclose(full_rest_offsets(off[:22])[22:], EXTRA_REST_OFFSETS)


def test_recover_in_one_pass_equals_the_two_recoveries():
    local, root, pos = synthetic_motion(T=30, seed=4)
    x = rep272.motion_to_272(local, pos)
    rots, root_rec, joints = rep272.recover(x)
    r2, t2 = rep272.recover_from_272(x)
    np.testing.assert_array_equal(rots, r2)
    np.testing.assert_array_equal(root_rec, t2)
    np.testing.assert_array_equal(joints, rep272.recover_positions(x))
