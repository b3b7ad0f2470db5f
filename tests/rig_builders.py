"""Third-party-style humanoid armatures built in the current bpy scene, for retargeting tests.

Every builder returns the armature OBJECT, linked to the scene collection, in OBJECT mode, at the
world origin, with no animation. Conventions shared by all of them:

* Blender world space: +Z up, the character faces -Y, its LEFT side is +X (SMPL-X's
  (x, y, z) maps to Blender (x, -z, y), so SMPL-X's left = +X as well).
* A Blender bone always lies along its own +Y axis (head -> tail); what differs between rigs is the
  ROLL, i.e. where the bone's X and Z axes point. The roll of every bone is documented below, either
  as Blender's ``EditBone.roll`` in degrees or as "Z axis towards V" (``EditBone.align_roll(V)``).
* The hand-made rigs (Mixamo, UE5, VRM) stand on the floor: the lowest foot/toe bone head (the ball
  of the foot) is at world z = 0 at rest. Every bone points from its joint to its child joint.
* Each hand-made rig carries three custom properties on the object: ``rig_kind`` ("mixamo", "ue5",
  "vrm"), ``rig_bone_prefix`` (the Mixamo prefix, else "") and ``rig_world_units_per_metre``
  (world units per metre once the object scale is applied: 1.0, or 100.0 for the UE5 rig in cm).
  ``smplx_joint_map(obj)`` reads them (Rigify rigs have ``rig_kind`` = "rigify").

The rigs at rest (heights are world z above the floor, metres, after the object scale):

=========  ======  =========================  ============  ===================  ============================
rig        height  pelvis / thigh joints      pose          units, object scale  rolls
=========  ======  =========================  ============  ===================  ============================
Mixamo     1.80    Hips 1.00 / UpLeg 0.92     T-pose        data cm, scale 0.01  Z to the front (Mixamo-like)
UE5        1.84    pelvis 1.03 / thigh 1.00   A-pose 45 deg data cm, scale 1.0   multiples of 90 deg (UE-like)
VRM        1.50    hips 0.80 / upperLeg 0.74  T-pose        metres, scale 1.0    0 (Blender's default)
Rigify     1.98    DEF-spine 1.01 / 1.07      arms ~30 deg  metres, scale 1.0    Rigify's own
=========  ======  =========================  ============  ===================  ============================

For comparison, the default SMPL-X skeleton (``motionprompt.body.skeleton``): pelvis 0.93 m above
the ankles (1.00 m above the balls of the feet), hip joint -> ankle 0.83 m, thigh 0.40 m, shin 0.43 m,
upper arm 0.28 m, forearm 0.28 m; its bones (blender_addon/armature.py) all point straight up, roll 0.
Leg length (thigh joint -> ankle): Mixamo 0.84 m, UE5 0.91 m (longer), VRM 0.675 m, Rigify 0.99 m.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
from blender_helpers import bpy

from mathutils import Vector

__all__ = [
    "BoneSpec",
    "build_mixamo",
    "build_ue5",
    "build_vrm",
    "build_rigify",
    "smplx_joint_map",
    "RIGIFY_FK_CONTROLS",
    "RIGIFY_IK_FK_SWITCHES",
    "rest_joint_positions",
    "floor_height",
    "bone_world_direction",
    "bone_world_head",
]

#: A roll: Blender's ``EditBone.roll`` in degrees, or a world direction the bone's Z axis turns to.
Roll = Union[float, tuple[float, float, float]]

FRONT = (0.0, -1.0, 0.0)  # the way every character faces
UP = (0.0, 0.0, 1.0)


@dataclass(frozen=True)
class BoneSpec:
    """One bone of a hand-made rig: rest head and tail in Blender world space, METRES (before any
    unit conversion or object scale), the parent bone's name, and the roll."""

    name: str
    head: tuple[float, float, float]
    tail: tuple[float, float, float]
    parent: str | None
    roll: Roll


# ----------------------------------------------------------------------------------------------
# The tables: chains of joint positions, the left side mirrored onto the right.
# ----------------------------------------------------------------------------------------------

