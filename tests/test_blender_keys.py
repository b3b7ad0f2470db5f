"""Keys on SMPL-X armatures in real Blender: evaluated bone heads equal the core's FK."""

from __future__ import annotations

import math

import numpy as np
import pytest
from blender_helpers import SMPLX_TO_BLENDER, bpy, reset, synthetic_motion, world_heads

from motionprompt.body import rig
from motionprompt.body.motion import Motion
from motionprompt.postprocess import in_place
from motionprompt.body.skeleton import BODY_JOINT_NAMES, JOINT_NAMES, PARENTS, rest_positions

from blender_addon import armature, compat, keys  # noqa: E402  (blender_helpers put the repo on sys.path)

FRAMES = (0, 7, 19, 33)


def _fk_blender(motion: Motion) -> np.ndarray:
    return motion.joint_positions() @ SMPLX_TO_BLENDER.T  # (T, 22, 3)


def _assert_heads_match(obj, motion, names, frames, frame_start=1, tol=1e-4):
    fk = _fk_blender(motion)
    for f in frames:
        got = world_heads(obj, names, frame_start + f)
        err = np.abs(got - fk[f]).max()
        assert err < tol, f"frame {f}: bone heads off the core FK by {err:.2e} m"


def test_built_armature_has_official_names_root_and_aligned_rest():
    reset()
    obj = armature.build_armature("SMPLX")
    names = [b.name for b in obj.data.bones]
    assert names[0] == "root" and set(names[1:]) == set(JOINT_NAMES) and len(names) == 56
    assert obj.data.bones["pelvis"].parent.name == "root"
    for j, name in enumerate(JOINT_NAMES):
        bone = obj.data.bones[name]
        assert np.allclose(np.array(bone.matrix_local.to_3x3()), SMPLX_TO_BLENDER, atol=1e-6), name
        if PARENTS[j] >= 0:
            assert bone.parent.name == JOINT_NAMES[PARENTS[j]]
    body = armature.build_armature("Body", body_only=True)
    assert len(body.data.bones) == 23


def test_synthetic_motion_keys_match_fk_and_frame_range():
    reset()
    motion = synthetic_motion(T=40, seed=1)
    obj = armature.build_armature("SMPLX", motion.rest_offsets())
    action = keys.apply_motion(obj, motion, frame_start=5)
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (5, 44)
    assert scene.render.fps / scene.render.fps_base == pytest.approx(30.0)
    assert tuple(action.frame_range) == (5.0, 44.0)
    _assert_heads_match(obj, motion, BODY_JOINT_NAMES, FRAMES + (39,), frame_start=5)


def test_quaternion_keys_are_sign_continuous():
    reset()
    motion = synthetic_motion(T=60, seed=2)
    obj = armature.build_armature("SMPLX", motion.rest_offsets())
    action = keys.apply_motion(obj, motion)
    curves = {(fc.data_path, fc.array_index): fc for fc in compat.slot_fcurves(action)}
    q = np.array([[kp.co[1] for kp in curves[('pose.bones["pelvis"].rotation_quaternion', k)].keyframe_points]
                  for k in range(4)]).T  # (T, 4)
    assert len(q) == 60
    assert np.all(np.sum(q[1:] * q[:-1], axis=1) > 0)


def test_real_clip_keys_match_fk(real_clip):
    reset()
    motion = Motion.from_272(real_clip["x272"][:200])
    obj = armature.build_armature("SMPLX", motion.rest_offsets())
    keys.apply_motion(obj, motion)
    assert bpy.context.scene.frame_end == 200  # not cut at Blender's default 250 / kept whole
    _assert_heads_match(obj, motion, BODY_JOINT_NAMES, (0, 50, 123, 199))


def test_root_motion_modes():
    reset()
    motion = synthetic_motion(T=30, seed=3)
    obj = armature.build_armature("SMPLX", motion.rest_offsets())
    keys.apply_motion(obj, motion, root_motion="root")
    _assert_heads_match(obj, motion, BODY_JOINT_NAMES, (0, 15, 29))
    root_travel = world_heads(obj, ["root"], 30)[0]
    expected = SMPLX_TO_BLENDER @ np.array([motion.root_translation[29, 0], 0.0, motion.root_translation[29, 2]])
    assert np.allclose(root_travel, expected, atol=1e-5)
    keys.apply_motion(obj, in_place(motion), root_motion="pelvis")  # in place: the post-processing step
    pelvis = np.array([world_heads(obj, ["pelvis"], f)[0] for f in (1, 30)])
    assert np.allclose(pelvis[0, :2], pelvis[1, :2], atol=1e-6)


