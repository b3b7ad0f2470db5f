"""Analytic two-bone inverse kinematics (hip-knee-ankle, shoulder-elbow-wrist), vectorised over frames.

Positions are SMPL-X world positions (metres, +Y up, the body faces +Z). A chain is three joints
``root -> middle -> end`` (hip, knee, ankle), each the parent of the next; the two bones have fixed
lengths. The solve puts the end on the target when it is reachable and keeps the middle joint in
the plane through the root, the target and the current middle joint (the bend plane: a knee keeps
bending the way it bent). Out of reach, the chain points straight at the target (too far) or folds
fully along the root -> target line (too close).

- ``two_bone_positions``: the new middle and end positions;
- ``rotation_between``: the smallest rotation taking one direction to another;
- ``two_bone_ik``: the same solve on local rotations, for ``skeleton.forward_kinematics``.
"""

from __future__ import annotations

import numpy as np

from .rotations import quaternion_to_matrix
from .skeleton import PARENTS, forward_kinematics

__all__ = ["two_bone_positions", "rotation_between", "two_bone_ik"]

_FORWARD = np.array([0.0, 0.0, 1.0])  # SMPL-X: the body faces +Z, knees bend that way


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unit vectors, norms) of (..., 3) vectors; zero vectors stay zero."""
    n = np.linalg.norm(v, axis=-1)
    return v / np.where(n > 0, n, 1.0)[..., None], n


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def _any_perpendicular(u: np.ndarray) -> np.ndarray:
    """A unit vector (..., 3) perpendicular to each unit vector u (..., 3)."""
    # Cross with the world axis least aligned with u: never degenerate.
    axis = np.eye(3)[np.argmin(np.abs(u), axis=-1)]
    return _unit(np.cross(u, axis))[0]


def _perpendicular_part(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """v minus its component along the unit vectors u, (..., 3)."""
    return v - _dot(v, u)[..., None] * u


def two_bone_positions(root: np.ndarray, middle: np.ndarray, target: np.ndarray, upper, lower,
                       pole=None) -> tuple[np.ndarray, np.ndarray]:
    """Two-bone IK on positions.

    Args:
        root: (T, 3) root joint (hip) positions, metres.
        middle: (T, 3) current middle joint (knee) positions: they fix the bend plane.
        target: (T, 3) where the end joint (ankle) should go, metres.
        upper, lower: root -> middle and middle -> end bone lengths, metres (scalars or (T,)).
        pole: (3,) or (T, 3) direction the middle joint bends towards where the current middle
            joint lies on the root -> target line (no bend plane); default +Z (SMPL-X forward).
    Returns:
        new middle (T, 3) and new end (T, 3) positions, metres: |middle - root| = upper and
        |end - middle| = lower exactly (to rounding); end = target where
        |lower - upper| <= |target - root| <= upper + lower, else the nearest point of that range
        on the root -> target ray; the new middle lies in the plane of root, target and the
        current middle, on the same side of the root -> target line as the current middle.
    """
    H = np.asarray(root, dtype=np.float64)
    K = np.asarray(middle, dtype=np.float64)
    X = np.asarray(target, dtype=np.float64)
    T = len(H)
    if H.shape != (T, 3) or K.shape != (T, 3) or X.shape != (T, 3):
        raise ValueError(f"two_bone_positions: shapes {H.shape}, {K.shape}, {X.shape} are not all (T, 3)")
    a = np.broadcast_to(np.asarray(upper, dtype=np.float64), (T,))
    b = np.broadcast_to(np.asarray(lower, dtype=np.float64), (T,))
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("two_bone_positions: bone lengths must be positive")
    scale = a + b

    # Direction root -> target; a target on the root itself aims along the current upper bone.
    d, dist = _unit(X - H)
    upper_dir, upper_len = _unit(K - H)
    down = np.broadcast_to(np.array([0.0, -1.0, 0.0]), (T, 3))
    fallback = np.where((upper_len > 1e-12 * scale)[:, None], upper_dir, down)
    d = np.where((dist > 1e-12 * scale)[:, None], d, fallback)

    # Bend direction: the current middle joint's offset from the root -> target line.
    n, n_len = _unit(_perpendicular_part(K - H, d))
    p = np.broadcast_to(_FORWARD if pole is None else np.asarray(pole, dtype=np.float64), (T, 3))
    p, p_len = _unit(_perpendicular_part(p, d))
    p = np.where((p_len > 1e-9)[:, None], p, _any_perpendicular(d))
    n = np.where((n_len > 1e-10 * scale)[:, None], n, p)

    # Law of cosines in the bend plane: the middle joint sits x along d and h along n.
    reach = np.clip(dist, np.abs(a - b), scale)
    safe = np.where(reach > 0, reach, 1.0)
    x = np.where(reach > 0, (a * a - b * b + reach * reach) / (2.0 * safe), 0.0)
    h = np.sqrt(np.maximum(a * a - x * x, 0.0))
    new_middle = H + x[:, None] * d + h[:, None] * n
    new_end = H + reach[:, None] * d
    return new_middle, new_end


def rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotation (..., 3, 3) taking the direction of u to the direction of v.

    Args:
        u, v: (..., 3) non-zero vectors (any lengths).
    Returns:
        R with R @ u/|u| = v/|v|; the rotation is about u x v by the angle between them
        (identity for parallel vectors, a half turn about some axis perpendicular to u for
        opposite ones).
    """
    u = _unit(np.asarray(u, dtype=np.float64))[0]
    v = _unit(np.asarray(v, dtype=np.float64))[0]
    # The half-angle quaternion (1 + u.v, u x v), normalised: orthonormal to rounding at any angle.
    q = np.concatenate([1.0 + _dot(u, v)[..., None], np.cross(u, v)], axis=-1)
    opposite = np.linalg.norm(q, axis=-1) < 1e-7  # |q|^2 = 2 (1 + cos): opposite directions
    if np.any(opposite):  # a half turn about an axis perpendicular to u: quaternion (0, axis)
        q[opposite, 0] = 0.0
        q[opposite, 1:] = _any_perpendicular(u[opposite])
    return quaternion_to_matrix(q)