def _chain(names: Sequence[str], points: Sequence[Sequence[float]], parent: str | None,
           rolls: Roll | Sequence[Roll]) -> list[BoneSpec]:
    """Bones along a polyline: bone i runs from points[i] to points[i + 1]; the first hangs from
    ``parent``, each next one from the previous. ``rolls``: one roll (a number or a direction
    tuple) for all, or a LIST of one per bone."""
    if len(points) != len(names) + 1:
        raise ValueError(f"{len(names)} bones need {len(names) + 1} points, got {len(points)}")
    if not isinstance(rolls, list):
        rolls = [rolls] * len(names)
    if len(rolls) != len(names):
        raise ValueError(f"{len(names)} bones, {len(rolls)} rolls")
    out = []
    for i, name in enumerate(names):
        out.append(BoneSpec(name, tuple(map(float, points[i])), tuple(map(float, points[i + 1])),
                            parent if i == 0 else names[i - 1], rolls[i]))
    return out


def _mirror(bones: Sequence[BoneSpec], rename) -> list[BoneSpec]:
    """The right side from the left: x -> -x, names through ``rename`` (centre names unchanged);
    a numeric roll is negated and a Z-axis direction mirrored, as Blender's Symmetrize does."""

    def flip(p):
        return (-p[0], p[1], p[2])

    out = []
    for b in bones:
        roll = -b.roll if isinstance(b.roll, (int, float)) else flip(b.roll)
        out.append(BoneSpec(rename(b.name), flip(b.head), flip(b.tail),
                            None if b.parent is None else rename(b.parent), roll))
    return out