def _foreign_armature(name_of, rest_smplx, axes, units, extra_bones=True):
    """An armature with non-aligned bones (random tails and rolls), other names and units,
    built from SMPL-X rest positions; ``axes`` maps SMPL-X to armature space."""
    rng = np.random.default_rng(7)
    arm = bpy.data.armatures.new("Foreign")
    obj = bpy.data.objects.new("Foreign", arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    heads = units * rest_smplx @ axes.T
    bones = []
    for j in range(22):
        eb = arm.edit_bones.new(name_of(j))
        eb.head = heads[j]
        d = rng.normal(size=3)
        eb.tail = heads[j] + units * 0.08 * d / np.linalg.norm(d)
        eb.roll = rng.uniform(-math.pi, math.pi)
        parent = bones[PARENTS[j]] if PARENTS[j] >= 0 else None
        if extra_bones and j == 6:  # an undriven bone between spine1 and spine2
            mid = arm.edit_bones.new("spine_twist")
            mid_head = heads[3] + 0.5 * (heads[6] - heads[3])
            mid.head = mid_head
            mid.tail = mid_head + np.array([0.0, 0.0, 0.05 * units])
            mid.parent = bones[3]
            parent = mid
        eb.parent = parent
        bones.append(eb)
    if extra_bones:
        prop = arm.edit_bones.new("prop")
        prop.head = heads[21]
        prop.tail = heads[21] + np.array([0.0, 0.1 * units, 0.0])
        prop.parent = bones[21]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


@pytest.mark.parametrize("style", ["official_zup", "smplh_yup_cm"])
def test_existing_non_aligned_armature(style):
    reset()
    motion = synthetic_motion(T=30, seed=4)
    rest = rest_positions(motion.rest_offsets())
    rest[:, 1] += 0.95
    if style == "official_zup":
        obj = _foreign_armature(lambda j: BODY_JOINT_NAMES[j], rest, SMPLX_TO_BLENDER, 1.0)
        names = list(BODY_JOINT_NAMES)
    else:  # SMPL-H capitalised names with a prefix, Y-up data in centimetres, object rotated and scaled
        def smplh(j):
            n = BODY_JOINT_NAMES[j].replace("left_", "L_").replace("right_", "R_")
            return "m_avg_" + n[0].upper() + n[1:] if not n.startswith(("L_", "R_")) else "m_avg_" + n[:2] + n[2].upper() + n[3:]
        obj = _foreign_armature(smplh, rest, np.eye(3), 100.0)
        obj.rotation_euler = (math.pi / 2, 0.0, 0.0)
        obj.scale = (0.01, 0.01, 0.01)
        names = [smplh(j) for j in range(22)]
    mapping = armature.bone_for_joint(obj)
    assert len(mapping) == 22
    action = keys.apply_motion(obj, motion)
    _assert_heads_match(obj, motion, names, (0, 11, 29))
    paths = {fc.data_path for fc in compat.slot_fcurves(action)}
    assert not any("prop" in p or "spine_twist" in p for p in paths), "undriven bones must not get keys"
    assert tuple(obj.pose.bones["prop"].rotation_quaternion) == (1.0, 0.0, 0.0, 0.0)


def test_aliases_cover_meshcapade_eyes_and_smplh_hands():
    assert rig.canonical_bone_name("left_eye") == "left_eye_smplhf"
    assert rig.canonical_bone_name("R_Index2") == "right_index2"
    assert rig.canonical_bone_name("m_avg_L_Wrist") == "left_wrist"
    assert rig.canonical_bone_name("SMPLX:Pelvis") == "pelvis"


def test_keys_use_this_blenders_action_api_one_group_per_bone():
    """Layered actions with a slot on 4.4+ (4.5, 5.0), Action.fcurves on 4.2: either way every
    curve of a bone sits in a group named after it, and keying again reuses the curves."""
    reset()
    motion = synthetic_motion(T=12, seed=4)
    obj = armature.build_armature("SMPLX", motion.rest_offsets())
    action = keys.apply_motion(obj, motion)
    assert compat.LAYERED_ACTIONS == (bpy.app.version >= (4, 4, 0))
    if compat.LAYERED_ACTIONS:
        assert len(action.slots) == 1 and obj.animation_data.action_slot == action.slots[0]
        assert len(action.layers) == 1 and len(compat.all_fcurves(action)) == len(compat.slot_fcurves(action))
    curves = list(compat.slot_fcurves(action))
    assert len(curves) == 4 * 22 + 3  # a quaternion per body bone, the pelvis location
    for fc in curves:
        assert fc.group is not None and fc.group.name == fc.data_path.split('"')[1], fc.data_path
        assert len(fc.keyframe_points) == 12
        assert {kp.interpolation for kp in fc.keyframe_points} == {keys.KEY_INTERPOLATION}
    again = synthetic_motion(T=8, seed=5)
    keys.write_keys(obj, action, rig.pose_channels(again, armature.target_from_armature(obj)))
    assert len(list(compat.slot_fcurves(action))) == len(curves)
    assert {len(fc.keyframe_points) for fc in compat.slot_fcurves(action)} == {8}