def two_bone_ik(rotations: np.ndarray, root_translation: np.ndarray, offsets: np.ndarray, chain,
                targets: np.ndarray, parents=None, pole=None, keep_end_rotation: bool = False,
                bend_plane: str = "middle", fk: tuple[np.ndarray, np.ndarray] | None = None,
                return_fk: bool = False):
    """Two-bone IK on local rotations: the end joint of ``chain`` goes to ``targets``.

    The root joint of the chain (hip) turns its bone onto the solved middle position with the
    smallest rotation, then the middle joint (knee) turns its bone onto the solved end position
    the same way (``two_bone_positions`` for the positions, bone lengths from ``offsets``). No
    other joint's local rotation changes, unless ``keep_end_rotation``: then the end joint's local
    rotation compensates so that its world rotation (and the foot below it) stays as it was.
    Several chains that share no joint (both legs) are solved in one pass, from one FK.

    Args:
        rotations: (T, J, 3, 3) local rotations (joint 0 = world root orientation).
        root_translation: (T, 3) world position of joint 0, metres.
        offsets: (J, 3) rest offsets child - parent, metres.
        chain: (root, middle, end) joint indices, each the parent of the next, e.g. a leg of
            ``skeleton.LEG_CHAINS`` (hip, knee, ankle); or a sequence of C such chains.
        targets: (T, 3) world end positions, metres; (C, T, 3) for C chains.
        parents: J parent indices (default SMPL-X).
        pole: bend direction where the chain is straight (see ``two_bone_positions``), (3,),
            (T, 3) or, for C chains, (C, T, 3); default the world forward (+Z) of each chain
            root's parent.
        keep_end_rotation: keep the end joint's world rotation.
        bend_plane: "middle": the plane of root, target and the current middle joint;
            "bend": the chain's own bend (the middle joint's offset from the root -> end line,
            the pole where that is under a centimetre), carried over to the root -> target
            line: steady when the target is away from the end and the chain nearly straight.
        fk: (positions (T, J, 3), global rotations (T, J, 3, 3)): ``forward_kinematics`` of
            these rotations, root translation and offsets when the caller has it; default
            computed here.
        return_fk: also return the new pose's (positions, global rotations), derived from the
            solve instead of a second FK (needs ``keep_end_rotation``).
    Returns:
        (T, J, 3, 3) new local rotations: ``forward_kinematics`` of them with the same root
        translation and offsets puts each end joint on each reachable target; with
        ``return_fk``, (rotations, (positions, global rotations)) of that FK.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    T, J = rotations.shape[:2]
    par = np.asarray(PARENTS[:J] if parents is None else parents)
    single = np.ndim(chain) == 1
    chains = np.atleast_2d(np.asarray(chain, dtype=np.int64))
    C = len(chains)
    if chains.shape[1:] != (3,) or any(par[k] != h or par[e] != k for h, k, e in chains):
        raise ValueError(f"two_bone_ik: chain {np.asarray(chain).tolist()} is not parent -> child -> grandchild")
    if len(set(chains.ravel().tolist())) != chains.size:
        raise ValueError(f"two_bone_ik: chains {chains.tolist()} share a joint; solve them one at a time")
    if single:
        targets = targets[None]
    if targets.shape != (C, T, 3):
        want = f"({T}, 3)" if single else f"({C}, {T}, 3)"
        raise ValueError(f"two_bone_ik: targets {targets.shape}, expected {want}")
    hip, knee, end = chains.T  # (C,) each
    P, G = forward_kinematics(rotations, root_translation, offsets, par) if fk is None else fk

    def flat(a):  # (T, C, ...) -> (C * T, ...), chain-major like the targets
        return np.swapaxes(a, 0, 1).reshape((C * T,) + a.shape[2:])

    H, K, A, X = flat(P[:, hip]), flat(P[:, knee]), flat(P[:, end]), targets.reshape(C * T, 3)
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    above = flat(np.stack([G[:, p] if p >= 0 else eye for p in par[hip]], axis=1))  # (C T, 3, 3)
    if pole is None:
        pole = above @ _FORWARD
    else:
        pole = np.broadcast_to(np.asarray(pole, dtype=np.float64), (T, 3) if single else (C, T, 3)).reshape(C * T, 3)
    upper = np.repeat(np.linalg.norm(offsets[knee], axis=-1), T)  # (C T,)
    lower = np.repeat(np.linalg.norm(offsets[end], axis=-1), T)
    middle = K
    if bend_plane == "bend":
        line = _unit(A - H)[0]
        side = _perpendicular_part(K - H, line)  # (C T, 3) how the chain bends off its own line
        fade = np.clip(1.0 - np.linalg.norm(side, axis=-1) / 0.01, 0.0, 1.0)[..., None]
        bend = _unit(side + fade * 0.01 * np.broadcast_to(pole, side.shape))[0]
        middle = H + 0.5 * (X - H) + upper[:, None] * bend
    elif bend_plane != "middle":
        raise ValueError(f"two_bone_ik: bend_plane {bend_plane!r}: use 'middle' or 'bend'")
    K2, A2 = two_bone_positions(H, middle, X, upper, lower, pole)

    turn_upper = rotation_between(K - H, K2 - H)  # (C T, 3, 3) world
    G_hip = turn_upper @ flat(G[:, hip])
    turn_lower = rotation_between(np.einsum("nij,nj->ni", turn_upper, A - K), A2 - K2)
    G_knee = turn_lower @ turn_upper @ flat(G[:, knee])

    def unflat(a):  # (C * T, 3, 3) -> (T, C, 3, 3)
        return np.swapaxes(a.reshape(C, T, 3, 3), 0, 1)

    out = rotations.copy()
    out[:, hip] = unflat(np.swapaxes(above, -1, -2) @ G_hip)
    out[:, knee] = unflat(np.swapaxes(G_hip, -1, -2) @ G_knee)
    if keep_end_rotation:
        out[:, end] = unflat(np.swapaxes(G_knee, -1, -2) @ flat(G[:, end]))
    if not return_fk:
        return out
    if not keep_end_rotation:
        raise ValueError("two_bone_ik: return_fk needs keep_end_rotation (the end's subtree then only moves)")
    # the new FK without recomputing it: the middle and end joints from their new world
    # rotations; everything below an end keeps its world rotation and moves with it
    P2, G2 = P.copy(), G.copy()
    G2[:, hip], G2[:, knee] = unflat(G_hip), unflat(G_knee)
    P2[:, knee] = P[:, hip] + np.einsum("tcij,cj->tci", G2[:, hip], offsets[knee])
    P2[:, end] = P2[:, knee] + np.einsum("tcij,cj->tci", G2[:, knee], offsets[end])
    for c, e in enumerate(end):
        below = _subtree(par, int(e))[1:]
        P2[:, below] += (P2[:, e] - P[:, e])[:, None]
    return out, (P2, G2)


def _subtree(parents, j: int) -> list[int]:
    """``j`` and every joint below it (parents precede children)."""
    out = [j]
    for k in range(j + 1, len(parents)):
        if parents[k] in out:
            out.append(k)
    return out
