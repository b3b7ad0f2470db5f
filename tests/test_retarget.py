"""Retargeting maths without Blender: SMPL-X motion onto a rig of other proportions, rest pose,
bone rolls, units and chain lengths, checked by posing the rig the way Blender does."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_rig import Z_UP, _motion, _pose_like_blender

from motionprompt.body import rig
from motionprompt.body.contacts import estimate_contacts
from motionprompt.body.motion import Motion
from motionprompt.body.skeleton import DEFAULT_REST_OFFSETS, PARENTS, rest_positions

CM = 100.0  # the rig's units per metre


def _ue_like_rig(a_pose_deg: float = 45.0, leg_scale: float = 1.12, seed: int = 3):
    """A UE5-like rig built from SMPL-X's rest joints: legs ``leg_scale`` longer, arms in an
    A-pose, five spine bones over SMPL-X's three, two neck bones, random bone rolls,
    centimetres, a root bone on the floor. Returns (hierarchy for ``_pose_like_blender``,
    slots: bone -> (joint, toward, t), heads by bone (armature space, cm))."""
    rng = np.random.default_rng(seed)
    P = rest_positions(DEFAULT_REST_OFFSETS)  # (22, 3) SMPL-X, pelvis at the origin
    for hip, knee, ankle, toe in rig.LEG_JOINTS:  # longer legs, the feet as they are
        P[knee] = P[hip] + leg_scale * (P[knee] - P[hip])
        for j, base in ((ankle, knee), (toe, ankle)):
            P[j] = P[base] + (leg_scale if j == ankle else 1.0) * (rest_positions(DEFAULT_REST_OFFSETS)[j]
                                                                  - rest_positions(DEFAULT_REST_OFFSETS)[base])
    for shoulder, elbow, wrist, sign in ((16, 18, 20, 1.0), (17, 19, 21, -1.0)):  # arms down by a_pose_deg
        R = Rotation.from_rotvec([0.0, 0.0, -sign * np.radians(a_pose_deg)]).as_matrix()
        for j in (elbow, wrist):
            P[j] = P[shoulder] + R @ (P[j] - P[shoulder])
    P[:, 1] -= P[:, 1].min()  # lowest joint on the floor
    Pb = CM * P @ Z_UP.T  # armature space, cm
    spine = [Pb[3], 0.5 * (Pb[3] + Pb[6]), Pb[6], 0.5 * (Pb[6] + Pb[9]), Pb[9]]
    names = {0: "pelvis", 1: "thigh_l", 2: "thigh_r", 4: "calf_l", 5: "calf_r", 7: "foot_l", 8: "foot_r",
             10: "ball_l", 11: "ball_r", 13: "clavicle_l", 14: "clavicle_r", 15: "head", 16: "upperarm_l",
             17: "upperarm_r", 18: "lowerarm_l", 19: "lowerarm_r", 20: "hand_l", 21: "hand_r"}
    bones = [("root", None, np.zeros(3), None), ("pelvis", "root", Pb[0], (0, 0, 0.0))]
    spine_slots = [(3, 3, 0.0), (3, 6, 0.5), (6, 6, 0.0), (6, 9, 0.5), (9, 9, 0.0)]
    parent = "pelvis"
    for k, (head, slot) in enumerate(zip(spine, spine_slots)):
        bones.append((f"spine_0{k + 1}", parent, head, slot))
        parent = f"spine_0{k + 1}"
    bones += [("neck_01", "spine_05", Pb[12], (12, 12, 0.0)),
              ("neck_02", "neck_01", 0.5 * (Pb[12] + Pb[15]), (12, 15, 0.5)), ("head", "neck_02", Pb[15], (15, 15, 0.0))]
    parent_of_joint = {1: "pelvis", 2: "pelvis", 13: "spine_05", 14: "spine_05"}
    for j in (1, 2, 4, 5, 7, 8, 10, 11, 13, 14, 16, 17, 18, 19, 20, 21):
        par = parent_of_joint.get(j) or names[PARENTS[j]]
        bones.append((names[j], par, Pb[j], (j, j, 0.0)))
    rolls = Rotation.random(len(bones), random_state=rng).as_matrix()
    hierarchy = [(n, par, np.eye(3) if n == "root" else rolls[i], h) for i, (n, par, h, _) in enumerate(bones)]
    slots = {n: s for n, _, _, s in bones if s is not None}
    return hierarchy, slots


def _target(hierarchy, slots, feet=True):
    parent_of = {n: p for n, p, _, _ in hierarchy}
    rest = {n: r for n, _, r, _ in hierarchy}
    heads = {n: h for n, _, _, h in hierarchy}
    return rig.RigTarget.from_slots(slots, parent_of, rest, heads, axes=Z_UP, scale=CM, correct_rest=True, feet=feet)


def _walk() -> Motion:
    """A procedural walk forward with its stance feet solved onto the floor (the demo corpus)."""
    from motionprompt_demo import synth

    seg = synth.make_action("walk_forward", synth.sample_params("walk_forward", np.random.default_rng(3)))
    R, root, joints = synth.render(seg)
    return Motion(R, root, joints=joints)


@pytest.fixture(params=["walk", "real clip"])
def stepping(request, real_clip=None):
    if request.param == "walk":
        return _walk()
    clip = request.getfixturevalue("real_clip")
    return Motion.from_272(clip["x272"][:600])


def _posed(hierarchy, channels, T):
    frames = [_pose_like_blender(hierarchy, channels, t) for t in range(T)]
    return {n: np.stack([f[n][:3, 3] for f in frames]) for n, _, _, _ in hierarchy}  # bone -> (T, 3) heads


SEGMENTS = {"upper arm": ((16, 18), ("upperarm_l", "lowerarm_l")), "forearm": ((18, 20), ("lowerarm_l", "hand_l")),
            "thigh": ((1, 4), ("thigh_l", "calf_l")), "shin": ((4, 7), ("calf_l", "foot_l")),
            "spine": ((3, 9), ("spine_01", "spine_05")), "neck-to-head": ((12, 15), ("neck_01", "head")),
            "right upper arm": ((17, 19), ("upperarm_r", "lowerarm_r"))}


def _angles(motion, hierarchy, channels):
    """Per segment, (T,) degrees between the target's posed segment and the source's."""
    heads = _posed(hierarchy, channels, motion.num_frames)
    src = motion.joint_positions() @ Z_UP.T
    out = {}
    for name, ((a, b), (ta, tb)) in SEGMENTS.items():
        u, v = src[:, b] - src[:, a], heads[tb] - heads[ta]
        cos = np.einsum("ti,ti->t", u, v) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        out[name] = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    return out, heads


@pytest.mark.parametrize("feet", [False, True])
def test_limb_directions_follow_the_source_through_both_rest_poses(stepping, feet):
    """Every segment within 2 degrees at every frame, the feet solved or not (a random motion
    too, without the feet: 70-degree joint turns and a spinning pelvis)."""
    hierarchy, slots = _ue_like_rig()
    for motion in (stepping, _motion(T=40, seed=5)) if not feet else (stepping,):
        channels = rig.pose_channels(motion, _target(hierarchy, slots, feet=feet), "root")
        angles, _ = _angles(motion, hierarchy, channels)
        worst = {k: round(float(v.max()), 3) for k, v in angles.items()}
        assert max(worst.values()) <= 2.0, worst


def test_without_rest_correction_an_a_pose_rig_keeps_its_arms_down():
    """The check above would catch a missing correction: the A-pose alone is 45 degrees off."""
    hierarchy, slots = _ue_like_rig()
    target = _target(hierarchy, slots, feet=False)
    target.correct_rest = False
    walk = _walk()
    angles, _ = _angles(walk, hierarchy, rig.pose_channels(walk, target))
    assert angles["upper arm"].max() > 30


def test_feet_touch_the_floor_and_do_not_slide_more_than_the_source(stepping):
    motion = stepping
    hierarchy, slots = _ue_like_rig()
    target = _target(hierarchy, slots, feet=True)
    channels = rig.pose_channels(motion, target, "pelvis")
    heads = _posed(hierarchy, channels, motion.num_frames)
    src = motion.joint_positions()
    rest = {n: h for n, _, _, h in hierarchy}
    src_rest = rest_positions(motion.rest_offsets())
    src_rest[:, 1] -= src_rest[:, 1].min()
    contacts = estimate_contacts(src)  # (T, 2) source stance, left / right
    for side, (ankle, toe, foot_bone, ball_bone) in enumerate(((7, 10, "foot_l", "ball_l"), (8, 11, "foot_r", "ball_r"))):
        clear_src = np.minimum(src[:, ankle, 1] - src_rest[ankle, 1], src[:, toe, 1] - src_rest[toe, 1])  # metres
        clear_tgt = np.minimum(heads[foot_bone][:, 2] - rest[foot_bone][2],
                               heads[ball_bone][:, 2] - rest[ball_bone][2]) / CM
        legs = [("thigh_l", "calf_l", "foot_l"), ("thigh_r", "calf_r", "foot_r")]
        ratio = sum(np.linalg.norm(rest[a] - rest[b]) + np.linalg.norm(rest[b] - rest[c]) for a, b, c in legs) / CM / sum(
            np.linalg.norm(src_rest[h] - src_rest[k]) + np.linalg.norm(src_rest[k] - src_rest[a])
            for h, k, a in ((1, 4, 7), (2, 5, 8)))
        near = clear_src < 0.02  # the source foot on (or just above) its floor
        assert near.sum() >= 10
        assert np.abs(clear_tgt - ratio * clear_src)[near].max() < 0.01  # within 1 cm of the target's floor
        stance = (contacts[:, side] | near)[1:] & (contacts[:, side] | near)[:-1]
        slide_src = np.linalg.norm(np.diff(src[:, toe][:, [0, 2]], axis=0), axis=1)[stance]
        slide_tgt = np.linalg.norm(np.diff(heads[ball_bone][:, :2], axis=0), axis=1)[stance] / CM
        assert stance.sum() >= 10
        assert slide_tgt.mean() <= ratio * slide_src.mean() + 0.005


def test_smplx_skeleton_without_correction_is_unchanged():
    """correct_rest / feet off (our own armatures): the keys are SMPL-X's local rotations."""
    motion = _motion(T=6)
    hierarchy, slots = _ue_like_rig()
    plain = _target(hierarchy, slots, feet=False)
    plain.correct_rest = False
    a = rig.pose_channels(motion, plain)
    corrected = _target(hierarchy, slots, feet=False)
    b = rig.pose_channels(motion, corrected)
    assert a.keys() == b.keys()
    assert any(not np.allclose(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------
# motion_from_pose: a rig's own animation read back as SMPL-X motion


def _read_back(motion, hierarchy, target):
    """The rig posed with ``pose_channels`` of ``motion`` the way Blender poses it, read back."""
    channels = rig.pose_channels(motion, target)
    frames = [_pose_like_blender(hierarchy, channels, t) for t in range(motion.num_frames)]
    W = np.stack([[f[b][:3, :3] for b in target.bones] for f in frames])
    heads = np.stack([[f[b][:3, 3] for b in target.bones] for f in frames])
    return rig.motion_from_pose(target, W, heads, fps=motion.fps)


def test_reading_an_smplx_skeleton_back_is_exact():
    """SMPL-X skeletons keyed as they are (SMPL-aligned rest; random bone rests in centimetres
    with a root bone): the pose read back is the motion keyed, rotations and pelvis to 1e-9."""
    from test_rig import _aligned_target, _foreign

    motion = _motion(24, seed=1)
    aligned = _aligned_target(1.0)
    hierarchy = [(b, None if p < 0 else aligned.bones[p], aligned.rest[i], aligned.heads[i])
                 for i, (b, p) in enumerate(zip(aligned.bones, aligned.parent_row))]
    foreign = _foreign(Z_UP, 100.0, np.random.default_rng(5), root_rest=np.eye(3))
    for hier, target in ((hierarchy, aligned), foreign):
        back = _read_back(motion, hier, target)
        np.testing.assert_allclose(back.rotations, motion.rotations, atol=1e-9)
        np.testing.assert_allclose(back.root_translation, motion.root_translation, atol=1e-9)
        np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=1e-9)


@pytest.mark.parametrize("feet", [False, True])
def test_reading_a_retargeted_rig_back_follows_the_source(stepping, feet):
    """A UE5-like rig (A-pose, longer legs, five spine bones, rolls, cm) keyed from a motion,
    read back: every limb points as the source's within 0.5 degrees, the pelvis travels as the
    source's within 1 mm, joints about the pelvis within 0.5 cm with planted feet (those are
    the rig's, solved onto its floor), else 1e-5 m."""
    hierarchy, slots = _ue_like_rig()
    back = _read_back(stepping, hierarchy, _target(hierarchy, slots, feet=feet))
    P, Q = stepping.joint_positions(), back.joint_positions()
    for (a, b), _ in SEGMENTS.values():
        u, v = P[:, b] - P[:, a], Q[:, b] - Q[:, a]
        cos = np.einsum("ti,ti->t", u, v) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.5, (a, b)
    assert np.abs(back.root_translation - stepping.root_translation).max() < 1e-3
    assert np.abs((Q - Q[:, :1]) - (P - P[:, :1])).max() < (0.005 if feet else 1e-5)


def test_reading_back_needs_one_pose_per_row():
    hierarchy, slots = _ue_like_rig()
    target = _target(hierarchy, slots)
    with pytest.raises(ValueError, match="for the target's rows"):
        rig.motion_from_pose(target, np.tile(np.eye(3), (4, 3, 1, 1)), np.zeros((4, 3, 3)))
