"""Bone maps: presets on full name lists of real rigs, chain distribution, detection, TOML maps
and their errors; and one generated Rigify rig in Blender (skipped without bpy)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from motionprompt.body import bonemap as bm
from motionprompt.body.bonemap import BoneMap, Slot
from motionprompt.body.skeleton import JOINT_NAMES, NUM_BODY_JOINTS

J = {name: j for j, name in enumerate(JOINT_NAMES)}
BODY = set(range(NUM_BODY_JOINTS))
FINGERS = set(range(25, 55))

# ---------------------------------------------------------------------------------------------
# Full bone lists of each kind of rig, with the bones no preset maps (tips, twists, IK, helpers).


def _sides(names_l, left, right):
    return list(names_l) + [n.replace(left, right, 1) for n in names_l if left in n]


def mixamo_names(prefix: str = "mixamorig:") -> list[str]:
    fingers = [f"LeftHand{f}{k}" for f in ("Thumb", "Index", "Middle", "Ring", "Pinky") for k in (1, 2, 3, 4)]
    left = ["LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", *fingers,
            "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToe_End", "LeftEye"]
    core = ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End"]
    return [prefix + n for n in core + _sides(left, "Left", "Right")]


def ue5_names() -> list[str]:
    fingers = [f"{f}_metacarpal_l" for f in ("index", "middle", "ring", "pinky")]
    fingers += [f"{f}_0{k}_l" for f in ("thumb", "index", "middle", "ring", "pinky") for k in (1, 2, 3)]
    left = ["clavicle_l", "upperarm_l", "upperarm_twist_01_l", "upperarm_twist_02_l", "lowerarm_l",
            "lowerarm_twist_01_l", "lowerarm_twist_02_l", "hand_l", *fingers, "thigh_l", "thigh_twist_01_l",
            "thigh_twist_02_l", "calf_l", "calf_twist_01_l", "calf_twist_02_l", "foot_l", "ball_l",
            "ik_foot_l", "ik_hand_l"]
    core = ["root", "pelvis", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05", "neck_01", "neck_02",
            "head", "ik_foot_root", "ik_hand_root", "ik_hand_gun", "interaction", "center_of_mass"]
    return core + _sides(left, "_l", "_r")


def ue4_names() -> list[str]:
    fingers = [f"{f}_0{k}_l" for f in ("thumb", "index", "middle", "ring", "pinky") for k in (1, 2, 3)]
    left = ["clavicle_l", "upperarm_l", "lowerarm_l", "hand_l", *fingers, "lowerarm_twist_01_l",
            "upperarm_twist_01_l", "thigh_l", "calf_l", "calf_twist_01_l", "foot_l", "ball_l",
            "thigh_twist_01_l", "ik_foot_l", "ik_hand_l"]
    core = ["root", "pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head",
            "ik_foot_root", "ik_hand_root", "ik_hand_gun"]
    return core + _sides(left, "_l", "_r")


def rigify_names() -> list[str]:
    """The controls and a sample of the ORG/DEF/MCH/tweak/IK bones of a generated Rigify rig
    (names as Blender 5.0's Rigify generates them from the human metarig)."""
    core = ["root", "MCH-torso.parent", "torso", "hips", "chest", "spine_fk", "spine_fk.001", "spine_fk.002",
            "spine_fk.003", "MCH-spine", "MCH-spine.001", "MCH-spine.002", "MCH-spine.003", "tweak_spine",
            "tweak_spine.001", "tweak_spine.002", "tweak_spine.003", "tweak_spine.004", "tweak_spine.005",
            "MCH-ROT-neck", "neck", "MCH-ROT-head", "head", "jaw_master", "eyes", "eye.L",
            *[f"ORG-spine.00{k}" for k in range(1, 7)], "ORG-spine", *[f"DEF-spine.00{k}" for k in range(1, 7)],
            "DEF-spine"]
    finger_ctl = [f"{f}.0{k}.L" for f in ("thumb", "f_index", "f_middle", "f_ring", "f_pinky") for k in (1, 2, 3)]
    finger_etc = [f"{f}.01_master.L" for f in ("thumb", "f_index", "f_middle", "f_ring", "f_pinky")]
    finger_etc += [f"{f}.01.L.001" for f in ("thumb", "f_index", "f_middle", "f_ring", "f_pinky")]
    left = ["shoulder.L", "ORG-shoulder.L", "DEF-shoulder.L", "upper_arm_parent.L", "MCH-upper_arm_parent.L",
            "upper_arm_fk.L", "forearm_fk.L", "MCH-hand_fk.L", "hand_fk.L", "upper_arm_ik.L", "hand_ik.L",
            "upper_arm_ik_target.L", "upper_arm_tweak.L", "forearm_tweak.L", "hand_tweak.L",
            "ORG-upper_arm.L", "ORG-forearm.L", "ORG-hand.L", "DEF-upper_arm.L", "DEF-forearm.L", "DEF-hand.L",
            "palm.L", "ORG-palm.01.L", *finger_ctl, *finger_etc,
            "thigh_parent.L", "MCH-thigh_parent.L", "thigh_fk.L", "shin_fk.L", "MCH-foot_fk.L", "foot_fk.L",
            "MCH-toe_fk.L", "toe_fk.L", "thigh_ik.L", "foot_ik.L", "foot_spin_ik.L", "foot_heel_ik.L", "toe_ik.L",
            "thigh_ik_target.L", "ORG-thigh.L", "ORG-shin.L", "ORG-foot.L", "ORG-toe.L", "DEF-thigh.L",
            "DEF-shin.L", "DEF-foot.L", "DEF-toe.L", "breast.L", "ORG-pelvis.L", "DEF-pelvis.L"]
    return core + _sides(left, ".L", ".R")


def vrm_names(version: str = "0") -> list[str]:
    if version == "0":
        thumb = ["leftThumbProximal", "leftThumbIntermediate", "leftThumbDistal"]
    else:
        thumb = ["leftThumbMetacarpal", "leftThumbProximal", "leftThumbDistal"]
    fingers = thumb + [f"left{f}{p}" for f in ("Index", "Middle", "Ring", "Little")
                       for p in ("Proximal", "Intermediate", "Distal")]
    left = ["leftShoulder", "leftUpperArm", "leftLowerArm", "leftHand", *fingers,
            "leftUpperLeg", "leftLowerLeg", "leftFoot", "leftToes", "leftEye"]
    core = ["hips", "spine", "chest", "upperChest", "neck", "head", "jaw"]
    return core + _sides(left, "left", "right")


def vroid_names() -> list[str]:
    fingers = [f"J_Bip_L_{f}{k}" for f in ("Thumb", "Index", "Middle", "Ring", "Little") for k in (1, 2, 3)]
    left = ["J_Bip_L_Shoulder", "J_Bip_L_UpperArm", "J_Bip_L_LowerArm", "J_Bip_L_Hand", *fingers,
            "J_Bip_L_UpperLeg", "J_Bip_L_LowerLeg", "J_Bip_L_Foot", "J_Bip_L_ToeBase", "J_Adj_L_FaceEye",
            "J_Sec_L_Bust1", "J_Sec_L_Bust2"]
    core = ["Root", "J_Bip_C_Hips", "J_Bip_C_Spine", "J_Bip_C_Chest", "J_Bip_C_UpperChest", "J_Bip_C_Neck",
            "J_Bip_C_Head", "J_Sec_Hair1_01", "J_Sec_Hair2_01"]
    return core + _sides(left, "_L_", "_R_")


def smplx_names() -> list[str]:
    return ["root", *JOINT_NAMES]


RIGS = {  # name list -> the preset it is
    "smplx": (smplx_names, "smplx"),
    "mixamo": (mixamo_names, "mixamo"),
    "ue5": (ue5_names, "ue5"),
    "ue4": (ue4_names, "ue4"),
    "rigify": (rigify_names, "rigify"),
    "vrm0": (vrm_names, "vrm"),
    "vrm1": (lambda: vrm_names("1"), "vrm"),
    "vroid": (vroid_names, "vrm"),
}


# ---------------------------------------------------------------------------------------------
# Presets


@pytest.mark.parametrize("rig", list(RIGS))
def test_each_preset_maps_every_body_joint_and_the_fingers_of_its_own_rig(rig):
    names_of, preset = RIGS[rig]
    names = names_of()
    m = bm.resolve(preset, names)
    assert m.name == preset and m.label == preset
    assert m.coverage() == "22 of 22 joints mapped"
    assert FINGERS <= m.joints()
    assert set(m.slots) <= set(names)
    assert m.pelvis is not None and m.slots[m.pelvis] == Slot(0)
    # slots come parents first
    order = [s.joint for s in m.slots.values()]
    assert order == sorted(order)


def test_named_bones_of_each_preset():
    mix = bm.resolve("mixamo", mixamo_names())
    assert mix.slots["mixamorig:LeftArm"] == Slot(J["left_shoulder"])
    assert mix.slots["mixamorig:RightToeBase"] == Slot(J["right_foot"])
    assert mix.slots["mixamorig:RightHandPinky3"] == Slot(J["right_pinky3"])
    assert "mixamorig:LeftHandIndex4" not in mix.slots and mix.root is None

    ue = bm.resolve("ue5", ue5_names())
    assert ue.slots["clavicle_r"] == Slot(J["right_collar"]) and ue.slots["ball_l"] == Slot(J["left_foot"])
    assert ue.slots["thumb_01_l"] == Slot(J["left_thumb1"]) and "index_metacarpal_l" not in ue.slots
    assert "upperarm_twist_01_l" not in ue.slots

    rg = bm.resolve("rigify", rigify_names())
    assert rg.bones_for("pelvis") == ["torso", "spine_fk"] and rg.pelvis == "torso"
    assert rg.slots["spine_fk.001"] == Slot(J["spine1"]) and rg.slots["spine_fk.003"] == Slot(J["spine3"])
    assert rg.slots["shoulder.R"] == Slot(J["right_collar"]) and rg.slots["toe_fk.L"] == Slot(J["left_foot"])
    assert rg.slots["f_pinky.02.R"] == Slot(J["right_pinky2"]) and rg.slots["thumb.01.L"] == Slot(J["left_thumb1"])
    assert not any(b.startswith(("ORG-", "DEF-", "MCH-")) or "_ik" in b for b in rg.slots)
    assert rg.root == "root" and "hips" not in rg.slots and "chest" not in rg.slots

    sm = bm.resolve("smplx", ["root", "m_avg_Pelvis", "m_avg_L_Hip", "jaw"])
    assert sm.slots == {"m_avg_Pelvis": Slot(0), "m_avg_L_Hip": Slot(1), "jaw": Slot(22)} and sm.root == "root"
    assert bm.resolve("smplx", smplx_names()).coverage(55) == "55 of 55 joints mapped"


def test_ue5_root_is_the_root_motion_bone_not_a_joint():
    for names in (ue5_names(), ue4_names()):
        m = bm.resolve("ue5", names)
        assert m.root == "root" and "root" not in m.slots and m.pelvis == "pelvis"
        assert m.coverage() == "22 of 22 joints mapped"


@pytest.mark.parametrize("prefix", ["mixamorig:", "mixamorig1:", "mixamorig2:", "mixamorig12:", "mixamorig_",
                                    "MIXAMORIG:", ""])
def test_mixamo_any_numbered_prefix_or_none(prefix):
    names = mixamo_names(prefix)
    m = bm.resolve("mixamo", names)
    assert m.coverage() == "22 of 22 joints mapped" and FINGERS <= m.joints()
    assert m.pelvis == prefix + "Hips"
    assert bm.detect(names)[0] == "mixamo"


def test_mixamo_names_themselves_are_case_sensitive():
    assert bm.resolve("mixamo", ["mixamorig:hips", "mixamorig:leftarm"]).slots == {}
    assert bm.resolve("mixamo", ["othermixamorig:Hips"]).slots == {}  # the prefix starts the name


def test_ue_is_case_insensitive_rigify_is_exact():
    assert bm.resolve("ue5", ["Pelvis", "Thigh_L"]).slots == {"Pelvis": Slot(0), "Thigh_L": Slot(1)}
    assert bm.resolve("rigify", ["Torso", "thigh_fk.l", "thigh_fk_L", "thigh_fk.L"]).slots == {"thigh_fk.L": Slot(1)}


def test_vrm_versions_vroid_and_unity_spelling():
    v0 = bm.resolve("vrm", vrm_names("0"))
    assert [v0.slots[f"leftThumb{p}"] for p in ("Proximal", "Intermediate", "Distal")] == \
        [Slot(J["left_thumb1"]), Slot(J["left_thumb2"]), Slot(J["left_thumb3"])]
    v1 = bm.resolve("vrm", vrm_names("1"))
    assert [v1.slots[f"leftThumb{p}"] for p in ("Metacarpal", "Proximal", "Distal")] == \
        [Slot(J["left_thumb1"]), Slot(J["left_thumb2"]), Slot(J["left_thumb3"])]
    vr = bm.resolve("vrm", vroid_names())
    assert vr.slots["J_Bip_C_UpperChest"] == Slot(J["spine3"]) and vr.slots["J_Bip_R_ToeBase"] == Slot(J["right_foot"])
    assert vr.slots["J_Bip_L_Little1"] == Slot(J["left_pinky1"]) and vr.slots["J_Bip_R_Thumb3"] == Slot(J["right_thumb3"])
    assert "J_Adj_L_FaceEye" not in vr.slots and vr.root is None
    unity = [n[0].upper() + n[1:] for n in vrm_names("0")]  # Hips, LeftUpperArm, ...
    assert bm.resolve("vrm", unity).coverage() == "22 of 22 joints mapped"
    # upperChest is optional: spine and chest spread over the three spine joints
    no_upper = bm.resolve("vrm", [n for n in vrm_names() if n != "upperChest"])
    assert no_upper.slots["spine"] == Slot(J["spine1"]) and no_upper.slots["chest"] == Slot(J["spine3"])
    assert no_upper.coverage() == "21 of 22 joints mapped; unmapped: spine2"


# ---------------------------------------------------------------------------------------------
# Chains


def test_chain_distribution_rule():
    spine = ["spine1", "spine2", "spine3"]
    s1, s2, s3 = J["spine1"], J["spine2"], J["spine3"]
    five = bm.distribute(["a", "b", "c", "d", "e"], spine)
    assert list(five.values()) == [Slot(s1), Slot(s1, s2, 0.5), Slot(s2), Slot(s2, s3, 0.5), Slot(s3)]
    assert bm.distribute(["a", "b", "c"], spine) == {"a": Slot(s1), "b": Slot(s2), "c": Slot(s3)}
    assert bm.distribute(["a", "b"], spine) == {"a": Slot(s1), "b": Slot(s3)}
    assert bm.distribute(["a"], spine) == {"a": Slot(s1)}
    four = list(bm.distribute(["a", "b", "c", "d"], spine).values())
    assert four[1].joint == s1 and four[1].toward == s2 and math.isclose(four[1].t, 2 / 3)
    assert four[2].joint == s2 and four[2].toward == s3 and math.isclose(four[2].t, 1 / 3)
    assert bm.distribute(["n1", "n2"], ["neck"]) == {"n1": Slot(J["neck"]), "n2": Slot(J["neck"])}
    assert bm.distribute([], spine) == {}
    with pytest.raises(ValueError, match="repeat"):
        bm.distribute(["a", "a"], spine)


def test_ue5_spine_and_neck_are_distributed_over_the_bones_present():
    m = bm.resolve("ue5", ue5_names())
    s1, s2, s3 = J["spine1"], J["spine2"], J["spine3"]
    assert [m.slots[f"spine_0{k}"] for k in range(1, 6)] == \
        [Slot(s1), Slot(s1, s2, 0.5), Slot(s2), Slot(s2, s3, 0.5), Slot(s3)]
    assert m.slots["neck_01"] == m.slots["neck_02"] == Slot(J["neck"])
    four = bm.resolve("ue5", [n for n in ue5_names() if n != "spine_03"])
    assert four.slots["spine_01"] == Slot(s1) and four.slots["spine_05"] == Slot(s3)
    assert four.slots["spine_02"].toward == s2 and math.isclose(four.slots["spine_02"].t, 2 / 3)
    ue4 = bm.resolve("ue4", ue4_names())
    assert [ue4.slots[f"spine_0{k}"] for k in (1, 2, 3)] == [Slot(s1), Slot(s2), Slot(s3)]
    assert ue4.slots["neck_01"] == Slot(J["neck"])


def test_slot_normalises_and_validates():
    assert Slot(3) == Slot(3, 3, 0.0) == Slot(3, 6, 0.0) == Slot("Spine1")
    assert Slot(3, 6, 1.0) == Slot(6)
    assert Slot(3, 6, 0.25).one_to_one is False and str(Slot(3, 6, 0.25)) == "spine1->spine2@0.25"
    assert str(Slot(0)) == "pelvis"
    assert Slot(3, 6, 0.25) == (3, 6, 0.25) and tuple(Slot("neck")) == (12, 12, 0.0)  # a plain tuple too
    assert repr(Slot(3)) == "Slot(joint=3, toward=3, t=0.0)"
    for bad in (dict(joint=55), dict(joint=-1), dict(joint="pelvsi"), dict(joint=3, toward=6, t=1.5),
                dict(joint=True)):
        with pytest.raises(ValueError):
            Slot(**bad)


# ---------------------------------------------------------------------------------------------
# Coverage and detection


def test_coverage_strings():
    slots = {JOINT_NAMES[j]: Slot(j) for j in range(22) if j not in (9, 13, 14)}
    m = BoneMap(name="x", slots=slots)
    assert m.coverage() == "19 of 22 joints mapped; unmapped: spine3, left_collar, right_collar"
    assert m.unmapped() == [9, 13, 14]
    full = BoneMap(name="y", slots={JOINT_NAMES[j]: Slot(j) for j in range(22)})
    assert full.coverage() == "22 of 22 joints mapped"
    # a fractional slot covers both of its joints
    assert BoneMap(name="z", slots={"a": Slot(3, 6, 0.5)}).joints() == {3, 6}
    mix = bm.resolve("mixamo", mixamo_names())
    assert mix.coverage(55) == "52 of 55 joints mapped; unmapped: jaw, left_eye_smplhf, right_eye_smplhf"
    assert mix.joint_bones()[0] == "mixamorig:Hips" and len(mix.joint_bones()) == 52


@pytest.mark.parametrize("rig", list(RIGS))
def test_auto_picks_the_rigs_own_preset_and_no_other_fits_as_well(rig):
    names_of, preset = RIGS[rig]
    names = names_of()
    got, m = bm.detect(names)
    assert got == preset and m.name == preset
    own = len(m.joints() & BODY)
    family = {"ue4", "ue5"} if preset in ("ue4", "ue5") else {preset}  # ue4 and ue5 share a table
    for other in bm.PRESET_NAMES:
        if other in family:
            continue
        assert len(bm.resolve(other, names).joints() & BODY) < own, other
    assert bm.resolve_map("auto", names).slots == m.slots


def test_auto_order_and_failure():
    # nothing recognisable: a clear error
    with pytest.raises(ValueError, match="TOML bone map"):
        bm.detect(["Bone", "Bone.001", "Cube"])
    # ties go to the earlier preset: "head" alone is smplx's as much as ue's
    assert bm.detect(["head"])[0] == "smplx"


# ---------------------------------------------------------------------------------------------
# TOML maps


EXAMPLE = '''name = "my rig"
root = "CC_Base_BoneRoot"
[bones]
"CC_Base_Hip" = "pelvis"
"CC_Base_L_Thigh" = "left_hip"
"CC_Base_NeckTwist02" = { joint = "neck" }
"CC_Base_NeckTwist01" = "Neck"
[chains]
spine = { bones = ["s1", "s2", "s3", "s4"], joints = ["spine1", "spine2", "spine3"] }
'''
EXAMPLE_BONES = ["CC_Base_BoneRoot", "CC_Base_Hip", "CC_Base_L_Thigh", "CC_Base_NeckTwist01",
                 "CC_Base_NeckTwist02", "s1", "s2", "s3", "s4", "extra"]


def _write(tmp_path: Path, text: str, name: str = "map.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_load_map_example(tmp_path):
    path = _write(tmp_path, EXAMPLE)
    m = bm.load_map(path, EXAMPLE_BONES)
    assert m.name == str(path) and m.label == "my rig" and m.root == "CC_Base_BoneRoot" and m.warnings == ()
    s1, s2, s3 = J["spine1"], J["spine2"], J["spine3"]
    assert m.slots["s1"] == Slot(s1) and m.slots["s4"] == Slot(s3)
    assert m.slots["s2"].toward == s2 and math.isclose(m.slots["s2"].t, 2 / 3)
    assert m.bones_for("neck") == ["CC_Base_NeckTwist01", "CC_Base_NeckTwist02"]  # the plain line first
    assert m.coverage() == "6 of 22 joints mapped; unmapped: right_hip, left_knee, right_knee, left_ankle, " \
                           "right_ankle, left_foot, right_foot, left_collar, right_collar, head, left_shoulder, " \
                           "right_shoulder, left_elbow, right_elbow, left_wrist, right_wrist"
    assert bm.resolve_map(str(path), EXAMPLE_BONES).slots == m.slots
    assert bm.resolve_map(path, EXAMPLE_BONES).slots == m.slots
    assert bm.load_map(path).slots == m.slots  # no armature: nothing to check against


@pytest.mark.parametrize("rig", list(RIGS))
def test_write_map_round_trip(tmp_path, rig):
    names_of, preset = RIGS[rig]
    names = names_of()
    m = bm.resolve(preset, names)
    path = bm.write_map(m, tmp_path / f"{rig}.toml")
    back = bm.load_map(path, names, strict=True)
    assert back.slots == m.slots and list(back.slots) == list(m.slots)
    assert back.root == m.root and back.label == m.label and back.pelvis == m.pelvis


def test_write_map_escapes_and_fractions(tmp_path):
    odd = 'a "quoted" \\ bone\tä'
    m = BoneMap(name="n", slots={odd: Slot(0), "x": Slot(3, 6, 2 / 3), "y": Slot(0)}, root="top", label="odd \"rig\"")
    back = bm.load_map(bm.write_map(m, tmp_path / "odd.toml"))
    assert back.slots == m.slots and back.root == "top" and back.label == 'odd "rig"'
    assert back.slots["x"].t == 2 / 3
    with pytest.raises(ValueError, match=r"\.toml suffix"):
        bm.write_map(m, tmp_path / "odd.txt")


def _error(tmp_path, text, bones=EXAMPLE_BONES, **kw) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as e:
        bm.load_map(path, bones, **kw)
    msg = str(e.value)
    assert str(path) in msg
    return msg


def test_error_bad_toml(tmp_path):
    msg = _error(tmp_path, "[bones]\nCC Base Hip = pelvis\n")
    assert "not a valid TOML" in msg and "quote bone names" in msg


def test_error_unknown_joint(tmp_path):
    msg = _error(tmp_path, '[bones]\n"CC_Base_Hip" = "pelvsi"\n')
    assert "[bones] 'CC_Base_Hip'" in msg and "unknown SMPL-X joint 'pelvsi'" in msg
    assert "did you mean 'pelvis'" in msg and "joint names are pelvis, left_hip" in msg
    msg = _error(tmp_path, '[chains]\nspine = { bones = ["s1"], joints = ["spine4"] }\n')
    assert "[chains] 'spine'.joints" in msg and "'spine4'" in msg


def test_error_joint_mapped_twice(tmp_path):
    msg = _error(tmp_path, '[bones]\n"CC_Base_Hip" = "left_hip"\n"CC_Base_L_Thigh" = "left_hip"\n')
    assert "[bones] 'CC_Base_L_Thigh'" in msg and "already mapped by [bones] 'CC_Base_Hip'" in msg
    assert "map each joint once" in msg and '{ joint = "left_hip" }' in msg
    msg = _error(tmp_path, '[bones]\n"s1" = "spine2"\n[chains]\nspine = { bones = ["s2", "s3"], '
                           'joints = ["spine1", "spine2"] }\n')
    assert "[chains] 'spine'" in msg and "spine2 is already mapped by [bones] 's1'" in msg


def test_error_bone_mapped_twice_and_bad_chains(tmp_path):
    msg = _error(tmp_path, '[bones]\n"s1" = "pelvis"\n[chains]\nspine = { bones = ["s1", "s2"], '
                           'joints = ["spine1", "spine2"] }\n')
    assert "bone 's1' is already mapped by [bones] 's1'" in msg
    msg = _error(tmp_path, '[chains]\nleg = { bones = ["s1", "s2"], joints = ["left_hip", "left_ankle"] }\n')
    assert "left_ankle is not a child of left_hip" in msg and "parent to child" in msg
    msg = _error(tmp_path, '[chains]\nleg = { bones = ["s1"] }\n')
    assert "missing: ['joints']" in msg
    msg = _error(tmp_path, '[bones]\n"s1" = { joint = "spine1", toward = "spine2", t = 1.5 }\n')
    assert "[bones] 's1'.t" in msg and "from 0 to 1" in msg
    msg = _error(tmp_path, '[bones]\n"s1" = { joint = "spine1", toward = "spine2" }\n')
    assert "toward without t" in msg
    msg = _error(tmp_path, '[bones]\nshoulder.L = "left_collar"\n')
    assert "[bones] 'shoulder.L': a bone name with a dot must be quoted" in msg and '"shoulder.L" =' in msg
    msg = _error(tmp_path, '[bone]\n"s1" = "pelvis"\n')
    assert "'bone': unknown key" in msg and "[bones]" in msg
    msg = _error(tmp_path, 'name = "empty"\n')
    assert "maps no bones" in msg
    msg = _error(tmp_path, 'root = "s1"\n[bones]\n"s1" = "pelvis"\n')
    assert "root" in msg and "follows no joint" in msg


def test_missing_bones_warn_by_default_and_fail_when_strict(tmp_path):
    bones = [b for b in EXAMPLE_BONES if b not in ("CC_Base_L_Thigh", "s3")]
    m = bm.load_map(_write(tmp_path, EXAMPLE), bones)
    assert "CC_Base_L_Thigh" not in m.slots and len(m.warnings) == 2
    assert "[bones] 'CC_Base_L_Thigh': the armature has no bone 'CC_Base_L_Thigh'" in m.warnings[0]
    assert "[chains] 'spine'" in m.warnings[1]
    # the chain spreads over the three bones present
    assert [m.slots[b] for b in ("s1", "s2", "s4")] == [Slot(J["spine1"]), Slot(J["spine2"]), Slot(J["spine3"])]
    msg = _error(tmp_path, EXAMPLE, bones=bones, strict=True)
    assert "[bones] 'CC_Base_L_Thigh': the armature has no bone" in msg and "rename it" in msg
    msg = _error(tmp_path, EXAMPLE, bones=["Hips", "Spine"])
    assert "none of the map's" in msg and "another rig" in msg
    with pytest.raises(FileNotFoundError, match="no such bone-map file"):
        bm.load_map(tmp_path / "nope.toml", bones)


def test_resolve_map_specs():
    names = mixamo_names()
    assert bm.resolve_map("mixamo", names).name == "mixamo"
    assert bm.resolve_map("Mixamo", names).name == "mixamo"
    assert bm.resolve_map("auto", ue4_names()).name == "ue4"
    with pytest.raises(ValueError) as e:
        bm.resolve_map("blender", names)
    assert "'auto'" in str(e.value) and "smplx, mixamo, ue5, ue4, rigify, vrm" in str(e.value) and ".toml" in str(e.value)
    with pytest.raises(ValueError, match="unknown bone-map preset 'maya'.*mixamo"):
        bm.resolve("maya", names)


def test_preset_tables_are_well_formed():
    for name, table in bm.PRESETS.items():
        assert set(table) == {"match", "root", "bones", "chains", "mirror"}, name
        for joint in table["bones"].values():
            bm.joint_index(joint)
    # every preset bone is mirrored onto the right side
    for name, (bones, chains) in bm._COMPILED.items():
        joints = [j for _, j in bones]
        assert len(joints) == len(bones)
        for side in ("left_", "right_"):
            assert sum(JOINT_NAMES[j].startswith(side) for j in joints) == \
                sum(JOINT_NAMES[j].startswith("left_") for j in joints), name
    assert set(bm.RIGIFY_FK_SWITCHES) == {"upper_arm_parent.L", "upper_arm_parent.R", "thigh_parent.L",
                                          "thigh_parent.R"}
    assert all(v == ("IK_FK", 1.0) for v in bm.RIGIFY_FK_SWITCHES.values())


def test_bonemap_imports_without_bpy_torch_or_scipy():
    code = ("import sys\nfor m in ('bpy', 'mathutils', 'torch', 'scipy'): sys.modules[m] = None\n"
            "import motionprompt.body.bonemap as b\nprint(b.resolve_map.__name__)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


# ---------------------------------------------------------------------------------------------
# A real Rigify rig


def test_generated_rigify_rig_is_detected_and_its_switches_select_fk():
    bpy = pytest.importorskip("bpy", reason="the Rigify test needs the bpy module (pip install bpy==5.0.1)")
    import addon_utils
    from mathutils import Quaternion

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    rig = bpy.data.objects["rig"]
    names = [b.name for b in rig.pose.bones]

    preset, m = bm.detect(names)
    assert preset == "rigify"
    assert m.coverage() == "22 of 22 joints mapped"
    assert m.coverage(55) == "52 of 55 joints mapped; unmapped: jaw, left_eye_smplhf, right_eye_smplhf"
    assert m.root == "root" and m.pelvis == "torso"
    assert len(m.slots) == 53  # torso and spine_fk on the pelvis, 21 more body controls, 30 finger controls
    pb = rig.pose.bones

    # The switches: present, 0.0 (IK) on a fresh rig, and FK at 1.0.
    for bone, (prop, fk) in bm.RIGIFY_FK_SWITCHES.items():
        assert pb[bone][prop] == 0.0
    for bone, prop, _ in bm.RIGIFY_FK_SETTINGS:
        assert prop in pb[bone].keys(), (bone, prop)

    def turn(control, deform):
        bpy.context.view_layer.update()
        before = pb[deform].matrix.to_quaternion()
        pb[control].rotation_quaternion = Quaternion((1.0, 0.0, 0.0), 0.7)
        bpy.context.view_layer.update()
        after = pb[deform].matrix.to_quaternion()
        pb[control].rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
        return math.degrees(before.rotation_difference(after).angle)

    assert turn("upper_arm_fk.L", "DEF-forearm.L") < 1e-3  # IK: the FK control does nothing
    for bone, (prop, fk) in bm.RIGIFY_FK_SWITCHES.items():
        pb[bone][prop] = fk
    for bone, prop, value in bm.RIGIFY_FK_SETTINGS:
        pb[bone][prop] = value
    assert abs(turn("upper_arm_fk.L", "DEF-forearm.L") - math.degrees(0.7)) < 0.01
    assert abs(turn("thigh_fk.R", "DEF-shin.R") - math.degrees(0.7)) < 0.01

    # With those settings every mapped control poses as plain FK below its mapped parent.
    def mapped_parent(bone):
        if bone in bm.RIGIFY_MAPPED_PARENTS:
            return bm.RIGIFY_MAPPED_PARENTS[bone]
        b = rig.data.bones[bone].parent
        while b is not None and b.name not in m.slots:
            b = b.parent
        return None if b is None else b.name

    for i, bone in enumerate(m.slots):
        pb[bone].rotation_mode = "QUATERNION"
        pb[bone].rotation_quaternion = Quaternion((math.sin(i), math.cos(2 * i), 0.5), 0.2 + 0.03 * (i % 10))
    bpy.context.view_layer.update()
    for bone in m.slots:
        parent = mapped_parent(bone)
        if parent is None:
            continue
        rest = rig.data.bones[parent].matrix_local.to_3x3().inverted() @ rig.data.bones[bone].matrix_local.to_3x3()
        expect = pb[parent].matrix.to_3x3() @ rest @ pb[bone].rotation_quaternion.to_matrix()
        err = math.degrees(expect.to_quaternion().rotation_difference(pb[bone].matrix.to_quaternion()).angle)
        assert err < 0.01, (bone, parent, err)
    assert bm.RIGIFY_HIPS_BONE in names and rig.data.bones["thigh_fk.L"].parent.parent.name == bm.RIGIFY_HIPS_BONE
