"""An in-between's end: the blend into the target pose with the standing feet held by IK
(``postprocess.feet.plant_into_pose``), measured against the plain blend of the same motion
(``body.splice.blend_to_pose``, whose feet slide with the pose difference): horizontal toe and
ankle speed on the frames the feet stand, the target reached exactly, nothing before the
blend changed, bone lengths kept, no joint faster than the motion itself moves."""

from __future__ import annotations

import numpy as np
import pytest

from motionprompt.body.motion import Motion
from motionprompt.body.skeleton import PARENTS
from motionprompt.body.splice import blend_to_pose
from motionprompt.postprocess.feet import foot_contacts, plant_into_pose

B = 15
FOOT_POINTS = (7, 10, 8, 11)  # left ankle, left toe, right ankle, right toe: per CONTACT_POINTS


def _window_contacts(candidate: Motion, pose: Motion) -> np.ndarray:
    """(B + 1, 4) the candidate's own contacts over the blend window, the pose's on its last frame."""
    c = foot_contacts(candidate)[-(B + 1):].copy()
    c[-1] = foot_contacts(pose, min_frames=1)[0]
    return c


def _skating(m: Motion, contacts: np.ndarray) -> tuple[float, float]:
    """(mean, max) horizontal speed, cm/frame, of each foot point over the window's frame
    pairs where ``contacts`` has it down."""
    P = m.joint_positions()[-len(contacts):][:, list(FOOT_POINTS)]
    v = np.linalg.norm(np.diff(P[..., [0, 2]], axis=0), axis=-1)  # (B, 4) m/frame
    both = contacts[1:] & contacts[:-1]
    return 100 * float(v[both].mean()), 100 * float(v[both].max())


def _speeds(m: Motion) -> np.ndarray:
    return np.linalg.norm(np.diff(m.joint_positions(), axis=0), axis=-1)  # (T-1, 22) m/frame


def _check_end_and_start(out: Motion, candidate: Motion, pose: Motion) -> None:
    T = candidate.num_frames
    np.testing.assert_allclose(out.rotations[:T - 1 - B], candidate.rotations[:T - 1 - B], atol=1e-12)
    np.testing.assert_allclose(out.root_translation[:T - 1 - B], candidate.root_translation[:T - 1 - B], atol=1e-12)
    P, Q = out.joint_positions()[-1], pose.joint_positions()[0]
    assert np.abs((P - P[0]) - (Q - Q[0])).max() < 1e-6 and np.linalg.norm(P[0] - Q[0]) < 1e-6
    J = out.joint_positions()
    bones = np.linalg.norm(J[:, 1:] - J[:, PARENTS[1:22]], axis=-1)
    np.testing.assert_allclose(bones, bones[:1].repeat(len(bones), 0), atol=1e-9)


def _cases(motion: Motion, cases):
    """(candidate, target pose) pairs: ``L`` frames from ``a``, ending ``k`` frames short of the pose."""
    return [(motion.frames(a, a + L), motion.frames(a + L - 1 + k, a + L + k)) for a, L, k in cases]


def test_planted_feet_slide_less_on_the_real_clip(real_clip):
    """Eight stretches of the real clip, each blended into the clip's pose 5-15 frames later
    (one in the air all through the blend): the standing feet slide 0.22 -> 0.11 cm/frame on
    average over the other seven (every stretch <= 0.3), the
    target reached exactly, and no joint faster than the clip's fastest (7.48 cm/frame) or,
    where the plain blend itself is faster, than the plain blend."""
    clip = Motion.from_272(real_clip["x272"][:600])
    fastest = _speeds(clip).max()
    before, after = [], []
    for candidate, pose in _cases(clip, ((0, 60, 8), (100, 60, 12), (300, 50, 10), (400, 60, 15), (150, 70, 5),
                                         (200, 45, 6), (250, 50, 10), (350, 60, 8))):
        contacts = _window_contacts(candidate, pose)
        plain, planted = blend_to_pose(candidate, pose, B), plant_into_pose(candidate, pose, B)
        _check_end_and_start(planted, candidate, pose)
        assert _speeds(planted).max() <= max(fastest, _speeds(plain).max()) + 1e-9
        if not (contacts[1:] & contacts[:-1]).any():
            continue  # in the air all through the blend (the clip's jumps): no foot stands
        before.append(_skating(plain, contacts)[0])
        after.append(_skating(planted, contacts)[0])
        assert after[-1] <= 0.3
    assert len(before) >= 6
    print(f"real clip, standing feet over the blend: {np.mean(before):.2f} -> {np.mean(after):.2f} cm/frame")
    assert np.mean(after) < 0.55 * np.mean(before)


def _walk() -> Motion:
    from motionprompt_demo import synth

    seg = synth.make_action("walk_forward", synth.sample_params("walk_forward", np.random.default_rng(3)))
    R, root, joints = synth.render(seg)
    m = Motion(R, root, joints=joints)
    return m.with_(rest=m.rest_offsets(), joints=None)


def test_planted_feet_slide_less_on_a_walk():
    """The same on a synthetic walk (no ../shared needed), five stretches blended into its
    pose 5-12 frames later: the standing feet slide 0.80 -> 0.32 cm/frame on average (a foot
    down all through the blend whose pose has it lifted is let go 4 frames before the end, and
    its whole way to the pose counts as sliding), the target exact; a foot stepping onto the
    pose's spot in a swing of a few frames is at most 1.25 times as fast as the plain blend or
    the walk's fastest joint (measured 1.20)."""
    walk = _walk()
    fastest = _speeds(walk).max()
    before, after = [], []
    for candidate, pose in _cases(walk, ((0, 40, 6), (20, 45, 9), (30, 45, 12), (10, 40, 8), (40, 40, 5))):
        contacts = _window_contacts(candidate, pose)
        plain, planted = blend_to_pose(candidate, pose, B), plant_into_pose(candidate, pose, B)
        _check_end_and_start(planted, candidate, pose)
        before.append(_skating(plain, contacts)[0])
        after.append(_skating(planted, contacts)[0])
        assert _speeds(planted).max() <= 1.25 * max(fastest, _speeds(plain).max())
    print(f"walk, standing feet over the blend: {np.mean(before):.2f} -> {np.mean(after):.2f} cm/frame")
    assert np.mean(after) < 0.5 * np.mean(before)


def test_plant_off_is_the_blend_and_bad_modes_fail():
    walk = _walk()
    candidate, pose = _cases(walk, ((0, 40, 6),))[0]
    off = plant_into_pose(candidate, pose, B, mode="off")
    np.testing.assert_array_equal(off.rotations, blend_to_pose(candidate, pose, B).rotations)
    held = plant_into_pose(candidate, pose, B)
    assert set(held.meta["planted"]) == {"left", "right"} and sum(held.meta["planted"].values()) > 0
    with pytest.raises(ValueError, match="foot lock"):
        plant_into_pose(candidate, pose, B, mode="glue")