def _mixamo_table(prefix: str) -> list[BoneSpec]:
    p = prefix
    spine = _chain(
        [p + n for n in ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End")],
        [(0, 0, 1.00), (0, 0, 1.10), (0, 0, 1.22), (0, 0, 1.35), (0, 0, 1.50), (0, -0.01, 1.60),
         (0, -0.01, 1.80), (0, -0.01, 1.85)],
        None, FRONT)
    arm = _chain(
        [p + n for n in ("LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand")],
        [(0.06, 0, 1.43), (0.19, 0, 1.45), (0.46, 0, 1.45), (0.72, 0, 1.45), (0.81, 0, 1.45)],
        p + "Spine2", FRONT)
    index = _chain(
        [p + n for n in ("LeftHandIndex1", "LeftHandIndex2", "LeftHandIndex3")],
        [(0.81, -0.025, 1.45), (0.85, -0.025, 1.45), (0.875, -0.025, 1.45), (0.895, -0.025, 1.45)],
        p + "LeftHand", FRONT)
    thumb = _chain(
        [p + n for n in ("LeftHandThumb1", "LeftHandThumb2", "LeftHandThumb3")],
        [(0.745, -0.025, 1.43), (0.775, -0.055, 1.42), (0.80, -0.075, 1.415), (0.82, -0.09, 1.41)],
        p + "LeftHand", UP)
    leg = _chain(
        [p + n for n in ("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToe_End")],
        [(0.09, 0, 0.92), (0.09, -0.005, 0.50), (0.09, 0.01, 0.08), (0.09, -0.11, 0.0), (0.09, -0.19, 0.0),
         (0.09, -0.24, 0.0)],
        p + "Hips", [FRONT, FRONT, UP, UP, UP])
    left = arm + index + thumb + leg
    return spine + left + _mirror(left, lambda n: n.replace("Left", "Right"))


def _ue5_table(a_pose_deg: float) -> list[BoneSpec]:
    a = math.radians(a_pose_deg)
    d = np.array([math.cos(a), 0.0, -math.sin(a)])  # the left arm's direction, down by a_pose_deg
    shoulder = np.array([0.17, 0.0, 1.47])
    elbow = shoulder + 0.29 * d
    wrist = elbow + 0.27 * d
    root = [BoneSpec("root", (0.0, 0.0, 0.0), (0.0, 0.25, 0.0), None, 0.0)]
    spine = _chain(
        ["pelvis", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05", "neck_01", "neck_02", "head"],
        [(0, 0, 1.03), (0, 0.005, 1.07), (0, 0.01, 1.15), (0, 0.01, 1.23), (0, 0.005, 1.31),
         (0, -0.005, 1.41), (0, -0.015, 1.53), (0, -0.02, 1.58), (0, -0.025, 1.63), (0, -0.025, 1.84)],
        "root", 90.0)
    arm = _chain(
        ["clavicle_l", "upperarm_l", "lowerarm_l", "hand_l"],
        [(0.03, -0.01, 1.47), shoulder, elbow, wrist, wrist + 0.10 * d],
        "spine_05", [90.0, 180.0, 180.0, -90.0])
    leg = _chain(
        ["thigh_l", "calf_l", "foot_l", "ball_l"],
        [(0.10, 0, 1.00), (0.10, -0.01, 0.54), (0.10, 0.02, 0.09), (0.10, -0.12, 0.0), (0.10, -0.18, 0.0)],
        "pelvis", [90.0, 90.0, 180.0, 180.0])
    left = arm + leg
    return root + spine + left + _mirror(left, lambda n: n[:-2] + "_r" if n.endswith("_l") else n)


def _vrm_table() -> list[BoneSpec]:
    spine = _chain(
        ["hips", "spine", "chest", "upperChest", "neck", "head"],
        [(0, 0, 0.80), (0, 0, 0.86), (0, 0, 0.96), (0, 0, 1.06), (0, 0, 1.20), (0, -0.005, 1.28),
         (0, -0.005, 1.50)],
        None, 0.0)
    arm = _chain(
        ["leftShoulder", "leftUpperArm", "leftLowerArm", "leftHand"],
        [(0.02, 0, 1.17), (0.11, 0, 1.18), (0.34, 0, 1.18), (0.56, 0, 1.18), (0.64, 0, 1.18)],
        "upperChest", 0.0)
    leg = _chain(
        ["leftUpperLeg", "leftLowerLeg", "leftFoot", "leftToes"],
        [(0.075, 0, 0.74), (0.075, -0.005, 0.41), (0.075, 0.01, 0.065), (0.075, -0.09, 0.0), (0.075, -0.13, 0.0)],
        "hips", 0.0)
    left = arm + leg
    return spine + left + _mirror(left, lambda n: "right" + n[4:] if n.startswith("left") else n)


# ----------------------------------------------------------------------------------------------
# The one internal builder.
# ----------------------------------------------------------------------------------------------

def _to_object_mode() -> None:
    obj = bpy.context.view_layer.objects.active
    if obj is not None and obj.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")


def _make_active(obj) -> None:
    vl = bpy.context.view_layer
    for o in vl.objects:
        if o is not None and o.select_get():  # None: an object just removed from bpy.data
            o.select_set(False)
    obj.select_set(True)
    vl.objects.active = obj


def _build_armature(name: str, bones: Sequence[BoneSpec], *, data_units_per_metre: float = 1.0,
                    object_scale: float = 1.0, kind: str = "", prefix: str = ""):
    """An armature object from a bone table (metres): edit-bone coordinates are the table's times
    ``data_units_per_metre``, the object is scaled by ``object_scale``. A bone is connected to its
    parent when its head sits on the parent's tail."""
    names = [b.name for b in bones]
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: duplicate bone names")
    for b in bones:
        if b.parent is not None and b.parent not in names:
            raise ValueError(f"{name}: {b.name}'s parent {b.parent} is not in the table")
    _to_object_mode()
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    _make_active(obj)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        ebs = arm.edit_bones
        k = float(data_units_per_metre)
        for b in bones:
            head, tail = Vector(b.head), Vector(b.tail)
            if (tail - head).length < 1e-6:
                raise ValueError(f"{name}: bone {b.name} has no length")
            eb = ebs.new(b.name)
            eb.head, eb.tail = head * k, tail * k
            if isinstance(b.roll, (int, float)):
                eb.roll = math.radians(b.roll)
            else:
                z = Vector(b.roll).normalized()
                if abs(z.dot((tail - head).normalized())) > 0.95:
                    raise ValueError(f"{name}: bone {b.name}'s Z-axis direction is along the bone")
                eb.align_roll(z)
        for b in bones:
            if b.parent is not None:
                eb, parent = ebs[b.name], ebs[b.parent]
                eb.parent = parent
                eb.use_connect = (parent.tail - eb.head).length < 1e-6 * max(k, 1.0)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    obj.scale = (object_scale,) * 3
    obj["rig_kind"] = kind
    obj["rig_bone_prefix"] = prefix
    obj["rig_world_units_per_metre"] = float(data_units_per_metre * object_scale)
    bpy.context.view_layer.update()
    return obj


# ----------------------------------------------------------------------------------------------
# The builders.
# ----------------------------------------------------------------------------------------------

def build_mixamo(prefix: str = "mixamorig:", object_scale: float = 0.01, name: str = "Mixamo"):
    """A Mixamo-style rig as a Mixamo FBX imports: armature data in CENTIMETRES (edit-bone
    coordinates = metres * 100), object scale ``object_scale`` (0.01: world = metres).

    Bones (names with ``prefix``): Hips -> Spine -> Spine1 -> Spine2 -> Neck -> Head -> HeadTop_End;
    Spine2 -> LeftShoulder -> LeftArm -> LeftForeArm -> LeftHand -> LeftHandIndex1..3 and
    LeftHandThumb1..3; Hips -> LeftUpLeg -> LeftLeg -> LeftFoot -> LeftToeBase -> LeftToe_End; the
    Right* side mirrored. HeadTop_End and LeftToe_End are Mixamo's end bones: their HEADS are the top
    of the head and the toe tip, their tails 5 cm further on.

    Rest (world metres, object scale 0.01): T-pose, 1.80 m tall (HeadTop_End head), Hips head at
    1.00, thigh joints (UpLeg heads) at 0.92 (x = +-0.09), knees 0.50, ankles (Foot heads) 0.08,
    balls of the feet (ToeBase heads) on the floor z = 0, 0.12 m ahead of the ankles; shoulders
    (Arm heads) at 1.45, x = +-0.19, arms exactly horizontal along +-X (upper arm 0.27, forearm
    0.26, hand 0.09). Thigh 0.42, shin 0.42 (SMPL-X: 0.40, 0.43).

    Rolls, Mixamo-like (Mixamo joints have Y along the bone and Z to the front, which a Blender FBX
    import without automatic bone orientation keeps): the Z axis of the spine, neck, head, arm,
    hand, index-finger and leg (UpLeg, Leg) bones points to the front (-Y); the Z axis of the thumb,
    Foot, ToeBase and Toe_End bones points up (+Z) as far as the bone allows. In Blender's numbers
    (``EditBone.roll``): spine, neck, head, toes 0; LeftArm/ForeArm/Hand/Index +90 (Right* -90),
    LeftShoulder +81.3; UpLeg, Leg, Foot 180 (both sides); LeftHandThumb1 +31.4.
    """
    return _build_armature(name, _mixamo_table(prefix), data_units_per_metre=100.0,
                           object_scale=object_scale, kind="mixamo", prefix=prefix)


def build_ue5(a_pose_deg: float = 45.0, units: str = "cm", roll_seed: int | None = None,
              name: str = "UE5_Mannequin"):
    """A UE5-mannequin-style rig.

    Units: ``units="cm"`` (default): armature data in centimetres AND object scale 1.0, so one
    Blender unit is one centimetre (world height 184 units): a rig as a UE user works with it in a
    centimetre scene (a raw UE5 FBX imported by Blender's FBX importer instead gets the Mixamo
    layout, cm data with object scale 0.01). ``units="m"``: data in metres, scale 1.0.
    ``obj["rig_world_units_per_metre"]`` is 100.0 or 1.0 accordingly.

    Bones: root (head at the origin, on the floor, tail 0.25 m behind, +Y) -> pelvis -> spine_01 ->
    ... -> spine_05 -> neck_01 -> neck_02 -> head; spine_05 -> clavicle_l -> upperarm_l ->
    lowerarm_l -> hand_l; pelvis -> thigh_l -> calf_l -> foot_l -> ball_l; the _r side mirrored.

    Rest (metres; times 100 in world units with units="cm"): A-POSE, the upper arms
    ``a_pose_deg`` below horizontal (in the frontal plane, y = 0), forearms and hands along the
    same line (upper arm 0.29, forearm 0.27, hand 0.10, shoulders at 1.47, x = +-0.17). 1.84 m tall
    (head tail), pelvis head 1.03, thigh heads 1.00 (x = +-0.10), knees 0.54, ankles (foot heads)
    0.09, ball heads on the floor z = 0, 0.14 m ahead of the ankles. LONGER legs than SMPL-X:
    thigh joint -> ankle 0.91 m (SMPL-X 0.83).

    Rolls (degrees, UE-like multiples of 90): root 0; pelvis .. head 90; clavicle_l 90,
    upperarm_l 180, lowerarm_l 180, hand_l -90; thigh_l 90, calf_l 90, foot_l 180, ball_l 180;
    the _r bones the negated values. ``roll_seed``: instead, seeded uniform random rolls in
    [-180, 180) for every bone.
    """
    if units not in ("cm", "m"):
        raise ValueError(f"units must be 'cm' or 'm', got {units!r}")
    bones = _ue5_table(a_pose_deg)
    if roll_seed is not None:
        rng = np.random.default_rng(roll_seed)
        bones = [BoneSpec(b.name, b.head, b.tail, b.parent, float(rng.uniform(-180.0, 180.0))) for b in bones]
    return _build_armature(name, bones, data_units_per_metre=100.0 if units == "cm" else 1.0,
                           object_scale=1.0, kind="ue5")


def build_vrm(name: str = "VRM_Humanoid"):
    """A VRM-humanoid-style rig: metres, object scale 1.0, T-pose, a short character.

    Bones: hips -> spine -> chest -> upperChest -> neck -> head; upperChest -> leftShoulder ->
    leftUpperArm -> leftLowerArm -> leftHand; hips -> leftUpperLeg -> leftLowerLeg -> leftFoot ->
    leftToes; the right* side mirrored.

    Rest: 1.50 m tall (head tail), hips head 0.80, upper-leg heads 0.74 (x = +-0.075), knees 0.41,
    ankles 0.065, toes heads (balls) on the floor z = 0; arms exactly horizontal at z = 1.18
    (upper arm 0.23, lower arm 0.22, hand 0.08). Leg (upper leg -> ankle) 0.675 m.

    Rolls: 0 for every bone (Blender's default frame: the Z axis of a horizontal bone points up,
    that of a vertical bone to the front (up bones) or the back (down bones)).
    """
    return _build_armature(name, _vrm_table(), kind="vrm")


#: Rigify FK controls for each SMPL-X body joint (the bones a retargeter keys with IK_FK = 1).
#: The torso: "torso" is the master (pivot at the hips), "hips" rotates the pelvis, "chest" the
#: upper body; "spine_fk" .. "spine_fk.003" are the FK spine (hips down to chest), "neck", "head".
RIGIFY_FK_CONTROLS: dict[str, str] = {
    "pelvis": "torso", "spine1": "spine_fk.001", "spine2": "spine_fk.002", "spine3": "spine_fk.003",
    "neck": "neck", "head": "head",
    **{f"{side}_{j}": f"{b}.{s}" for side, s in (("left", "L"), ("right", "R")) for j, b in (
        ("hip", "thigh_fk"), ("knee", "shin_fk"), ("ankle", "foot_fk"), ("foot", "toe_fk"),
        ("collar", "shoulder"), ("shoulder", "upper_arm_fk"), ("elbow", "forearm_fk"), ("wrist", "hand_fk"))},
}

#: Rigify IK/FK switches: (pose bone, custom property) per limb; the value 1.0 means FK, 0.0 (the
#: generated default) IK. Each is a float the limb's ORG bones' Copy Transforms influence follows.
RIGIFY_IK_FK_SWITCHES: dict[str, tuple[str, str]] = {
    "arm.L": ("upper_arm_parent.L", "IK_FK"), "arm.R": ("upper_arm_parent.R", "IK_FK"),
    "leg.L": ("thigh_parent.L", "IK_FK"), "leg.R": ("thigh_parent.R", "IK_FK"),
}

#: Seconds the last ``build_rigify`` call spent in ``bpy.ops.pose.rigify_generate``.
last_rigify_generate_seconds: float | None = None


def build_rigify(face: bool = False):
    """A real Rigify rig generated by Blender's bundled Rigify from its Human metarig.

    ``face=False`` (default) removes the metarig's "face" bone and its children first: the face rig
    alone takes ~8 s to generate (the rest ~0.45 s, ~0.8 s when another rig is in the scene). The
    metarig and its armature data are deleted after generation; the generated rig (named "rig",
    then "rig.001", ...) stays, with its hidden "WGTS_rig*" widget collection. Seconds spent
    generating: module attribute ``last_rigify_generate_seconds``.

    The rig (metres, object scale 1.0, at the origin): 1.98 m tall (DEF-spine.006 tail), arms
    ~30 degrees below horizontal bent slightly, DEF-spine head (the hips) at 1.01, thigh heads 1.07,
    ankles 0.085, toe heads 0.017 (``floor_height``), heels on z = 0. Deform bones: DEF-spine ..
    DEF-spine.006 (pelvis, 3 spine, 2 neck, head), DEF-pelvis.L/R, DEF-shoulder, DEF-upper_arm(.001),
    DEF-forearm(.001), DEF-hand, DEF-thigh(.001), DEF-shin(.001), DEF-foot, DEF-toe (.L/.R; limbs in
    two B-bone segments), fingers and palms. FK controls: ``RIGIFY_FK_CONTROLS``; IK/FK switches:
    ``RIGIFY_IK_FK_SWITCHES``.
    """
    global last_rigify_generate_seconds
    import addon_utils

    addon_utils.enable("rigify", default_set=True)  # read_factory_settings() disables it again
    _to_object_mode()
    bpy.ops.object.armature_human_metarig_add()
    meta = bpy.context.view_layer.objects.active
    meta.location = (0.0, 0.0, 0.0)
    meta.rotation_euler = (0.0, 0.0, 0.0)
    if not face:
        bpy.ops.object.mode_set(mode="EDIT")
        ebs = meta.data.edit_bones
        root = ebs.get("face")
        if root is not None:
            for eb in list(root.children_recursive) + [root]:
                ebs.remove(eb)
        bpy.ops.object.mode_set(mode="OBJECT")
    _make_active(meta)
    t0 = time.perf_counter()
    result = bpy.ops.pose.rigify_generate()
    last_rigify_generate_seconds = time.perf_counter() - t0
    if "FINISHED" not in result:
        raise RuntimeError(f"rigify_generate returned {result}")
    rig = meta.data.rigify_target_rig
    meta_data = meta.data
    bpy.data.objects.remove(meta)
    bpy.data.armatures.remove(meta_data)
    _make_active(rig)
    _to_object_mode()
    rig["rig_kind"] = "rigify"
    rig["rig_bone_prefix"] = ""
    rig["rig_world_units_per_metre"] = 1.0
    return rig


# ----------------------------------------------------------------------------------------------
# SMPL-X joint -> bone maps and measurements.
# ----------------------------------------------------------------------------------------------

_SIDES = (("left", "Left", "l", "L"), ("right", "Right", "r", "R"))


def smplx_joint_map(obj_or_kind, prefix: str | None = None) -> dict[str, str]:
    """The 22 SMPL-X body joints -> the bone whose HEAD is that joint, for a rig built here
    (pass the object, or a kind "mixamo" / "ue5" / "vrm" / "rigify"). UE5 has five spine bones
    for SMPL-X's three: spine1 -> spine_01, spine2 -> spine_03, spine3 -> spine_05. Rigify: the
    DEF bones (its FK controls: ``RIGIFY_FK_CONTROLS``)."""
    if isinstance(obj_or_kind, str):
        kind = obj_or_kind
    else:
        kind = obj_or_kind["rig_kind"]
        if prefix is None:
            prefix = obj_or_kind.get("rig_bone_prefix", "")
    if kind == "mixamo":
        p = "mixamorig:" if prefix is None else prefix
        m = {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
             "head": "Head"}
        for side, S, _, _ in _SIDES:
            m.update({f"{side}_hip": f"{S}UpLeg", f"{side}_knee": f"{S}Leg", f"{side}_ankle": f"{S}Foot",
                      f"{side}_foot": f"{S}ToeBase", f"{side}_collar": f"{S}Shoulder",
                      f"{side}_shoulder": f"{S}Arm", f"{side}_elbow": f"{S}ForeArm", f"{side}_wrist": f"{S}Hand"})
        return {j: p + b for j, b in m.items()}
    if kind == "ue5":
        m = {"pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_03", "spine3": "spine_05",
             "neck": "neck_01", "head": "head"}
        for side, _, s, _ in _SIDES:
            m.update({f"{side}_hip": f"thigh_{s}", f"{side}_knee": f"calf_{s}", f"{side}_ankle": f"foot_{s}",
                      f"{side}_foot": f"ball_{s}", f"{side}_collar": f"clavicle_{s}",
                      f"{side}_shoulder": f"upperarm_{s}", f"{side}_elbow": f"lowerarm_{s}",
                      f"{side}_wrist": f"hand_{s}"})
        return m
    if kind == "vrm":
        m = {"pelvis": "hips", "spine1": "spine", "spine2": "chest", "spine3": "upperChest", "neck": "neck",
             "head": "head"}
        for side, _, _, _ in _SIDES:
            m.update({f"{side}_hip": f"{side}UpperLeg", f"{side}_knee": f"{side}LowerLeg",
                      f"{side}_ankle": f"{side}Foot", f"{side}_foot": f"{side}Toes",
                      f"{side}_collar": f"{side}Shoulder", f"{side}_shoulder": f"{side}UpperArm",
                      f"{side}_elbow": f"{side}LowerArm", f"{side}_wrist": f"{side}Hand"})
        return m
    if kind == "rigify":
        m = {"pelvis": "DEF-spine", "spine1": "DEF-spine.001", "spine2": "DEF-spine.002",
             "spine3": "DEF-spine.003", "neck": "DEF-spine.004", "head": "DEF-spine.006"}
        for side, _, _, S in _SIDES:
            m.update({f"{side}_hip": f"DEF-thigh.{S}", f"{side}_knee": f"DEF-shin.{S}",
                      f"{side}_ankle": f"DEF-foot.{S}", f"{side}_foot": f"DEF-toe.{S}",
                      f"{side}_collar": f"DEF-shoulder.{S}", f"{side}_shoulder": f"DEF-upper_arm.{S}",
                      f"{side}_elbow": f"DEF-forearm.{S}", f"{side}_wrist": f"DEF-hand.{S}"})
        return m
    raise ValueError(f"unknown rig kind {kind!r}")


def rest_joint_positions(obj, names_by_joint: dict[str, str]) -> dict[str, np.ndarray]:
    """{joint: (3,) world position of the REST head of bone names_by_joint[joint]} (object
    transform applied, animation ignored)."""
    mw = obj.matrix_world
    bones = obj.data.bones
    return {j: np.array(mw @ bones[b].head_local) for j, b in names_by_joint.items()}


_FOOT_WORDS = ("foot", "toe", "ball")


def floor_height(obj, bone_names: Sequence[str] | None = None) -> float:
    """The lowest world z of the REST heads of the foot/toe bones: by default the deforming bones
    whose name contains "foot", "toe" or "ball" (any case; Rigify's DEF-foot/DEF-toe, not its
    controls), else ``bone_names``."""
    bones = obj.data.bones
    if bone_names is None:
        bone_names = [b.name for b in bones if b.use_deform and any(w in b.name.lower() for w in _FOOT_WORDS)]
    if not bone_names:
        raise ValueError(f"{obj.name}: no foot or toe bones")
    mw = obj.matrix_world
    return float(min((mw @ bones[n].head_local).z for n in bone_names))


def _evaluated_bone(obj, bone_name: str, frame: int):
    # Tag the object first: custom-property changes made from Python (Rigify's IK_FK) do not tag
    # it themselves, and the drivers that read them would keep their old values.
    obj.update_tag()
    bpy.context.scene.frame_set(frame)
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    return ev.matrix_world, ev.pose.bones[bone_name]


def bone_world_head(obj, bone_name: str, frame: int) -> np.ndarray:
    """(3,) world head of the evaluated pose bone at ``frame`` (sets the scene frame)."""
    mw, pb = _evaluated_bone(obj, bone_name, frame)
    return np.array(mw @ pb.head)


def bone_world_direction(obj, bone_name: str, frame: int) -> np.ndarray:
    """(3,) unit world direction head -> tail of the evaluated pose bone at ``frame`` (sets the
    scene frame)."""
    mw, pb = _evaluated_bone(obj, bone_name, frame)
    d = np.array(mw @ pb.tail) - np.array(mw @ pb.head)
    return d / np.linalg.norm(d)
