"""The third-party-style test rigs (tests/rig_builders.py) in real Blender: bones, parents, rest
poses, units, rolls, a real Rigify rig, the measuring helpers, and repeated builds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from blender_helpers import bpy, reset

import rig_builders as rb


def _mixamo_parents(p="mixamorig:"):
    centre = {"Hips": None, "Spine": "Hips", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Spine2",
              "Head": "Neck", "HeadTop_End": "Head"}
    side = {"{S}Shoulder": "Spine2", "{S}Arm": "{S}Shoulder", "{S}ForeArm": "{S}Arm", "{S}Hand": "{S}ForeArm",
            "{S}HandIndex1": "{S}Hand", "{S}HandIndex2": "{S}HandIndex1", "{S}HandIndex3": "{S}HandIndex2",
            "{S}HandThumb1": "{S}Hand", "{S}HandThumb2": "{S}HandThumb1", "{S}HandThumb3": "{S}HandThumb2",
            "{S}UpLeg": "Hips", "{S}Leg": "{S}UpLeg", "{S}Foot": "{S}Leg", "{S}ToeBase": "{S}Foot",
            "{S}Toe_End": "{S}ToeBase"}
    out = dict(centre)
    for S in ("Left", "Right"):
        out.update({k.format(S=S): v.format(S=S) for k, v in side.items()})
    return {p + k: (None if v is None else p + v) for k, v in out.items()}


def _ue5_parents():
    out = {"root": None, "pelvis": "root", "spine_01": "pelvis", "spine_02": "spine_01", "spine_03": "spine_02",
           "spine_04": "spine_03", "spine_05": "spine_04", "neck_01": "spine_05", "neck_02": "neck_01",
           "head": "neck_02"}
    for s in ("l", "r"):
        out.update({f"clavicle_{s}": "spine_05", f"upperarm_{s}": f"clavicle_{s}", f"lowerarm_{s}": f"upperarm_{s}",
                    f"hand_{s}": f"lowerarm_{s}", f"thigh_{s}": "pelvis", f"calf_{s}": f"thigh_{s}",
                    f"foot_{s}": f"calf_{s}", f"ball_{s}": f"foot_{s}"})
    return out


def _vrm_parents():
    out = {"hips": None, "spine": "hips", "chest": "spine", "upperChest": "chest", "neck": "upperChest",
           "head": "neck"}
    for s in ("left", "right"):
        out.update({f"{s}Shoulder": "upperChest", f"{s}UpperArm": f"{s}Shoulder", f"{s}LowerArm": f"{s}UpperArm",
                    f"{s}Hand": f"{s}LowerArm", f"{s}UpperLeg": "hips", f"{s}LowerLeg": f"{s}UpperLeg",
                    f"{s}Foot": f"{s}LowerLeg", f"{s}Toes": f"{s}Foot"})
    return out


def _parents_of(obj):
    return {b.name: (b.parent.name if b.parent else None) for b in obj.data.bones}


def _world(obj, v):
    return np.array(obj.matrix_world @ v)


def _rest_dir(obj, name):
    b = obj.data.bones[name]
    d = _world(obj, b.tail_local) - _world(obj, b.head_local)
    return d / np.linalg.norm(d)


def _rest_z_axis(obj, name):
    """World direction of the bone's rest Z axis."""
    z = obj.matrix_world.to_3x3() @ obj.data.bones[name].matrix_local.to_3x3().col[2]
    return np.array(z.normalized())


def _head(obj, name):
    return _world(obj, obj.data.bones[name].head_local)


def _check_points_at_children(obj, main_child):
    """Every bone with one child ends on that child's head; ``main_child`` names the child of
    bones with several (None: a bone that points elsewhere)."""
    for b in obj.data.bones:
        kids = list(b.children)
        child = main_child[b.name] if b.name in main_child else (kids[0].name if len(kids) == 1 else None)
        if child is not None:
            np.testing.assert_allclose(b.tail_local, obj.data.bones[child].head_local, atol=1e-4, err_msg=b.name)


def _check_common(obj, kind):
    assert obj.type == "ARMATURE" and obj.mode == "OBJECT"
    assert obj.name in bpy.context.scene.objects
    assert obj["rig_kind"] == kind
    jm = rb.smplx_joint_map(obj)
    assert len(jm) == 22 and all(b in obj.data.bones for b in jm.values())
    pos = rb.rest_joint_positions(obj, jm)
    for j, p in pos.items():  # left = +X, right = -X, the feet point to the front (-Y)
        assert p.shape == (3,)
        if j.startswith("left_"):
            assert p[0] > 0, j
        if j.startswith("right_"):
            assert p[0] < 0, j
    for s in ("left", "right"):
        assert pos[f"{s}_foot"][1] < pos[f"{s}_ankle"][1] - 0.05 * obj["rig_world_units_per_metre"]
        assert pos[f"{s}_ankle"][2] < pos[f"{s}_knee"][2] < pos[f"{s}_hip"][2] < pos["neck"][2] < pos["head"][2]
    return pos


