"""SMPL-X armatures: building ours, and reading any SMPL-X-like armature's bones.

Our armature (``build_armature``): the 55 SMPL-X joints named as the official SMPL-X Blender
add-on names them (``skeleton.JOINT_NAMES``), plus a ``root`` bone on the floor parenting
``pelvis``, pointing forward (-Y). Every rest bone is aligned with its SMPL-X joint frame: head = (x, -z, y) of the
SMPL-X rest position (Blender is +Z up, characters face -Y), tail straight up (+Z), roll 0.
Its rest matrix is then the same +90 degree X rotation ``SMPLX_TO_BLENDER`` for every bone, so a
SMPL-X local rotation is directly the bone's pose rotation.

An existing armature (``target_from_armature``) may be any humanoid: an SMPL-X-named one
(official add-on, Meshcapade ``left_eye``/``right_eye``, SMPL-H ``L_Hip`` style, ``m_avg_``
prefixes), or a Mixamo, Unreal, Rigify or VRM rig, or any rig with a TOML bone map
(``bonemap``). It is read into a ``rig.RigTarget`` (the bones as numbers) and
``rig.pose_channels`` converts through each bone's rest matrix; rigs other than SMPL-X get
the rest correction (an A-pose, other rolls and units), travel scaled to their legs and their
feet solved onto their floor. This module holds only what needs bpy; the name matching, bone
maps, axes/units estimation and pose maths are in ``body/``.
"""

from __future__ import annotations

import bpy
import numpy as np

from .core import bonemap, postprocess, rig, skeleton

__all__ = [
    "SMPLX_TO_BLENDER",
    "ROOT_BONE",
    "ARMATURE_TAG",
    "build_armature",
    "bone_for_joint",
    "bone_map_for",
    "target_from_armature",
    "prepare_rig",
    "pose_motion",
    "READ_FPS",
]

#: SMPL-X (x, y, z) -> Blender (x, -z, y): +90 degrees about X (``rig.SMPLX_TO_BLENDER``).
SMPLX_TO_BLENDER = rig.SMPLX_TO_BLENDER
ROOT_BONE = "root"
#: Custom property marking armatures this add-on built (value: number of SMPL-X joints).
ARMATURE_TAG = "motionprompt_joints"
#: Frames per second an armature's own animation is read at to be continued or exported
#: (``pose_motion``): the models' and the takes'.
READ_FPS = 30.0



def _rest_pelvis_height(rest: np.ndarray) -> float:
    """Pelvis height (metres) that puts the lowest rest joint on the floor."""
    return float(-rest[:, 1].min())


def build_armature(name: str = "SMPLX", offsets: np.ndarray | None = None, body_only: bool = False,
                   collection=None) -> bpy.types.Object:
    """A new SMPL-X armature object, SMPL-aligned rest bones, linked to ``collection``.

    Args:
        name: object and armature data name.
        offsets: (22, 3) or (55, 3) rest offsets child - parent, metres, SMPL-X axes
            (default: ``skeleton.DEFAULT_REST_OFFSETS``).
        body_only: only the 22 body bones (no jaw, eyes, fingers).
        collection: where to link it (default: the scene's active collection).
    Returns:
        The armature object in OBJECT mode, at the origin, ``root`` bone on the floor.
    """
    offsets = skeleton.full_rest_offsets(skeleton.DEFAULT_REST_OFFSETS if offsets is None else offsets)
    n = skeleton.NUM_BODY_JOINTS if body_only else len(skeleton.JOINT_NAMES)
    parents = skeleton.PARENTS[:n]
    rest = skeleton.rest_positions(offsets[:n], parents)  # (n, 3) pelvis at the origin
    rest[:, 1] += _rest_pelvis_height(rest)
    heads = rest @ SMPLX_TO_BLENDER.T  # (n, 3) Blender armature space

    # Bone length: distance to the first child, else half the parent's; never under 1 cm.
    lengths = np.full(n, 0.0)
    for j in range(n - 1, 0, -1):  # over joints, children after parents
        p = parents[j]
        if lengths[p] == 0.0:
            lengths[p] = np.linalg.norm(offsets[j])
    for j in range(n):
        if lengths[j] == 0.0:
            lengths[j] = 0.5 * lengths[parents[j]] if j else 0.1
    lengths = np.maximum(lengths, 0.01)

    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    (collection or bpy.context.scene.collection).objects.link(obj)
    obj[ARMATURE_TAG] = n
    _edit_bones(obj, heads, lengths, parents)
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    return obj


