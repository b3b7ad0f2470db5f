"""The SMPL-X skeleton: joint names, parents, rest skeletons, forward kinematics.

SMPL-X space: metres, +Y up, the body faces +Z, left is +X. At rest (all local rotations
identity) every joint frame is aligned with the world axes (T-pose).
A local rotation R_j rotates joint j's children about joint j in the parent's frame:
``G_j = G_parent @ R_j`` and ``p_child = p_parent + G_parent @ offset_child``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "JOINT_NAMES",
    "PARENTS",
    "NUM_BODY_JOINTS",
    "BODY_JOINT_NAMES",
    "BODY_PARENTS",
    "KINEMATIC_CHAINS",
    "CHAIN_COLORS",
    "ANKLE_JOINTS",
    "TOE_JOINTS",
    "FOOT_JOINTS",
    "LEG_CHAINS",
    "DEFAULT_REST_OFFSETS",
    "DEFAULT_REST_PELVIS",
    "DEFAULT_BETAS",
    "EXTRA_REST_OFFSETS",
    "full_rest_offsets",
    "rest_positions",
    "forward_kinematics",
    "global_rotations",
    "estimate_rest_offsets",
]

NUM_BODY_JOINTS = 22

_FINGERS = ("index", "middle", "pinky", "ring", "thumb")

#: The 55 SMPL-X joints, spelled as the official SMPL-X Blender add-on names its bones.
JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
) + tuple(f"{side}_{finger}{k}" for side in ("left", "right") for finger in _FINGERS for k in (1, 2, 3))


def _hand_parents(wrist: int, first: int) -> list[int]:
    # Each finger: joint 1 hangs from the wrist, joint 2 from joint 1, joint 3 from joint 2.
    out = []
    for f in range(len(_FINGERS)):
        base = first + 3 * f
        out += [wrist, base, base + 1]
    return out


#: Parent index of each of the 55 joints (-1 for the pelvis).
PARENTS: tuple[int, ...] = tuple(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
    + _hand_parents(20, 25)
    + _hand_parents(21, 40)
)

BODY_JOINT_NAMES = JOINT_NAMES[:NUM_BODY_JOINTS]
BODY_PARENTS = PARENTS[:NUM_BODY_JOINTS]

#: The five chains the skeleton preview draws (legs, spine, arms), as in the release.
KINEMATIC_CHAINS: tuple[tuple[int, ...], ...] = (
    (0, 2, 5, 8, 11),
    (0, 1, 4, 7, 10),
    (0, 3, 6, 9, 12, 15),
    (9, 14, 17, 19, 21),
    (9, 13, 16, 18, 20),
)
#: RGB colour of each chain (right side red, left side blue, spine black), as in the release.
CHAIN_COLORS: tuple[tuple[int, int, int], ...] = (
    (220, 30, 30), (30, 60, 220), (20, 20, 20), (220, 30, 30), (30, 60, 220),
)

#: The feet, (left, right) each. ``ANKLE_JOINTS``: the ankles. ``TOE_JOINTS``: the joints SMPL-X
#: names ``left_foot`` / ``right_foot``, at the ball of the foot (about 6 cm below and 13 cm ahead
#: of the ankle at rest): the point that stays planted when the heel rises.
ANKLE_JOINTS: tuple[int, int] = (JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle"))
TOE_JOINTS: tuple[int, int] = (JOINT_NAMES.index("left_foot"), JOINT_NAMES.index("right_foot"))
#: All four foot joints: left ankle, right ankle, left toe, right toe.
FOOT_JOINTS: tuple[int, ...] = ANKLE_JOINTS + TOE_JOINTS
#: (hip, knee, ankle) joint indices of the left and right leg: the two-bone IK chains.
LEG_CHAINS: tuple[tuple[int, int, int], tuple[int, int, int]] = tuple(
    tuple(JOINT_NAMES.index(f"{side}_{name}") for name in ("hip", "knee", "ankle")) for side in ("left", "right")
)

#: Rest offsets child - parent (22, 3) metres, SMPL-X axes: one real SMPL-X subject, rounded
#: to 1e-6 m. They were estimated from a public 272-representation sample clip, whose per-frame
#: offsets agree to 1e-7 m (``estimate_rest_offsets`` recomputes them from such a clip).
DEFAULT_REST_OFFSETS = np.array([
    [0.000000, 0.000000, 0.000000],
    [0.060758, -0.104788, -0.026771],
    [-0.065653, -0.118329, -0.020401],
    [-0.003170, 0.126516, -0.031888],
    [0.056566, -0.400002, -0.006020],
    [-0.045446, -0.380639, -0.015117],
    [0.012039, 0.166901, -0.007720],
    [-0.047776, -0.429028, -0.034209],
    [0.016858, -0.437616, -0.021376],
    [-0.012639, 0.064259, 0.029137],
    [0.052491, -0.062578, 0.129875],
    [-0.042256, -0.062529, 0.130587],
    [-0.014261, 0.185183, -0.029834],
    [0.050631, 0.095591, -0.004708],
    [-0.053673, 0.095021, -0.011255],
    [0.028121, 0.168941, 0.019871],
    [0.136968, 0.065424, -0.018599],
    [-0.118268, 0.059966, -0.015602],
    [0.269833, -0.076459, -0.046734],
    [-0.289772, -0.036401, -0.029384],
    [0.274523, 0.025399, 0.000503],
    [-0.270716, -0.005347, -0.013416],
])
DEFAULT_REST_OFFSETS.flags.writeable = False

#: Rest pelvis of that subject relative to SMPL-X ``transl`` (SMPL-X puts the pelvis at
#: J0(betas) + transl, so ``transl = pelvis - DEFAULT_REST_PELVIS`` without model files).
DEFAULT_REST_PELVIS = np.array([0.002977, -0.416197, 0.014672])
DEFAULT_REST_PELVIS.flags.writeable = False

#: That subject's SMPL-X shape coefficients (10). Files we write carry them, so an SMPL-X body
#: built from them (neutral model) has exactly the default rest skeleton and pelvis above.
DEFAULT_BETAS = np.array([1.6887326, -0.29519778, 1.247251, 0.25786662, -1.1679572,
                          -2.300789, 0.16687013, 1.0944815, 1.6244136, 1.0445964])
DEFAULT_BETAS.flags.writeable = False


#: Rest offsets child - parent (33, 3) metres, SMPL-X axes, of joints 22..54 (jaw, eyes, 30 finger
#: joints) for the same subject as ``DEFAULT_REST_OFFSETS``: estimated from the public
#: reference clip (clip000000_joints55.npy with its smplx85 rotations, per-frame spread < 6e-8 m).
EXTRA_REST_OFFSETS = np.array([
    [-0.018563, -0.000550, -0.005963], [0.020552, 0.044863, 0.070721], [-0.046686, 0.044863, 0.070720],
    [0.113308, -0.008761, 0.021717], [0.034167, 0.002606, 0.003117], [0.024021, -0.002590, -0.000221],
    [0.121662, -0.006044, -0.004198], [0.032820, 0.000970, -0.004219], [0.025062, -0.002309, -0.004428],
    [0.093912, -0.015202, -0.048446], [0.017128, -0.001393, -0.012859], [0.016859, -0.002062, -0.011828],
    [0.108693, -0.009255, -0.030319], [0.030438, 0.001733, -0.005697], [0.024459, -0.001700, -0.007590],
    [0.045660, -0.019976, 0.029388], [0.018634, 0.001362, 0.027742], [0.022265, -0.005593, 0.016888],
    [-0.111246, -0.012045, 0.021836], [-0.034168, 0.002605, 0.003118], [-0.024021, -0.002589, -0.000220],
    [-0.119601, -0.009327, -0.004080], [-0.032820, 0.000970, -0.004220], [-0.025062, -0.002310, -0.004428],
    [-0.091851, -0.018486, -0.048329], [-0.017128, -0.001394, -0.012858], [-0.016859, -0.002062, -0.011827],
    [-0.106632, -0.012538, -0.030203], [-0.030438, 0.001733, -0.005697], [-0.024459, -0.001700, -0.007588],
    [-0.043598, -0.023263, 0.029509], [-0.018633, 0.001363, 0.027741], [-0.022267, -0.005590, 0.016887],
])
EXTRA_REST_OFFSETS.flags.writeable = False


def full_rest_offsets(body_offsets: np.ndarray) -> np.ndarray:
    """(55, 3) rest offsets: the given body (22, 3) (or all 55) plus the default jaw/eyes/hands."""
    body_offsets = np.asarray(body_offsets, dtype=np.float64)
    if body_offsets.shape == (len(JOINT_NAMES), 3):
        return body_offsets.copy()
    if body_offsets.shape != (NUM_BODY_JOINTS, 3):
        raise ValueError(f"rest offsets must be (22, 3) or (55, 3), got {body_offsets.shape}")
    return np.concatenate([body_offsets, EXTRA_REST_OFFSETS], axis=0)


def _parents_for(num_joints: int, parents) -> np.ndarray:
    parents = np.asarray(PARENTS[:num_joints] if parents is None else parents)
    if len(parents) != num_joints:
        raise ValueError(f"{len(parents)} parents for {num_joints} joints")
    if np.any(parents[1:] >= np.arange(1, num_joints)):
        raise ValueError("parents must precede their children")
    return parents


def rest_positions(offsets: np.ndarray, parents=None) -> np.ndarray:
    """Rest (T-pose) joint positions from offsets, pelvis at the origin.

    Args:
        offsets: (J, 3) child - parent offsets, metres.
    Returns:
        (J, 3) positions, metres.
    """
    offsets = np.asarray(offsets, dtype=np.float64)
    parents = _parents_for(len(offsets), parents)
    pos = np.zeros_like(offsets)
    for j in range(1, len(offsets)):  # over joints (22), not frames
        pos[j] = pos[parents[j]] + offsets[j]
    return pos


def forward_kinematics(local_rots: np.ndarray, root_pos: np.ndarray, offsets: np.ndarray,
                       parents=None) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics, vectorised over frames.

    Args:
        local_rots: (T, J, 3, 3) local rotations; joint 0 is the world root orientation.
        root_pos: (T, 3) world position of joint 0, metres.
        offsets: (J, 3) rest offsets child - parent, metres (row 0 ignored).
        parents: J parent indices (default: SMPL-X).
    Returns:
        positions (T, J, 3) metres, and global rotations (T, J, 3, 3).
    """
    local_rots = np.asarray(local_rots, dtype=np.float64)
    root_pos = np.asarray(root_pos, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    T, J = local_rots.shape[:2]
    if local_rots.shape[2:] != (3, 3) or root_pos.shape != (T, 3) or offsets.shape != (J, 3):
        raise ValueError(f"forward_kinematics: shapes {local_rots.shape}, {root_pos.shape}, {offsets.shape} "
                         "do not match (T, J, 3, 3), (T, 3), (J, 3)")
    parents = _parents_for(J, parents)
    G = np.empty_like(local_rots)
    P = np.empty((T, J, 3))
    G[:, 0] = local_rots[:, 0]
    P[:, 0] = root_pos
    for j in range(1, J):  # over joints, each step vectorised over all frames
        p = parents[j]
        G[:, j] = G[:, p] @ local_rots[:, j]
        P[:, j] = P[:, p] + G[:, p] @ offsets[j]
    return P, G


def global_rotations(local_rots: np.ndarray, parents=None) -> np.ndarray:
    """World rotations (T, J, 3, 3) from local rotations (T, J, 3, 3)."""
    local_rots = np.asarray(local_rots, dtype=np.float64)
    parents = _parents_for(local_rots.shape[1], parents)
    G = np.empty_like(local_rots)
    G[:, 0] = local_rots[:, 0]
    for j in range(1, local_rots.shape[1]):
        G[:, j] = G[:, parents[j]] @ local_rots[:, j]
    return G


def estimate_rest_offsets(local_rots: np.ndarray, positions: np.ndarray,
                          parents=None) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares rest skeleton from a motion that carries rotations AND positions.

    offset_child = mean over frames of G_parent^T (p_child - p_parent). On consistent data
    (mocap) every frame gives the same offset; on generated data the spread measures how far
    the network's positions and rotations disagree.

    Args:
        local_rots: (T, J, 3, 3) local rotations (joint 0 = world root orientation).
        positions: (T, J, 3) world joint positions, metres.
    Returns:
        offsets (J, 3) metres (row 0 zero), and spread (J,) metres: RMS distance of the
        per-frame offsets from their mean.
    """
    positions = np.asarray(positions, dtype=np.float64)
    parents = _parents_for(positions.shape[1], parents)
    G = global_rotations(local_rots, parents)
    par = parents.copy()
    par[0] = 0
    d = positions - positions[:, par]  # (T, J, 3) world bone vectors
    per_frame = np.einsum("tjki,tjk->tji", G[:, par], d)  # G_parent^T d
    per_frame[:, 0] = 0.0
    offsets = per_frame.mean(axis=0)
    spread = np.sqrt(np.mean(np.sum((per_frame - offsets) ** 2, axis=-1), axis=0))
    return offsets, spread