# ---------------------------------------------------------------------------------------------- Mixamo

def test_mixamo_bones_parents_units_and_scale():
    reset()
    obj = rb.build_mixamo()
    assert _parents_of(obj) == _mixamo_parents()
    pos = _check_common(obj, "mixamo")
    assert tuple(obj.scale) == pytest.approx((0.01,) * 3)
    assert obj.data.bones["mixamorig:Hips"].head_local.z == pytest.approx(100.0, abs=1e-3)  # data in cm
    assert obj["rig_world_units_per_metre"] == pytest.approx(1.0)
    top = _head(obj, "mixamorig:HeadTop_End")[2]
    assert top == pytest.approx(1.80, abs=1e-4)  # world metres after the 0.01 scale
    assert rb.floor_height(obj) == pytest.approx(0.0, abs=1e-6)
    assert pos["pelvis"][2] == pytest.approx(1.00, abs=1e-4)
    assert pos["left_hip"][2] == pytest.approx(0.92, abs=1e-4)
    assert pos["left_foot"][2] == pytest.approx(0.0, abs=1e-6)  # the ball (ToeBase head) on the floor
    p = "mixamorig:"
    _check_points_at_children(obj, {p + "Hips": p + "Spine", p + "Spine2": p + "Neck"})
    for name in ("LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand"):
        want = (1.0, 0.0, 0.0) if name.startswith("Left") else (-1.0, 0.0, 0.0)
        np.testing.assert_allclose(_rest_dir(obj, p + name), want, atol=1e-6, err_msg=name)  # T-pose
        np.testing.assert_allclose(rb.bone_world_direction(obj, p + name, 1), want, atol=1e-5, err_msg=name)
    for name in ("Spine", "Spine1", "Spine2"):
        np.testing.assert_allclose(_rest_dir(obj, p + name), (0, 0, 1), atol=1e-6)
    # Mixamo-like rolls: Z to the front on the spine, arms and legs; Z up on the feet and toes
    for name in ("Hips", "Spine2", "Head", "LeftArm", "RightForeArm", "LeftHand", "LeftUpLeg", "RightLeg"):
        assert _rest_z_axis(obj, p + name) @ np.array(rb.FRONT) > 0.99, name  # legs lean a little
    for name in ("LeftToeBase", "RightToe_End"):
        np.testing.assert_allclose(_rest_z_axis(obj, p + name), rb.UP, atol=1e-3, err_msg=name)
    assert _rest_z_axis(obj, p + "LeftFoot")[2] > 0.8


def test_mixamo_prefix_and_scale_options():
    reset()
    obj = rb.build_mixamo(prefix="", object_scale=1.0)
    assert "Hips" in obj.data.bones and "LeftToe_End" in obj.data.bones
    assert obj["rig_world_units_per_metre"] == pytest.approx(100.0)
    assert _head(obj, "HeadTop_End")[2] == pytest.approx(180.0, abs=1e-2)
    assert rb.smplx_joint_map(obj)["left_wrist"] == "LeftHand"


# ---------------------------------------------------------------------------------------------- UE5

@pytest.mark.parametrize("a_pose_deg", [45.0, 30.0])
def test_ue5_bones_a_pose_units(a_pose_deg):
    reset()
    obj = rb.build_ue5(a_pose_deg=a_pose_deg)
    assert _parents_of(obj) == _ue5_parents()
    pos = _check_common(obj, "ue5")
    assert tuple(obj.scale) == pytest.approx((1.0,) * 3)
    assert obj["rig_world_units_per_metre"] == pytest.approx(100.0)  # 1 unit = 1 cm
    np.testing.assert_allclose(_head(obj, "root"), (0, 0, 0), atol=1e-6)
    assert rb.floor_height(obj) == pytest.approx(0.0, abs=1e-4)
    assert pos["pelvis"][2] == pytest.approx(103.0, abs=1e-3)
    assert pos["left_hip"][2] == pytest.approx(100.0, abs=1e-3)  # hip height ~1.0 m
    leg = np.linalg.norm(pos["left_hip"] - pos["left_ankle"]) / 100.0
    assert leg == pytest.approx(0.91, abs=0.01) and leg > 0.85  # longer than SMPL-X's 0.83 m
    assert obj.data.bones["head"].tail_local.z == pytest.approx(184.0, abs=1e-3)
    _check_points_at_children(obj, {"root": None, "pelvis": "spine_01", "spine_05": "neck_01"})
    a = math.radians(a_pose_deg)
    for s, sign in (("l", 1.0), ("r", -1.0)):
        want = (sign * math.cos(a), 0.0, -math.sin(a))
        for name in (f"upperarm_{s}", f"lowerarm_{s}", f"hand_{s}"):
            d = _rest_dir(obj, name)
            np.testing.assert_allclose(d, want, atol=1e-5, err_msg=name)
            assert math.degrees(math.asin(-d[2])) == pytest.approx(a_pose_deg, abs=1e-3)
            np.testing.assert_allclose(rb.bone_world_direction(obj, name, 1), want, atol=1e-5)