def _edit_bones(obj, heads: np.ndarray, lengths: np.ndarray, parents) -> None:
    view_layer = bpy.context.view_layer
    prev_active = view_layer.objects.active
    view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        ebs = obj.data.edit_bones
        root = ebs.new(ROOT_BONE)
        root.head = (0.0, 0.0, 0.0)
        root.tail = (0.0, -0.1, 0.0)  # points forward; off the pelvis' line, or FBX importers connect them
        root.roll = 0.0
        bones = []
        for j, name in enumerate(skeleton.JOINT_NAMES[: len(heads)]):
            eb = ebs.new(name)
            eb.head = heads[j]
            eb.tail = heads[j] + np.array([0.0, 0.0, lengths[j]])
            eb.roll = 0.0
            eb.parent = root if parents[j] < 0 else bones[parents[j]]
            eb.use_connect = False
            bones.append(eb)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = prev_active


# ---------------------------------------------------------------------------------------------
# Reading an existing armature (the names and the maths are ``rig``'s; this reads the bones)


def bone_for_joint(obj) -> dict[int, str]:
    """SMPL-X joint index -> bone name in the armature ``obj`` (official names and aliases)."""
    return rig.match_joint_bones(bone.name for bone in obj.data.bones)


def bone_map_for(obj, spec: str = "auto"):
    """The ``bonemap.BoneMap`` of the armature ``obj``: ``spec`` "auto" (detected from its
    bone names), a preset name or a TOML map file. Armatures this add-on built are ``smplx``."""
    if obj is None or obj.type != "ARMATURE":
        raise ValueError(f"{getattr(obj, 'name', obj)!r} is not an armature object")
    names = [b.name for b in obj.data.bones]
    if obj.get(ARMATURE_TAG) and spec in ("auto", "smplx"):
        return bonemap.resolve("smplx", names)
    try:
        return bonemap.resolve_map(bpy.path.abspath(spec) if spec.lower().endswith(".toml") else spec, names)
    except ValueError as e:
        raise ValueError(f"armature {obj.name!r}: {e}") from None


def prepare_rig(obj, bone_map) -> None:
    """Set what a rig needs for its mapped bones to move as plain FK (Rigify: the limbs' IK/FK
    switches to FK, the neck and head following the chest)."""
    if bone_map.name != "rigify":
        return
    settings = [(b, prop, value) for b, (prop, value) in bonemap.RIGIFY_FK_SWITCHES.items()]
    for bone, prop, value in settings + list(bonemap.RIGIFY_FK_SETTINGS):
        pb = obj.pose.bones.get(bone)
        if pb is not None and prop in pb.keys():
            pb[prop] = value
    obj.update_tag()


def _rigify_hips_places(slots: dict, parent_of: dict) -> dict:
    """``bonemap.RIGIFY_HIPS_PLACES`` for a Rigify rig whose FK hips hang as generated (each
    hip control mapped to the joint it turns with, ``spine_fk`` below ``spine_fk.001``); {}
    for one rigged otherwise."""
    places = bonemap.RIGIFY_HIPS_PLACES
    if any(b not in slots or tuple(slots[b]) != (j, j, 0.0) for b, (j, _, _) in places.items()):
        return {}
    upper, lower = sorted(places, key=lambda b: places[b][0], reverse=True)  # spine_fk.001, spine_fk
    above = parent_of.get(lower)
    while above is not None and above not in slots:
        above = parent_of.get(above)
    return dict(places) if above == upper else {}


