"""SMPL-X armatures: building ours, and reading any SMPL-X-like armature's bones.

Our armature (``build_armature``): the 55 SMPL-X joints named as the official SMPL-X Blender
add-on names them (``skeleton.JOINT_NAMES``), plus a ``root`` bone on the floor parenting
``pelvis``, pointing forward (-Y). Every rest bone is aligned with its SMPL-X joint frame: head = (x, -z, y) of the
SMPL-X rest position (Blender is +Z up, characters face -Y), tail straight up (+Z), roll 0.
Its rest matrix is then the same +90 degree X rotation ``SMPLX_TO_BLENDER`` for every bone, so a
SMPL-X local rotation is directly the bone's pose rotation.

An existing armature (``BoneTarget.from_armature``) may use other rest orientations, units
and names (official add-on, Meshcapade ``left_eye``/``right_eye``, SMPL-H ``L_Hip`` style,
``m_avg_`` prefixes); the keys module converts through each bone's rest matrix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bpy
import numpy as np

from .core import skeleton

__all__ = [
    "SMPLX_TO_BLENDER",
    "ROOT_BONE",
    "ARMATURE_TAG",
    "build_armature",
    "bone_for_joint",
    "BoneTarget",
]

#: SMPL-X (x, y, z) -> Blender (x, -z, y): +90 degrees about X.
SMPLX_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
ROOT_BONE = "root"
#: Custom property marking armatures this add-on built (value: number of SMPL-X joints).
ARMATURE_TAG = "motionprompt_joints"



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
# Reading an existing armature

_SMPLH = {"l": "left", "r": "right"}
_ALIASES = {"left_eye": "left_eye_smplhf", "right_eye": "right_eye_smplhf"}
_PREFIX = re.compile(r"^(?:.*[:|])?(?:[mf]_avg_|smplx?[-_]|smplh[-_]|mixamorig[:_])?", re.IGNORECASE)


def _canonical(bone_name: str) -> str:
    """Bone name -> official SMPL-X spelling when it is a known variant, else lower-cased."""
    name = _PREFIX.sub("", bone_name).lower()
    m = re.match(r"^([lr])_(.+)$", name)
    if m:
        name = f"{_SMPLH[m.group(1)]}_{m.group(2)}"
    return _ALIASES.get(name, name)


def bone_for_joint(obj) -> dict[int, str]:
    """SMPL-X joint index -> bone name in the armature ``obj`` (official names and aliases)."""
    index = {name: j for j, name in enumerate(skeleton.JOINT_NAMES)}
    found: dict[int, str] = {}
    for bone in obj.data.bones:
        j = index.get(bone.name)
        if j is None:
            j = index.get(_canonical(bone.name))
        if j is not None and (j not in found or bone.name == skeleton.JOINT_NAMES[j]):
            found[j] = bone.name
    return found


@dataclass
class BoneTarget:
    """What the keys need to know about an armature, all in armature space.

    Attributes:
        bones: joint index -> bone name, for the joints this armature has.
        rest: joint index -> (3, 3) rest rotation of that bone (bone axes as columns).
        heads: joint index -> (3,) rest head position, armature units.
        driven_parent: joint index -> the nearest ancestor bone that is a driven joint (or -1).
        axes: (3, 3) SMPL-X axes in armature space (columns: SMPL-X x, y, z).
        scale: armature units per metre.
        root: name of the pelvis' parent bone when it can carry root motion, else None.
        root_rest: (3, 3) rest rotation of that bone.
    """

    bones: dict
    rest: dict
    heads: dict
    driven_parent: dict
    axes: np.ndarray
    scale: float
    root: str | None
    root_rest: np.ndarray

    @classmethod
    def from_armature(cls, obj, num_joints: int = skeleton.NUM_BODY_JOINTS) -> "BoneTarget":
        """Read ``obj`` (an armature object); only joints < ``num_joints`` are considered."""
        if obj is None or obj.type != "ARMATURE":
            raise ValueError(f"{getattr(obj, 'name', obj)!r} is not an armature object")
        bones = {j: b for j, b in bone_for_joint(obj).items() if j < num_joints}
        if 0 not in bones:
            raise ValueError(f"armature {obj.name!r} has no pelvis bone (expected SMPL-X bone names such as "
                             "'pelvis', 'left_hip'; or create a new SMPL-X armature)")
        data_bones = obj.data.bones
        rest = {j: np.array(data_bones[b].matrix_local.to_3x3()) for j, b in bones.items()}
        heads = {j: np.array(data_bones[b].head_local) for j, b in bones.items()}
        by_name = {b: j for j, b in bones.items()}
        driven_parent = {}
        for j, b in bones.items():
            parent = data_bones[b].parent
            while parent is not None and parent.name not in by_name:
                parent = parent.parent
            driven_parent[j] = -1 if parent is None else by_name[parent.name]
        pelvis_parent = data_bones[bones[0]].parent
        root = pelvis_parent.name if pelvis_parent is not None and pelvis_parent.parent is None else None
        root_rest = np.array(pelvis_parent.matrix_local.to_3x3()) if root else np.eye(3)
        if obj.get(ARMATURE_TAG):
            axes, scale = SMPLX_TO_BLENDER.copy(), 1.0
        else:
            axes, scale = _axes_and_scale(heads)
        return cls(bones, rest, heads, driven_parent, axes, scale, root, root_rest)


def _snap_axes(A: np.ndarray, max_deg: float = 30.0) -> np.ndarray:
    """Snap a rotation to the nearest signed axis permutation when every column is within
    ``max_deg`` of an axis (rigs are built upright; a leaning rest spine should not tilt keys)."""
    snapped = np.zeros_like(A)
    for c in range(3):
        k = int(np.argmax(np.abs(A[:, c])))
        if np.abs(A[k, c]) < np.cos(np.radians(max_deg)):
            return A
        snapped[k, c] = np.sign(A[k, c])
    return snapped if abs(np.linalg.det(snapped) - 1.0) < 1e-6 else A


def _axes_and_scale(heads: dict) -> tuple[np.ndarray, float]:
    """SMPL-X axes in armature space and armature units per metre, from rest joint positions."""
    pelvis = heads[0]
    if 1 in heads and 2 in heads:
        left = heads[1] - heads[2]
    elif 16 in heads and 17 in heads:
        left = heads[16] - heads[17]
    else:
        return SMPLX_TO_BLENDER.copy(), 1.0
    top = next((heads[j] for j in (15, 12, 9, 6, 3) if j in heads), None)
    if top is None:
        return SMPLX_TO_BLENDER.copy(), 1.0
    up = top - pelvis
    x = left / np.linalg.norm(left)
    y = up - (up @ x) * x
    y /= np.linalg.norm(y)
    A = _snap_axes(np.stack([x, y, np.cross(x, y)], axis=1))
    chain = [j for j in (0, 3, 6, 9, 12, 15) if j in heads]
    ref = skeleton.rest_positions(skeleton.DEFAULT_REST_OFFSETS)
    ratio = np.linalg.norm(heads[chain[-1]] - pelvis) / max(np.linalg.norm(ref[chain[-1]] - ref[0]), 1e-9)
    scale = float(10.0 ** np.round(np.log10(max(ratio, 1e-9))))
    return A, scale