def test_ue5_rolls_metres_and_random_rolls():
    reset()
    obj = rb.build_ue5()
    documented = {"root": 0, "pelvis": 90, "spine_03": 90, "head": 90, "clavicle_l": 90, "upperarm_l": 180,
                  "lowerarm_l": 180, "hand_l": -90, "thigh_l": 90, "calf_l": 90, "foot_l": 180, "ball_l": 180,
                  "clavicle_r": -90, "upperarm_r": -180, "hand_r": 90, "thigh_r": -90, "foot_r": -180}
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        rolls = {n: math.degrees(obj.data.edit_bones[n].roll) for n in documented}
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    for n, r in documented.items():
        assert (rolls[n] - r + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-3), n
    # a rolled bone's frame differs from the SMPL-X add-on's world-aligned one
    assert abs(_rest_z_axis(obj, "spine_03")[2]) < 0.2
    metres = rb.build_ue5(units="m")
    assert metres["rig_world_units_per_metre"] == pytest.approx(1.0)
    assert _head(metres, "thigh_l")[2] == pytest.approx(1.00, abs=1e-5)
    rnd = rb.build_ue5(units="m", roll_seed=3)
    np.testing.assert_allclose(_head(rnd, "hand_r"), _head(metres, "hand_r"), atol=1e-6)
    z_differs = [n for n in ("pelvis", "upperarm_l", "thigh_r", "ball_l")
                 if np.abs(_rest_z_axis(rnd, n) - _rest_z_axis(metres, n)).max() > 1e-2]
    assert len(z_differs) >= 3
    with pytest.raises(ValueError):
        rb.build_ue5(units="inch")


# ---------------------------------------------------------------------------------------------- VRM

def test_vrm_bones_rest_and_rolls():
    reset()
    obj = rb.build_vrm()
    assert _parents_of(obj) == _vrm_parents()
    pos = _check_common(obj, "vrm")
    assert tuple(obj.scale) == pytest.approx((1.0,) * 3) and obj["rig_world_units_per_metre"] == 1.0
    assert obj.data.bones["head"].tail_local.z == pytest.approx(1.50, abs=1e-5)
    assert pos["pelvis"][2] == pytest.approx(0.80, abs=1e-5)
    assert pos["left_hip"][2] == pytest.approx(0.74, abs=1e-5)
    assert rb.floor_height(obj) == pytest.approx(0.0, abs=1e-6)
    _check_points_at_children(obj, {"hips": "spine", "upperChest": "neck"})
    for name, want in (("leftUpperArm", (1, 0, 0)), ("leftLowerArm", (1, 0, 0)), ("rightHand", (-1, 0, 0))):
        np.testing.assert_allclose(_rest_dir(obj, name), want, atol=1e-6)
    np.testing.assert_allclose(_rest_z_axis(obj, "leftUpperArm"), (0, 0, 1), atol=1e-6)  # roll 0
    np.testing.assert_allclose(_rest_z_axis(obj, "spine"), (0, -1, 0), atol=1e-6)
    np.testing.assert_allclose(_rest_z_axis(obj, "leftLowerLeg"), (0, 1, 0), atol=5e-2)


# ---------------------------------------------------------------------------------------------- Rigify

