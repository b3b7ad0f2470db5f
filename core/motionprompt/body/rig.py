"""Target armatures as numbers, and SMPL-X motion as pose keys on them (pure numpy).

No bpy here: the Blender add-on reads an armature's bones into a ``RigTarget`` and writes
the values ``pose_channels`` returns as keys; everything in between is this module, so it
runs and is tested without Blender (and retargeting onto other rigs builds on it).

Spaces:
- SMPL-X (``Motion``, ``skeleton``): metres, +Y up, the body faces +Z, left is +X.
- Armature space (a Blender armature's object space, where ``Bone.matrix_local`` and
  ``Bone.head_local`` live): Blender's convention is +Z up with characters facing -Y
  (SMPL-X (x, y, z) -> (x, -z, y), ``SMPLX_TO_BLENDER``), in the armature's own units
  (``scale`` units per metre: 100 for a centimetre rig). Imported rigs may differ (a Y-up
  rig kept Y-up, an object rotation undoing it): ``RigTarget.axes`` says where the SMPL-X
  axes are in that armature's space.

Pose maths (armature space; M_b = rest rotation of bone b (its axes as columns), A = SMPL-X
axes in armature space, G_j = SMPL-X world rotation of joint j, D_j = A G_j A^T its
armature-space delta from rest): bone b drives joint j; p is its nearest ancestor bone
that drives a joint (bones in between are not keyed, so they stay at rest). Posed, bone
b's armature-space rotation is D_j M_b, and Blender composes it as
``W_p M_p^T M_b basis_b``, so its pose rotation (the ``rotation_quaternion`` key) is

    basis_b = M_b^T D_p^T D_j M_b        (D_p = I when b has no driven ancestor)

For SMPL-aligned bones (M_b = A for every bone) this is the SMPL-X local rotation itself.
Locations: the pelvis bone's head goes to ``scale * A @ pelvis_world`` (the root bone, when
it carries the floor-plane travel, is subtracted first), and a pose location is in the
bone's rest frame relative to its rest head: ``location = M_pelvis^T (target - head_pelvis)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from . import rotations, skeleton

__all__ = [
    "SMPLX_TO_BLENDER",
    "ROOT_MOTION_MODES",
    "RigTarget",
    "canonical_bone_name",
    "match_joint_bones",
    "snap_axes",
    "axes_and_scale",
    "pose_channels",
]

#: SMPL-X (x, y, z) -> Blender armature space (x, -z, y): +90 degrees about X. Columns are
#: the SMPL-X x, y, z axes in Blender space.
SMPLX_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
#: What ``pose_channels`` can do with the travel (see there).
ROOT_MOTION_MODES = ("pelvis", "root")


@dataclass(eq=False)
class RigTarget:
    """A target armature's driven bones, in numbers (armature space, armature units).

    Row i of every per-bone array is the bone driving SMPL-X joint ``joints[i]``; rows come
    in any order (the add-on keeps the armature's bone order), each joint at most once, and
    the pelvis (joint 0) is required (it carries the location keys).

    Attributes:
        joints: (J,) int SMPL-X joint indices (``skeleton.JOINT_NAMES``) the armature has.
        bones: J bone names, one per row.
        rest: (J, 3, 3) rest rotation of each bone in armature space (bone axes as
            columns: Blender's ``Bone.matrix_local.to_3x3()``).
        heads: (J, 3) rest head position of each bone, armature space, armature units.
        driven_parent: (J,) int SMPL-X joint index of the nearest ancestor bone that drives
            a joint (undriven bones in between skipped), or -1 for none.
        axes: (3, 3) SMPL-X axes in armature space (columns: SMPL-X x, y, z; a rotation).
        scale: armature units per metre (1.0: metres; 100.0: centimetres).
        root: name of the pelvis' parent bone when it can carry root motion (a top-level
            bone), else None.
        root_rest: (3, 3) rest rotation of that bone (identity without one).
    """

    joints: np.ndarray
    bones: tuple
    rest: np.ndarray
    heads: np.ndarray
    driven_parent: np.ndarray
    axes: np.ndarray = field(default_factory=lambda: SMPLX_TO_BLENDER.copy())
    scale: float = 1.0
    root: str | None = None
    root_rest: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self):
        self.joints = np.asarray(self.joints, dtype=np.int64).reshape(-1)
        self.bones = tuple(str(b) for b in self.bones)
        self.rest = np.asarray(self.rest, dtype=np.float64)
        self.heads = np.asarray(self.heads, dtype=np.float64)
        self.driven_parent = np.asarray(self.driven_parent, dtype=np.int64).reshape(-1)
        self.axes = np.asarray(self.axes, dtype=np.float64)
        self.scale = float(self.scale)
        self.root_rest = np.asarray(self.root_rest, dtype=np.float64)
        J = len(self.joints)
        if (len(self.bones) != J or self.rest.shape != (J, 3, 3) or self.heads.shape != (J, 3)
                or self.driven_parent.shape != (J,)):
            raise ValueError(f"RigTarget: {J} joints but {len(self.bones)} bones, rest {self.rest.shape}, "
                             f"heads {self.heads.shape}, driven_parent {self.driven_parent.shape} "
                             "(expected J, (J, 3, 3), (J, 3), (J,))")
        if self.axes.shape != (3, 3) or self.root_rest.shape != (3, 3):
            raise ValueError(f"RigTarget: axes {self.axes.shape} and root_rest {self.root_rest.shape} must be (3, 3)")
        if len(set(self.joints.tolist())) != J or np.any(self.joints < 0):
            raise ValueError(f"RigTarget: joints must be distinct SMPL-X indices, got {self.joints.tolist()}")
        if 0 not in self.joints:
            raise ValueError("RigTarget: no pelvis bone (joint 0)")
        known = set(self.joints.tolist()) | {-1}
        if not set(self.driven_parent.tolist()) <= known:
            raise ValueError(f"RigTarget: driven_parent {self.driven_parent.tolist()} names joints without a bone")
        if not self.scale > 0:
            raise ValueError(f"RigTarget: scale must be > 0, got {self.scale}")

    @property
    def joint_bones(self) -> dict[int, str]:
        """SMPL-X joint index -> bone name, in row order."""
        return {int(j): b for j, b in zip(self.joints, self.bones)}

    def row(self, joint: int) -> int:
        """The row of SMPL-X joint ``joint`` (ValueError when the armature lacks it)."""
        hits = np.flatnonzero(self.joints == joint)
        if not len(hits):
            raise ValueError(f"RigTarget: no bone for joint {joint}")
        return int(hits[0])

    @classmethod
    def from_bones(cls, joint_bones: Mapping[int, str], parent_of: Mapping[str, str | None],
                   rest: Mapping[str, np.ndarray], heads: Mapping[str, np.ndarray],
                   axes: np.ndarray | None = None, scale: float | None = None) -> "RigTarget":
        """A target from an armature's bone hierarchy (what a reader of a rig has at hand).

        Args:
            joint_bones: SMPL-X joint index -> bone name (e.g. ``match_joint_bones``); its
                order is the row order.
            parent_of: bone name -> parent bone name (None for a top-level bone), for every
                bone on the way from a driven bone up to the top (undriven ones included).
            rest: bone name -> (3, 3) rest rotation, armature space (driven bones, and the
                pelvis' parent when it is a top-level bone).
            heads: bone name -> (3,) rest head, armature space, armature units (driven bones).
            axes: (3, 3) SMPL-X axes in armature space; None: estimated with
                ``axes_and_scale`` from the driven heads.
            scale: armature units per metre; None: estimated with the axes when those are,
                else 1.0.
        """
        joints = [int(j) for j in joint_bones]
        names = [joint_bones[j] for j in joints]
        if 0 not in joint_bones:
            raise ValueError("RigTarget.from_bones: no pelvis bone (joint 0)")
        by_name = {b: j for j, b in zip(joints, names)}
        driven_parent = []
        for b in names:
            parent = parent_of.get(b)
            while parent is not None and parent not in by_name:
                parent = parent_of.get(parent)
            driven_parent.append(-1 if parent is None else by_name[parent])
        pelvis_parent = parent_of.get(joint_bones[0])
        root = pelvis_parent if pelvis_parent is not None and parent_of.get(pelvis_parent) is None else None
        root_rest = np.asarray(rest[root], dtype=np.float64) if root else np.eye(3)
        head_rows = np.array([heads[b] for b in names], dtype=np.float64).reshape(len(names), 3)
        if axes is None:
            axes, estimated = axes_and_scale(head_rows, joints)
            scale = estimated if scale is None else scale
        elif scale is None:
            scale = 1.0
        return cls(joints=joints, bones=names, rest=np.array([rest[b] for b in names], dtype=np.float64).reshape(-1, 3, 3),
                   heads=head_rows, driven_parent=driven_parent, axes=axes, scale=scale, root=root,
                   root_rest=root_rest)


# ---------------------------------------------------------------------------------------------
# Bone names

_SMPLH = {"l": "left", "r": "right"}
_ALIASES = {"left_eye": "left_eye_smplhf", "right_eye": "right_eye_smplhf"}
_PREFIX = re.compile(r"^(?:.*[:|])?(?:[mf]_avg_|smplx?[-_]|smplh[-_]|mixamorig[:_])?", re.IGNORECASE)


def canonical_bone_name(bone_name: str) -> str:
    """Bone name -> official SMPL-X spelling when it is a known variant, else lower-cased.

    Handles namespace prefixes (``SMPLX:``, ``rig|``), ``m_avg_`` / ``f_avg_`` / ``smplx_`` /
    ``smplh_`` / ``mixamorig:`` prefixes, SMPL-H ``L_``/``R_`` sides and Meshcapade's
    ``left_eye``/``right_eye``.
    """
    name = _PREFIX.sub("", bone_name).lower()
    m = re.match(r"^([lr])_(.+)$", name)
    if m:
        name = f"{_SMPLH[m.group(1)]}_{m.group(2)}"
    return _ALIASES.get(name, name)


def match_joint_bones(bone_names: Iterable[str]) -> dict[int, str]:
    """SMPL-X joint index -> bone name, for the bones (in armature order) that name a joint,
    exactly (``skeleton.JOINT_NAMES``) or as a ``canonical_bone_name`` variant; an exact
    name wins over a variant of the same joint, else the first bone does."""
    index = {name: j for j, name in enumerate(skeleton.JOINT_NAMES)}
    found: dict[int, str] = {}
    for name in bone_names:
        j = index.get(name)
        if j is None:
            j = index.get(canonical_bone_name(name))
        if j is not None and (j not in found or name == skeleton.JOINT_NAMES[j]):
            found[j] = name
    return found


# ---------------------------------------------------------------------------------------------
# Axes and units from the rest pose

def snap_axes(A: np.ndarray, max_deg: float = 30.0) -> np.ndarray:
    """Snap a rotation (3, 3) to the nearest signed axis permutation when every column is
    within ``max_deg`` degrees of a coordinate axis (rigs are built upright; a leaning rest
    spine should not tilt the keys); else return ``A`` unchanged."""
    A = np.asarray(A, dtype=np.float64)
    snapped = np.zeros_like(A)
    for c in range(3):
        k = int(np.argmax(np.abs(A[:, c])))
        if np.abs(A[k, c]) < np.cos(np.radians(max_deg)):
            return A
        snapped[k, c] = np.sign(A[k, c])
    return snapped if abs(np.linalg.det(snapped) - 1.0) < 1e-6 else A


def axes_and_scale(heads: np.ndarray, joints: Iterable[int] | None = None) -> tuple[np.ndarray, float]:
    """SMPL-X axes in armature space and armature units per metre, from rest joint heads.

    SMPL-X +X (the body's left) is the right hip -> left hip direction (else right ->
    left shoulder), +Y (up) the pelvis -> highest spine joint direction made orthogonal to
    it, +Z their cross product (the facing direction); snapped to the coordinate axes
    (``snap_axes``). The scale is the pelvis-to-top-of-spine length against the default
    SMPL-X skeleton's, rounded to a power of ten (1 for metres, 100 for centimetres).
    Without hips or shoulders, or without a spine joint, Blender's ``SMPLX_TO_BLENDER``
    and 1.0.

    Args:
        heads: (J, 3) rest head positions, armature space, armature units.
        joints: J SMPL-X joint indices of the rows (default: rows 0..J-1 are joints 0..J-1).
    Returns:
        axes (3, 3) (columns: SMPL-X x, y, z in armature space) and scale.
    """
    heads = np.asarray(heads, dtype=np.float64)
    joints = range(len(heads)) if joints is None else [int(j) for j in joints]
    h = dict(zip(joints, heads))
    if 0 not in h:
        return SMPLX_TO_BLENDER.copy(), 1.0
    pelvis = h[0]
    if 1 in h and 2 in h:
        left = h[1] - h[2]
    elif 16 in h and 17 in h:
        left = h[16] - h[17]
    else:
        return SMPLX_TO_BLENDER.copy(), 1.0
    top = next((h[j] for j in (15, 12, 9, 6, 3) if j in h), None)
    if top is None:
        return SMPLX_TO_BLENDER.copy(), 1.0
    up = top - pelvis
    x = left / np.linalg.norm(left)
    y = up - (up @ x) * x
    y /= np.linalg.norm(y)
    A = snap_axes(np.stack([x, y, np.cross(x, y)], axis=1))
    chain = [j for j in (0, 3, 6, 9, 12, 15) if j in h]
    ref = skeleton.rest_positions(skeleton.DEFAULT_REST_OFFSETS)
    ratio = np.linalg.norm(h[chain[-1]] - pelvis) / max(np.linalg.norm(ref[chain[-1]] - ref[0]), 1e-9)
    scale = float(10.0 ** np.round(np.log10(max(ratio, 1e-9))))
    return A, scale


# ---------------------------------------------------------------------------------------------
# Motion -> key values

def pose_channels(motion, target: RigTarget, root_motion: str = "pelvis") -> dict:
    """Per-channel key values for ``motion`` on ``target`` (see the module docstring's maths).

    Args:
        motion: ``Motion``: rotations (T, 22, 3, 3) SMPL-X local rotations, root_translation
            (T, 3) world pelvis position in metres, SMPL-X axes.
        target: the armature's driven bones (``RigTarget``).
        root_motion: "pelvis" (all travel on the pelvis), "root" (floor-plane (SMPL-X x, z)
            travel on the ``target.root`` bone, the rest on the pelvis; for game-engine root
            motion; as "pelvis" when the target has no root bone). In place is the
            post-processing stage's (``postprocess.in_place``), before keying.
    Returns:
        {(bone name, "rotation_quaternion"): (T, 4) w-first unit quaternions, sign-continuous
        over time, for every bone of ``target``} plus {(bone name, "location"): (T, 3) in the
        bone's rest frame, armature units} for the pelvis (and the root bone with "root").
        Rotation keys come in ``target`` row order, then the root location, then the pelvis'.
    """
    if root_motion not in ROOT_MOTION_MODES:
        raise ValueError(f"root_motion must be 'pelvis' or 'root', got {root_motion!r}")
    local = np.asarray(motion.rotations, dtype=np.float64)  # (T, 22, 3, 3)
    T, num_joints = local.shape[:2]
    if np.any(target.joints >= num_joints):
        raise ValueError(f"target drives joints {target.joints.tolist()} but the motion has {num_joints}")
    G = skeleton.global_rotations(local)  # (T, 22, 3, 3)
    A = target.axes
    D = np.einsum("ab,tjbc,dc->tjad", A, G, A)  # (T, 22, 3, 3) armature-space deltas from rest
    Dj = D[:, target.joints]  # (T, J, 3, 3)
    has_parent = target.driven_parent >= 0
    Dp = D[:, np.where(has_parent, target.driven_parent, 0)]  # (T, J, 3, 3)
    Dp[:, ~has_parent] = np.eye(3)
    rel = np.swapaxes(Dp, -1, -2) @ Dj  # (T, J, 3, 3) D_p^T D_j
    M = target.rest  # (J, 3, 3)
    basis = np.swapaxes(M, -1, -2) @ rel @ M  # (T, J, 3, 3) M^T D_p^T D_j M
    q = rotations.quaternion_continuity(rotations.matrix_to_quaternion(basis))  # (T, J, 4)
    out = {(bone, "rotation_quaternion"): np.ascontiguousarray(q[:, i]) for i, bone in enumerate(target.bones)}

    pelvis_world = np.array(motion.root_translation, dtype=np.float64)  # (T, 3) metres, SMPL-X
    travel = np.zeros((T, 3))
    if root_motion == "root" and target.root is not None:
        travel[:, [0, 2]] = pelvis_world[:, [0, 2]]
        out[(target.root, "location")] = (target.scale * travel @ A.T) @ target.root_rest  # R^T v per row
    p = target.row(0)
    target_head = target.scale * (pelvis_world - travel) @ A.T  # (T, 3) armature space, armature units
    out[(target.bones[p], "location")] = (target_head - target.heads[p]) @ target.rest[p]  # M^T (v - h) per row
    return out