def target_from_armature(obj, num_joints: int = skeleton.NUM_BODY_JOINTS, bone_map=None) -> rig.RigTarget:
    """Read the armature object ``obj`` into a ``rig.RigTarget`` (armature space, its units).

    Args:
        num_joints: only joints below it are keyed (22: the body).
        bone_map: a ``bonemap.BoneMap``; None: ``bone_map_for(obj)`` (detected).
    Armatures this add-on built (``ARMATURE_TAG``) get the exact ``SMPLX_TO_BLENDER`` axes
    and metres and are keyed as SMPL-X; other SMPL-X-named ones get axes and units estimated
    from the rest heads (``rig.axes_and_scale``); other rigs also the rest correction, travel
    scaled to their legs and their feet planted (``rig.RigTarget``).
    """
    bone_map = bone_map_for(obj) if bone_map is None else bone_map
    slots = {b: tuple(s) for b, s in bone_map.slots.items() if s.joint < num_joints and s.toward < num_joints}
    if bone_map.pelvis is None or bone_map.pelvis not in slots:
        raise ValueError(f"armature {obj.name!r}: no pelvis / hips bone found ({bone_map.coverage()}); "
                         "choose a bone map preset or a map file, or create a new SMPL-X armature")
    data_bones = obj.data.bones
    parent_of = {b.name: (b.parent.name if b.parent is not None else None) for b in data_bones}
    if bone_map.name == "rigify":
        parent_of.update({b: p for b, p in bonemap.RIGIFY_MAPPED_PARENTS.items() if b in parent_of})
        slots.update(_rigify_hips_places(slots, parent_of))
    elif bone_map.name == "rigify-deform":
        parent_of.update({b: p for b, p in bonemap.RIGIFY_DEFORM_PARENTS.items() if b in parent_of and p in parent_of})
    wanted = set(slots)
    pelvis_parent = data_bones[bone_map.pelvis].parent
    if pelvis_parent is not None:
        wanted.add(pelvis_parent.name)
    rest = {name: np.array(data_bones[name].matrix_local.to_3x3()) for name in wanted}
    heads = {name: np.array(data_bones[name].head_local) for name in wanted}
    foreign = bone_map.name != "smplx"
    if obj.get(ARMATURE_TAG):
        axes, scale = SMPLX_TO_BLENDER.copy(), 1.0
    else:
        axes, scale = None, None  # estimated from the heads
    target = rig.RigTarget.from_slots(slots, parent_of, rest, heads, axes=axes, scale=scale,
                                      correct_rest=foreign, feet=foreign)
    hips = data_bones.get(bonemap.RIGIFY_HIPS_BONE) if bone_map.name == "rigify" else None
    if hips is not None:  # Rigify's torso moves from the spine pivot: its hips' head is the pelvis
        anchor = hips.name
        while anchor is not None and anchor not in slots:
            anchor = parent_of.get(anchor)
        if anchor is not None:
            target.anchor = (target.bones.index(anchor), np.array(hips.head_local))
    return target


def pose_motion(obj, scene, first: int, last: int, bone_map=None, progress=None, fps: float | None = None):
    """The SMPL-X body motion the armature ``obj`` shows on scene frames ``first`` to ``last``:
    its own animation (its action, NLA, constraints and drivers, as Blender evaluates them) read
    through its bone map (``rig.motion_from_pose``), at the scene's frame rate, or resampled to
    ``fps`` (``READ_FPS``: the models' and the takes'). The scene's frame is restored after.
    ValueError naming the armature when the map has no pelvis. ``progress``: called as
    ``progress(done, total)`` after each frame read.

    A Rigify rig is read from its deform bones (``bonemap.rigify_deform_map``), which show its
    pose whether its limbs are in FK or IK (the map's FK controls stand still in IK).
    """
    bone_map = bone_map_for(obj) if bone_map is None else bone_map
    if bone_map.name == "rigify":
        deform = bonemap.rigify_deform_map(b.name for b in obj.data.bones)
        if deform.pelvis is not None:
            bone_map = deform
    target = target_from_armature(obj, bone_map=bone_map)
    pose_bones = obj.pose.bones
    index = {pb.name: i for i, pb in enumerate(pose_bones)}
    rows = np.array([index[b] for b in target.bones])
    frames = list(range(int(first), int(last) + 1))
    flat = np.empty(len(pose_bones) * 16, dtype=np.float32)
    mats = np.empty((len(frames), len(rows), 4, 4))
    saved = (scene.frame_current, scene.frame_subframe)
    try:
        for k, frame in enumerate(frames):  # Blender evaluates the scene one frame at a time
            scene.frame_set(frame)
            pose_bones.foreach_get("matrix", flat)
            mats[k] = np.swapaxes(flat.reshape(-1, 4, 4), -1, -2)[rows]  # stored column by column
            if progress is not None:
                progress(k + 1, len(frames))
    finally:
        scene.frame_set(saved[0], subframe=saved[1])
    W = mats[..., :3, :3]
    W = W / np.linalg.norm(W, axis=-2, keepdims=True)  # without the bones' scale
    motion = rig.motion_from_pose(target, W, mats[..., :3, 3], fps=scene.render.fps / scene.render.fps_base)
    return motion if fps is None else postprocess.resample(motion, fps)