def test_rigify_rig_def_bones_fk_controls_and_ik_fk_switch():
    reset()
    rig = rb.build_rigify()
    print(f"rigify_generate: {rb.last_rigify_generate_seconds:.2f} s")
    assert rb.last_rigify_generate_seconds < 5.0
    assert rig.type == "ARMATURE" and rig.mode == "OBJECT" and rig.name in bpy.context.scene.objects
    assert not [o for o in bpy.data.objects if o.type == "ARMATURE" and o is not rig]  # metarig deleted
    assert not any(b.name.startswith(("DEF-lip", "DEF-jaw", "DEF-forehead")) for b in rig.data.bones)  # no face
    bones = rig.data.bones
    defs = [b.name for b in bones if b.name.startswith("DEF-")]
    for n in ("DEF-spine", "DEF-spine.003", "DEF-spine.006", "DEF-thigh.L", "DEF-shin.R", "DEF-foot.L",
              "DEF-toe.R", "DEF-upper_arm.L", "DEF-forearm.R", "DEF-hand.L", "DEF-shoulder.R"):
        assert n in defs and bones[n].use_deform, n
    for j, ctrl in rb.RIGIFY_FK_CONTROLS.items():
        assert ctrl in bones and not bones[ctrl].use_deform, (j, ctrl)
    for n in ("hips", "chest", "torso", "spine_fk", "thigh_ik.L", "foot_ik.R", "hand_ik.L", "root"):
        assert n in bones, n
    pos = _check_common(rig, "rigify")
    assert pos["pelvis"][2] == pytest.approx(1.01, abs=0.02)
    assert rb.floor_height(rig) == pytest.approx(0.017, abs=0.005)  # DEF-toe heads; the heels touch z = 0
    # the IK/FK switch: 1.0 = FK (thigh_fk drives DEF-thigh), 0.0 = IK (the default)
    for limb, (holder, prop) in rb.RIGIFY_IK_FK_SWITCHES.items():
        assert rig.pose.bones[holder][prop] == pytest.approx(0.0), limb
    fk, deform = ("thigh_fk.L", "DEF-thigh.L")
    rest = rb.bone_world_direction(rig, deform, 1)
    pb = rig.pose.bones[fk]
    pb.rotation_mode = "XYZ"
    pb.rotation_euler = (math.radians(60.0), 0.0, 0.0)
    np.testing.assert_allclose(rb.bone_world_direction(rig, deform, 1), rest, atol=1e-5)  # IK: ignored
    rig.pose.bones["thigh_parent.L"]["IK_FK"] = 1.0
    moved = rb.bone_world_direction(rig, deform, 1)
    assert math.degrees(math.acos(np.clip(moved @ rest, -1, 1))) == pytest.approx(60.0, abs=1.0)


# ---------------------------------------------------------------------------------------------- helpers

def test_pose_helpers_follow_keys_and_object_scale():
    reset()
    vrm = rb.build_vrm()
    pb = vrm.pose.bones["leftUpperArm"]
    pb.rotation_mode = "QUATERNION"
    pb.keyframe_insert("rotation_quaternion", frame=1)
    pb.rotation_quaternion = (math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0)  # +90 deg about local X
    pb.keyframe_insert("rotation_quaternion", frame=10)
    np.testing.assert_allclose(rb.bone_world_direction(vrm, "leftLowerArm", 1), (1, 0, 0), atol=1e-6)
    np.testing.assert_allclose(rb.bone_world_direction(vrm, "leftLowerArm", 10), (0, 0, 1), atol=1e-6)
    np.testing.assert_allclose(rb.bone_world_head(vrm, "leftLowerArm", 10), (0.11, 0, 1.18 + 0.23), atol=1e-5)
    np.testing.assert_allclose(rb.bone_world_head(vrm, "leftLowerArm", 1), (0.34, 0, 1.18), atol=1e-5)

    mix = rb.build_mixamo()
    mix.location = (0.0, 0.0, 0.0)
    mix.keyframe_insert("location", frame=1)
    mix.location = (1.0, 2.0, 0.5)
    mix.keyframe_insert("location", frame=5)
    np.testing.assert_allclose(rb.bone_world_head(mix, "mixamorig:Hips", 5), (1.0, 2.0, 1.5), atol=1e-5)
    np.testing.assert_allclose(rb.bone_world_head(mix, "mixamorig:Hips", 1), (0.0, 0.0, 1.0), atol=1e-5)
    np.testing.assert_allclose(rb.bone_world_direction(mix, "mixamorig:LeftLeg", 5),
                               _rest_dir(mix, "mixamorig:LeftLeg"), atol=1e-6)
    bpy.context.scene.frame_set(1)
    assert rb.floor_height(mix) == pytest.approx(0.0, abs=1e-6)  # rest heads, object at frame 1
    assert rb.floor_height(mix, ["mixamorig:LeftFoot"]) == pytest.approx(0.08, abs=1e-5)
    got = rb.rest_joint_positions(mix, {"x": "mixamorig:RightHand"})
    np.testing.assert_allclose(got["x"], (-0.72, 0.0, 1.45), atol=1e-5)


def test_builders_repeat_in_one_session_and_reset_clears_them():
    reset()
    built = [f() for f in (rb.build_mixamo, rb.build_ue5, rb.build_vrm, rb.build_rigify) for _ in range(2)]
    names = [o.name for o in built]
    assert len(set(names)) == len(names), names
    assert len({o.data.name for o in built}) == len(built)
    for o in built:
        assert o.name in bpy.context.scene.objects and o.mode == "OBJECT"
        assert all(b in o.data.bones for b in rb.smplx_joint_map(o).values())
    assert sum(len(o.data.bones) for o in built[:2]) == 2 * len(_mixamo_parents())
    assert sum(len(o.data.bones) for o in built[4:6]) == 2 * len(_vrm_parents())
    reset()
    assert len(bpy.data.objects) == 0 and len(bpy.data.armatures) == 0 and len(bpy.data.collections) == 0
