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

Back (``motion_from_pose``: an armature's own animation as SMPL-X motion, to continue it): a
posed bone's armature-space rotation W_b gives G_j = A^T W_b M_b^T C_b^T A for the joint it
follows exactly, and its posed head the pelvis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from . import rotations, skeleton
from .ik import rotation_between, two_bone_positions

__all__ = [
    "SMPLX_TO_BLENDER",
    "ROOT_MOTION_MODES",
    "RigTarget",
    "canonical_bone_name",
    "match_joint_bones",
    "snap_axes",
    "axes_and_scale",
    "pose_channels",
    "motion_from_pose",
    "rest_corrections",
    "travel_scale",
    "SEGMENT_CHILD",
    "LEG_JOINTS",
]

#: SMPL-X (x, y, z) -> Blender armature space (x, -z, y): +90 degrees about X. Columns are
#: the SMPL-X x, y, z axes in Blender space.
SMPLX_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
#: What ``pose_channels`` can do with the travel (see there).
ROOT_MOTION_MODES = ("pelvis", "root")


#: The SMPL-X joint that ends each body joint's segment (the direction a bone of that joint
#: points in the rest pose): legs and arms down their chains, the spine up to the head.
SEGMENT_CHILD = {1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 9: 12, 12: 15, 13: 16, 14: 17,
                 16: 18, 17: 19, 18: 20, 19: 21}
#: (hip, knee, ankle, toe) SMPL-X joints of the left and right legs.
LEG_JOINTS = ((1, 4, 7, 10), (2, 5, 8, 11))
#: Metres above the floor (the source foot's lowest point) where feet stop being held to it.
CONTACT_HEIGHT = 0.05
#: Metres a foot may float or sink against the source's clearance before the leg is solved
#: (a near-straight knee turns degrees for millimetres: solving less keeps the transfer exact).
FLOOR_SLACK = 0.008
#: The longest a leg is stretched to reach the floor, as a fraction of its length.
STRAIGHTEST = 0.995
#: Joints whose bones keep their own rest relation to the world (no rest correction): the
#: feet, so a foot flat on the source's floor is flat on the target's, whatever either foot's
#: rest slope.
OWN_REST = frozenset({7, 8, 10, 11})


@dataclass(eq=False)
class RigTarget:
    """A target armature's driven bones, in numbers (armature space, armature units).

    Row i is one keyed bone. It turns with SMPL-X joint ``joints[i]`` and sits ``t[i]`` of the
    way from that joint to ``toward[i]`` along the SMPL-X chain (a chain with more or fewer
    bones than SMPL-X has there, ``bonemap``); with ``correct_rest`` it aims where the source
    points between its place and its chain child's. Rows come in any order; the pelvis
    (joint 0, t = 0) is required: its first row carries the location keys.

    Attributes:
        joints: (J,) int SMPL-X joint indices (``skeleton.JOINT_NAMES``) the rows follow.
        bones: J bone names, one per row.
        rest: (J, 3, 3) rest rotation of each bone in armature space (bone axes as
            columns: Blender's ``Bone.matrix_local.to_3x3()``).
        heads: (J, 3) rest head position of each bone, armature space, armature units.
        parent_row: (J,) int row of the nearest ancestor bone that is keyed (bones in between
            stay at rest), or -1 for none.
        axes: (3, 3) SMPL-X axes in armature space (columns: SMPL-X x, y, z; a rotation).
        scale: armature units per metre (1.0: metres; 100.0: centimetres).
        root: name of the pelvis' parent bone when it can carry root motion (a top-level
            bone), else None.
        root_rest: (3, 3) rest rotation of that bone (identity without one).
        toward, t: (J,) int and (J,) float, the place along the chain (default: ``joints``, 0).
        correct_rest: rotate each bone's rest direction onto the SMPL-X rest direction of its
            segment before the motion (an A-pose rest, a bent rest spine), and scale the
            pelvis' travel by the ratio of leg lengths (``travel_scale``); off for SMPL-X skeletons keyed as they
            are (our armatures), on for other rigs.
        feet: solve the legs (two-bone IK) so the feet land where the source's do, scaled by
            the leg-length ratio, and touch the target's floor as the source's touch its own.
        anchor: (row, (3,) rest point, armature space) whose posed position is the SMPL-X
            pelvis, when that is not the location bone's head (Rigify moves its ``torso``
            from the spine pivot, its hips hang below it); None: the location bone's head.
    """

    joints: np.ndarray
    bones: tuple
    rest: np.ndarray
    heads: np.ndarray
    parent_row: np.ndarray
    axes: np.ndarray = field(default_factory=lambda: SMPLX_TO_BLENDER.copy())
    scale: float = 1.0
    root: str | None = None
    root_rest: np.ndarray = field(default_factory=lambda: np.eye(3))
    toward: np.ndarray | None = None
    t: np.ndarray | None = None
    correct_rest: bool = False
    feet: bool = False
    anchor: tuple | None = None

    def __post_init__(self):
        self.joints = np.asarray(self.joints, dtype=np.int64).reshape(-1)
        self.bones = tuple(str(b) for b in self.bones)
        self.rest = np.asarray(self.rest, dtype=np.float64)
        self.heads = np.asarray(self.heads, dtype=np.float64)
        self.parent_row = np.asarray(self.parent_row, dtype=np.int64).reshape(-1)
        self.axes = np.asarray(self.axes, dtype=np.float64)
        self.scale = float(self.scale)
        self.root_rest = np.asarray(self.root_rest, dtype=np.float64)
        J = len(self.joints)
        self.toward = self.joints.copy() if self.toward is None else np.asarray(self.toward, dtype=np.int64).reshape(-1)
        self.t = np.zeros(J) if self.t is None else np.asarray(self.t, dtype=np.float64).reshape(-1)
        if (len(self.bones) != J or self.rest.shape != (J, 3, 3) or self.heads.shape != (J, 3)
                or self.parent_row.shape != (J,) or self.toward.shape != (J,) or self.t.shape != (J,)):
            raise ValueError(f"RigTarget: {J} joints but {len(self.bones)} bones, rest {self.rest.shape}, "
                             f"heads {self.heads.shape}, parent_row {self.parent_row.shape}, toward "
                             f"{self.toward.shape}, t {self.t.shape} (expected J, (J, 3, 3), (J, 3), (J,))")
        if self.axes.shape != (3, 3) or self.root_rest.shape != (3, 3):
            raise ValueError(f"RigTarget: axes {self.axes.shape} and root_rest {self.root_rest.shape} must be (3, 3)")
        if len(set(self.bones)) != J or np.any(self.joints < 0) or np.any(self.toward < 0):
            raise ValueError(f"RigTarget: bones must be distinct and joints SMPL-X indices, got {self.joints.tolist()}")
        if np.any((self.t < 0) | (self.t > 1)):
            raise ValueError(f"RigTarget: chain blends t must be in [0, 1], got {self.t.tolist()}")
        if not np.any((self.joints == 0) & (self.t == 0)):
            raise ValueError("RigTarget: no pelvis bone (joint 0)")
        if np.any((self.parent_row < -1) | (self.parent_row >= J)) or np.any(self.parent_row == np.arange(J)):
            raise ValueError(f"RigTarget: parent_row {self.parent_row.tolist()} must name other rows or -1")
        if not self.scale > 0:
            raise ValueError(f"RigTarget: scale must be > 0, got {self.scale}")
        if self.anchor is not None:
            row, point = self.anchor
            if not 0 <= int(row) < J:
                raise ValueError(f"RigTarget: anchor row {row} is not a row")
            self.anchor = (int(row), np.asarray(point, dtype=np.float64).reshape(3))

    @property
    def joint_bones(self) -> dict[int, str]:
        """SMPL-X joint index -> the first bone following it exactly (t = 0), in row order."""
        out: dict[int, str] = {}
        for j, b, t in zip(self.joints.tolist(), self.bones, self.t.tolist()):
            if t == 0:
                out.setdefault(int(j), b)
        return out

    def row(self, joint: int) -> int:
        """The first row following SMPL-X joint ``joint`` exactly (ValueError when none does)."""
        hits = np.flatnonzero((self.joints == joint) & (self.t == 0))
        if not len(hits):
            raise ValueError(f"RigTarget: no bone for joint {joint}")
        return int(hits[0])

    def order(self) -> np.ndarray:
        """(J,) rows with every row after its ``parent_row``."""
        depth = np.zeros(len(self.joints), dtype=np.int64)
        for i in range(len(depth)):  # over rows: follow each row's chain up
            p = self.parent_row[i]
            while p >= 0:
                depth[i] += 1
                p = self.parent_row[p]
        return np.argsort(depth, kind="stable")

    @classmethod
    def from_bones(cls, joint_bones: Mapping[int, str], parent_of: Mapping[str, str | None],
                   rest: Mapping[str, np.ndarray], heads: Mapping[str, np.ndarray],
                   axes: np.ndarray | None = None, scale: float | None = None, **options) -> "RigTarget":
        """A target whose bones each follow one SMPL-X joint (``joint_bones``: joint -> bone);
        see ``from_slots``."""
        return cls.from_slots({b: (int(j), int(j), 0.0) for j, b in joint_bones.items()}, parent_of, rest, heads,
                              axes=axes, scale=scale, **options)

    @classmethod
    def from_slots(cls, slots: Mapping[str, tuple], parent_of: Mapping[str, str | None],
                   rest: Mapping[str, np.ndarray], heads: Mapping[str, np.ndarray],
                   axes: np.ndarray | None = None, scale: float | None = None, **options) -> "RigTarget":
        """A target from an armature's bone hierarchy (what a reader of a rig has at hand).

        Args:
            slots: bone name -> (joint, toward, t): what each keyed bone follows (``bonemap``);
                its order is the row order.
            parent_of: bone name -> parent bone name (None for a top-level bone), for every
                bone on the way from a keyed bone up to the top (unkeyed ones included).
            rest: bone name -> (3, 3) rest rotation, armature space (keyed bones, and the
                pelvis' parent when it is a top-level bone).
            heads: bone name -> (3,) rest head, armature space, armature units (keyed bones).
            axes: (3, 3) SMPL-X axes in armature space; None: estimated with
                ``axes_and_scale`` from the heads of the bones following joints exactly.
            scale: armature units per metre; None: estimated with the axes when those are,
                else 1.0.
            options: ``correct_rest``, ``feet`` (see the class).
        """
        names = list(slots)
        joints = [int(slots[b][0]) for b in names]
        row_of = {b: i for i, b in enumerate(names)}
        parent_row = []
        for b in names:
            parent = parent_of.get(b)
            while parent is not None and parent not in row_of:
                parent = parent_of.get(parent)
            parent_row.append(-1 if parent is None else row_of[parent])
        pelvis = next((b for b in names if slots[b][0] == 0 and float(slots[b][2]) == 0.0), None)
        if pelvis is None:
            raise ValueError("RigTarget: no pelvis bone (joint 0)")
        pelvis_parent = parent_of.get(pelvis)
        root = pelvis_parent if pelvis_parent is not None and parent_of.get(pelvis_parent) is None else None
        root_rest = np.asarray(rest[root], dtype=np.float64) if root else np.eye(3)
        head_rows = np.array([heads[b] for b in names], dtype=np.float64).reshape(len(names), 3)
        if axes is None:
            exact = [i for i, b in enumerate(names) if float(slots[b][2]) == 0.0]
            exact = [i for i in exact if joints[i] not in [joints[k] for k in exact if k < i]]
            axes, estimated = axes_and_scale(head_rows[exact], [joints[i] for i in exact])
            scale = estimated if scale is None else scale
        elif scale is None:
            scale = 1.0
        return cls(joints=joints, bones=names, rest=np.array([rest[b] for b in names], dtype=np.float64).reshape(-1, 3, 3),
                   heads=head_rows, parent_row=parent_row, axes=axes, scale=scale, root=root, root_rest=root_rest,
                   toward=[int(slots[b][1]) for b in names], t=[float(slots[b][2]) for b in names], **options)


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

def _source_rest(motion, target: RigTarget) -> np.ndarray:
    """(22, 3) the motion's rest joints in armature space and units, lowest joint on z = 0
    along the up axis (SMPL-X's floor at the source's lowest rest joint)."""
    P = skeleton.rest_positions(np.asarray(motion.rest_offsets())[: skeleton.NUM_BODY_JOINTS])  # (22, 3) SMPL-X
    P = P - np.array([0.0, P[:, 1].min(), 0.0])
    return target.scale * P @ target.axes.T


def _chain_next(target: RigTarget, places: np.ndarray) -> np.ndarray:
    """(J,) for each row the keyed descendant row that continues its chain: the nearest one at
    another place along the SMPL-X chain (``places`` (J, 3) rest points of the rows), looking
    past keyed children at the same place (UE5's two neck bones on SMPL-X's one neck), or one
    following its joint's SMPL-X parent (a chain hung upside down: Rigify's FK hips hang from
    the spine pivot, ``spine_fk.001`` at spine2 turning with spine1 above ``spine_fk`` at
    spine1); -1 for the pelvis, bones that end a chain (head, hands) and the feet (``OWN_REST``)."""
    J = len(target.joints)
    nxt = np.full(J, -1)
    for b in range(J):  # over rows (tens): each looks down its keyed children
        if (target.joints[b] == 0 and target.t[b] == 0) or int(target.joints[b]) in OWN_REST:
            continue
        follows = {int(target.joints[b]), int(target.toward[b])}
        follows |= {SEGMENT_CHILD[j] for j in follows if j in SEGMENT_CHILD}
        follows |= {int(skeleton.PARENTS[target.joints[b]])} - {-1}  # a chain hanging down from its top
        found, frontier = [], [b]
        while frontier and not found:
            kids = [n for f in frontier for n in np.flatnonzero(target.parent_row == f)
                    if int(target.joints[n]) in follows]
            found = [n for n in kids if np.linalg.norm(places[n] - places[b]) > 1e-9 * target.scale]
            frontier = [n for n in kids if n not in found]
        if found:
            nxt[b] = min(found, key=lambda k: np.linalg.norm(places[k] - places[b]))
    return nxt


def _places(target: RigTarget, points: np.ndarray) -> np.ndarray:
    """(..., J, 3) where each row sits along the SMPL-X chain, from joint points (..., 22, 3):
    ``joints`` moved ``t`` of the way to ``toward``."""
    a, b = points[..., target.joints, :], points[..., target.toward, :]
    return a + target.t[:, None] * (b - a)


def rest_corrections(target: RigTarget, source_rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row rotations (J, 3, 3) taking each bone's rest segment direction (its head to the
    head of the keyed child that continues its chain, ``_chain_next``) onto the source's rest
    direction between the same places of the SMPL-X skeleton (armature space), and those
    child rows (J,) (-1: identity, for the pelvis and bones that end a chain)."""
    Q = _places(target, source_rest)  # (J, 3)
    nxt = _chain_next(target, Q)
    C = np.broadcast_to(np.eye(3), (len(nxt), 3, 3)).copy()
    has = nxt >= 0
    C[has] = rotation_between(target.heads[nxt[has]] - target.heads[has], Q[nxt[has]] - Q[has])
    return C, nxt


def _aim(target: RigTarget, W: np.ndarray, nxt: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``W`` with each bone that continues a chain swung (its twist kept) to point where the
    source points between its place and its chain child's: exact limb directions also where a
    target bone spans several SMPL-X segments or a part of one. ``source``: (T, 22, 3) posed
    source joints, armature space."""
    has = np.flatnonzero(nxt >= 0)
    Q = _places(target, source)  # (T, J, 3)
    want = Q[:, nxt[has]] - Q[:, has]  # (T, K, 3)
    rest_dir = np.swapaxes(target.rest[has], -1, -2) @ (target.heads[nxt[has]] - target.heads[has])[..., None]
    now = (W[:, has] @ rest_dir)[..., 0]  # (T, K, 3) posed directions
    W = W.copy()
    W[:, has] = rotation_between(now, want) @ W[:, has]
    return W


def travel_scale(target: RigTarget, source_rest: np.ndarray) -> tuple[float, float]:
    """How source heights and travel map onto the target: (ratio, lift).

    ``ratio`` is the target's leg length over the source's (hip -> knee -> ankle, both legs;
    the hip heights above the lowest rest joint where a leg is not mapped): a point p of the
    source (armature space and units) goes to ``ratio * p + lift * up``, so the pelvis stands
    at the target's own rest height, and a step, a crouch or a jump is ``ratio`` times the
    source's (no sliding when the legs keep the source's proportions). ``lift`` is in
    armature units along the up axis; the target's pelvis is its ``anchor`` point where it has
    one (Rigify's hips sit below its torso's head). ``source_rest``: (22, 3) the source's rest
    joints, armature space and units, its lowest joint at 0 along up."""
    up = target.axes[:, 1]
    tgt_up = target.heads @ up
    present = np.unique(target.joints[target.t == 0])
    src_h = source_rest[0] @ up - (source_rest[present] @ up).min()
    pelvis = target.heads[target.row(0)] if target.anchor is None else target.anchor[1]  # where the pelvis is
    tgt_h = pelvis @ up - tgt_up.min()
    legs_t, legs_s = 0.0, 0.0
    for hip, knee, ankle, _ in LEG_JOINTS:
        try:
            rows = [target.row(j) for j in (hip, knee, ankle)]
        except ValueError:
            continue
        legs_t += np.linalg.norm(np.diff(target.heads[rows], axis=0), axis=1).sum()
        legs_s += np.linalg.norm(np.diff(source_rest[[hip, knee, ankle]], axis=0), axis=1).sum()
    if legs_s > 0:
        ratio = float(legs_t / legs_s)
    else:
        ratio = float(tgt_h / src_h) if src_h > 0 else 1.0
    return ratio, float(tgt_up.min() + tgt_h - ratio * src_h)


def _posed_heads(target: RigTarget, W: np.ndarray, pelvis_head: np.ndarray) -> np.ndarray:
    """(T, J, 3) posed heads of every row, armature space: each row's rest offset from its keyed
    parent, turned by the parent's posed rotation (unkeyed bones between stay at rest)."""
    T, J = W.shape[:2]
    out = np.broadcast_to(target.heads, (T, J, 3)).copy()
    p0 = target.row(0)
    out[:, p0] = pelvis_head
    M = target.rest
    for b in target.order():  # over rows, parents first
        p = target.parent_row[b]
        if p >= 0 and b != p0:
            local = M[p].T @ (target.heads[b] - target.heads[p])  # (3,) in the parent's rest frame
            out[:, b] = out[:, p] + W[:, p] @ local
    return out


def _pitch_foot(target: RigTarget, Wa: np.ndarray, heads: np.ndarray, ra: int, rt: int, S: np.ndarray,
                source_rest: np.ndarray, ankle: int, toe: int, unit: float) -> tuple[np.ndarray, np.ndarray]:
    """The foot (ankle row ``ra``, posed rotations ``Wa`` (T, 3, 3)) tipped about its ankle,
    its heading kept, so that its toe (row ``rt``) sinks below or rises above the ankle by what
    the source toe does against its ankle (``_plant_feet``'s arguments): a foot shorter than
    the source's keeps its toe down as the heel comes up. Fully with the source toe on the
    floor, fading out ``CONTACT_HEIGHT`` above it; no segment of the legs turns for it.
    Returns (Wa, heads) with the toe's head moved."""
    up = target.axes[:, 1]
    foot = heads[:, rt] - heads[:, ra]  # (T, 3) posed ankle -> toe
    length = np.linalg.norm(foot, axis=1)
    drop_src = (S[:, toe] - source_rest[toe] - S[:, ankle] + source_rest[ankle]) @ up  # (T,)
    touch = np.clip(1.0 - (S[:, toe] - source_rest[toe]) @ up / (CONTACT_HEIGHT * unit), 0.0, 1.0)
    rise = foot @ up
    want = rise + touch * ((target.heads[rt] - target.heads[ra]) @ up + drop_src - rise)
    want = np.clip(want, -0.999 * length, 0.999 * length)
    flat = foot - rise[:, None] * up  # the heading (a foot pointing straight up or down keeps its pitch)
    keep = np.linalg.norm(flat, axis=1) < 1e-6 * np.maximum(length, 1e-12)
    flat[keep] = foot[keep]
    flat /= np.linalg.norm(flat, axis=1, keepdims=True)
    tipped = np.sqrt(length ** 2 - want ** 2)[:, None] * flat + want[:, None] * up
    tipped[keep] = foot[keep]
    turn = rotation_between(foot, tipped)  # (T, 3, 3) about the foot's side axis
    heads = heads.copy()
    heads[:, rt] = heads[:, ra] + np.einsum("tij,tj->ti", turn, foot)
    return turn @ Wa, heads


def _plant_feet(target: RigTarget, W: np.ndarray, heads: np.ndarray, source_rest: np.ndarray,
                S: np.ndarray, unit: float) -> np.ndarray:
    """``W`` with each foot tipped so its toe drops below its ankle as the source's does
    (``_pitch_foot``), then each leg's hip and knee turned (two-bone IK) so the ankle, where
    the transfer put it, is raised or lowered until the foot's lowest point clears the
    target's floor as the source foot clears its own (``S``: (T, 22, 3) posed source joints, ``source_rest`` (22, 3)
    its rest, both in target armature space, ``travel_scale``), to within ``FLOOR_SLACK``:
    fully on the floor, fading out ``CONTACT_HEIGHT`` above it (``unit``: armature units per
    source metre). The knee stays in its bend plane; a foot the straight leg cannot lower
    keeps its height.
    ``heads``: (T, J, 3) the posed heads before the solve."""
    up = target.axes[:, 1]
    forward = target.axes[:, 2]
    W = W.copy()
    for hip, knee, ankle, toe in LEG_JOINTS:
        try:
            rh, rk, ra = target.row(hip), target.row(knee), target.row(ankle)
        except ValueError:
            continue  # a leg the map lacks keeps its transfer
        feet = [ankle] + ([toe] if toe in target.joints[target.t == 0] else [])
        rows = [target.row(j) for j in feet]
        if len(rows) == 2:  # the toe first: it drops below the ankle as the source's does
            W[:, ra], heads = _pitch_foot(target, W[:, ra], heads, ra, rows[1], S, source_rest, ankle, toe, unit)
        H, K, A = heads[:, rh], heads[:, rk], heads[:, ra]
        goal = A.copy()  # (T, 3) where the transfer puts the ankle: only its height is corrected
        clear_src = np.min([(S[:, j] - source_rest[j]) @ up for j in feet], axis=0)  # (T,)
        moved = [heads[:, r] - heads[:, ra] + goal for r in rows]  # foot points with the ankle on the goal
        clear_tgt = np.min([(m - target.heads[r]) @ up for m, r in zip(moved, rows)], axis=0)
        # Near the floor the target foot clears it as the source's does; higher up the leg keeps
        # its transfer (a foot of other proportions would otherwise bend the knee in the air).
        touch = np.clip(1.0 - clear_src / (CONTACT_HEIGHT * unit), 0.0, 1.0)  # (T,) 1 on the floor
        miss = touch * (clear_src - clear_tgt)  # (T,) how far the foot floats (< 0) or sinks (> 0)
        goal += (np.sign(miss) * np.maximum(np.abs(miss) - FLOOR_SLACK * unit, 0.0))[:, None] * up
        upper = np.linalg.norm(target.heads[rk] - target.heads[rh])
        lower = np.linalg.norm(target.heads[ra] - target.heads[rk])
        # a goal the leg can only reach by snapping straight is pulled back (a knee never pops)
        far, now = np.linalg.norm(goal - H, axis=1), np.linalg.norm(A - H, axis=1)
        allowed = np.maximum(now, STRAIGHTEST * (upper + lower))
        goal = H + (goal - H) * np.minimum(1.0, allowed / np.maximum(far, 1e-12))[:, None]
        K2, A2 = two_bone_positions(H, K, goal, upper, lower, pole=forward)
        turn_hip = rotation_between(K - H, K2 - H)  # (T, 3, 3)
        turn_knee = rotation_between(np.einsum("tij,tj->ti", turn_hip, A - K), A2 - K2)
        W[:, rh] = turn_hip @ W[:, rh]
        W[:, rk] = turn_knee @ turn_hip @ W[:, rk]
    return W


def pose_channels(motion, target: RigTarget, root_motion: str = "pelvis") -> dict:
    """Per-channel key values for ``motion`` on ``target`` (see the module docstring's maths).

    Each row's posed armature-space rotation is ``W_b = D_j C_b M_b``: D_j the SMPL-X world
    delta of the joint it follows, C_b its rest correction (``rest_corrections``; identity
    unless ``target.correct_rest``, which also swings each bone to aim where the source points,
    ``_aim``), M_b its rest; the key is ``M_b^T M_p W_p^T W_b`` (p its keyed parent row). The
    pelvis goes to ``r * scale * A @ pelvis_world + lift * up`` (``travel_scale`` with
    ``correct_rest`` or ``feet``, else r = 1, lift = 0). With ``target.feet`` the legs are then
    solved so the feet land and touch the floor as the source's do (``_plant_feet``).

    Args:
        motion: ``Motion``: rotations (T, 22, 3, 3) SMPL-X local rotations, root_translation
            (T, 3) world pelvis position in metres, SMPL-X axes.
        target: the armature's keyed bones (``RigTarget``).
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
    if np.any(target.joints >= num_joints) or np.any(target.toward >= num_joints):
        raise ValueError(f"target drives joints {target.joints.tolist()} but the motion has {num_joints}")
    G = skeleton.global_rotations(local)  # (T, 22, 3, 3)
    A = target.axes
    D = A @ G @ A.T  # (T, 22, 3, 3) armature-space deltas from rest
    M = target.rest  # (J, 3, 3)
    W = D[:, target.joints] @ M  # (T, J, 3, 3) posed armature-space rotations
    ratio, lift = 1.0, 0.0
    if target.correct_rest or target.feet:
        src_rest = _source_rest(motion, target)
        ratio, lift = travel_scale(target, src_rest)
        src_rest = lift * A[:, 1] + ratio * src_rest

    def to_target(x: np.ndarray) -> np.ndarray:
        """SMPL-X metres (..., 3) -> target armature space (``travel_scale``)."""
        return lift * A[:, 1] + ratio * target.scale * x @ A.T

    source = None
    if target.correct_rest:
        C, nxt = rest_corrections(target, src_rest)
        source = to_target(motion.joint_positions()[:, : skeleton.NUM_BODY_JOINTS])  # (T, 22, 3)
        W = _aim(target, D[:, target.joints] @ C @ M, nxt, source)
    pelvis_head = to_target(np.asarray(motion.root_translation, dtype=np.float64))  # (T, 3)
    if target.anchor is not None:  # the location bone's head goes where it puts the anchor on the pelvis
        row, point = target.anchor
        zero = _posed_heads(target, W, np.zeros(3))[:, row]  # (T, 3) with the location bone's head at 0
        pelvis_head = pelvis_head - (zero + W[:, row] @ (M[row].T @ (point - target.heads[row])))
    if target.feet:
        if source is None:
            source = to_target(motion.joint_positions()[:, : skeleton.NUM_BODY_JOINTS])
        W = _plant_feet(target, W, _posed_heads(target, W, pelvis_head), src_rest, source, ratio * target.scale)

    has_parent = target.parent_row >= 0
    Wp = W[:, np.where(has_parent, target.parent_row, 0)]  # (T, J, 3, 3)
    Mp = M[np.where(has_parent, target.parent_row, 0)]
    parent = np.where(has_parent[None, :, None, None], Wp @ np.swapaxes(Mp, -1, -2), np.eye(3))  # W_p M_p^T
    basis = np.swapaxes(M, -1, -2) @ np.swapaxes(parent, -1, -2) @ W  # (T, J, 3, 3) M^T (W_p M_p^T)^T W
    q = rotations.quaternion_continuity(rotations.matrix_to_quaternion(basis))  # (T, J, 4)
    out = {(bone, "rotation_quaternion"): np.ascontiguousarray(q[:, i]) for i, bone in enumerate(target.bones)}

    travel = np.zeros((T, 3))
    if root_motion == "root" and target.root is not None:
        travel = pelvis_head - (pelvis_head @ A[:, 1])[:, None] * A[:, 1]  # the floor-plane part
        out[(target.root, "location")] = travel @ target.root_rest  # R^T v per row
    p = target.row(0)
    out[(target.bones[p], "location")] = (pelvis_head - travel - target.heads[p]) @ target.rest[p]  # M^T (v - h)
    return out


def motion_from_pose(target: RigTarget, W: np.ndarray, heads: np.ndarray, fps: float = 30.0,
                     rest: np.ndarray | None = None):
    """The SMPL-X motion a target's posed bones show (an animator's own animation on the rig):
    what ``pose_channels`` keys, read back.

    Each joint a row follows exactly (t = 0) takes that bone's world rotation with its rest
    (and rest correction) taken out, ``G_j = A^T W_b (C_b M_b)^T A``; a joint no bone follows
    keeps its parent's world rotation; the pelvis is the location bone's posed head (or the
    target's ``anchor`` point on it), back in metres (and, with ``correct_rest`` or ``feet``,
    through the inverse of ``travel_scale``).

    Exact for targets keyed as SMPL-X skeletons (no ``correct_rest`` / ``feet``: our armatures,
    SMPL-X-named rigs): ``pose_channels`` of the result keys the same pose. For other rigs it
    is the motion up to what ``pose_channels`` adds per frame on top of the rest correction
    (each bone aimed along the source's segment, the legs solved onto the floor), so limb
    directions agree and twists and the feet come from the rig.

    Args:
        target: the armature's keyed bones (``RigTarget``).
        W: (T, J, 3, 3) posed armature-space rotations of the target's rows (Blender's
            ``PoseBone.matrix``, 3 x 3 part, without scale).
        heads: (T, J, 3) posed heads of the rows, armature space and units (``PoseBone.head``).
        fps: the frame rate of the frames given.
        rest: (22, 3) SMPL-X rest offsets (metres) the motion gets; None: the target's own rest
            bones for SMPL-X skeletons (joints whose bone and parent's bone are both keyed),
            the shipped subject's for other rigs and for joints without bones.
    Returns:
        ``Motion``: (T, 22, 3, 3) local rotations, (T, 3) world pelvis in metres, SMPL-X axes.
    """
    from .motion import Motion

    W = np.asarray(W, dtype=np.float64)
    heads = np.asarray(heads, dtype=np.float64)
    T, J = W.shape[:2]
    if W.shape != (T, J, 3, 3) or heads.shape != (T, J, 3) or J != len(target.joints) or T < 1:
        raise ValueError(f"motion_from_pose: W {W.shape} and heads {heads.shape} must be (T, {len(target.joints)}, "
                         "3, 3) and (T, J, 3) for the target's rows")
    A, M = target.axes, target.rest
    n = skeleton.NUM_BODY_JOINTS
    parents = skeleton.BODY_PARENTS
    exact = target.joint_bones  # joint -> bone
    rows = {j: target.bones.index(b) for j, b in exact.items() if j < n}
    if rest is None:
        rest = np.array(skeleton.DEFAULT_REST_OFFSETS, dtype=np.float64)[:n].copy()
        if not (target.correct_rest or target.feet):
            for j, r in rows.items():
                if j and parents[j] in rows:
                    rest[j] = A.T @ (target.heads[r] - target.heads[rows[parents[j]]]) / target.scale
    rest = np.asarray(rest, dtype=np.float64)
    CM = M
    ratio, lift = 1.0, 0.0
    if target.correct_rest or target.feet:
        src_rest = _source_rest(Motion(np.broadcast_to(np.eye(3), (1, n, 3, 3)), np.zeros((1, 3)), rest=rest), target)
        ratio, lift = travel_scale(target, src_rest)
        if target.correct_rest:
            C, _ = rest_corrections(target, lift * A[:, 1] + ratio * src_rest)
            CM = C @ M
    G = np.empty((T, n, 3, 3))
    for j in range(n):  # over the 22 joints, parents first
        if j in rows:
            r = rows[j]
            G[:, j] = A.T @ W[:, r] @ CM[r].T @ A
        else:
            G[:, j] = G[:, parents[j]] if j else np.eye(3)
    local = G.copy()
    local[:, 1:] = np.swapaxes(G[:, parents[1:]], -1, -2) @ G[:, 1:]
    p = target.row(0)
    pelvis = heads[:, p]
    if target.anchor is not None:
        r, point = target.anchor
        pelvis = heads[:, r] + (W[:, r] @ (M[r].T @ (point - target.heads[r])))
    root = ((pelvis - lift * A[:, 1]) @ A) / (ratio * target.scale)  # A^T v per row
    # re-orthonormalise (float32 pose matrices): the nearest rotation of each
    U, _, Vt = np.linalg.svd(local)
    local = U @ Vt
    return Motion(local, root, fps=fps, rest=rest)
