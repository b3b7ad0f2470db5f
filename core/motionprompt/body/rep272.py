"""The 272-dim motion frame (MotionMillion / 272-representation), both ways.

Layout per frame (N = 22 joints; SMPL-X axes: metres, +Y up, body faces +Z; 30 fps):

| dims    | content                                                                         |
|---------|---------------------------------------------------------------------------------|
| 0:2     | root x,z velocity in the PREVIOUS frame's heading-free frame (frame 0: zeros)   |
| 2:8     | heading change, 6D of R_y(h_t - h_{t-1}) (frame 0: identity)                    |
| 8:74    | 22 joint positions, heading removed, pelvis x,z = 0 (y kept: floor at 0)       |
| 74:140  | 22 joint velocities of those heading-free positions (frame 0: zeros)           |
| 140:272 | 22 local joint rotations, 6D; joint 0 is the heading-free root orientation     |

Recovery puts the motion back in a world frame whose heading is that of frame 0 removed
(the first frame faces +Z) and whose pelvis starts at x = z = 0.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from .rotations import heading_angle, matrix_to_6d, sixd_to_matrix, yaw_matrix

__all__ = [
    "DIM",
    "NUM_JOINTS",
    "ROTATION_SLICE",
    "motion_to_272",
    "recover_from_272",
    "recover_positions",
    "recover",
    "load_mean_std",
    "normalize",
    "denormalize",
]

NUM_JOINTS = 22
DIM = 8 + NUM_JOINTS * 3 * 2 + NUM_JOINTS * 6  # 272

_POS = slice(8, 8 + 3 * NUM_JOINTS)
_VEL = slice(8 + 3 * NUM_JOINTS, 8 + 6 * NUM_JOINTS)
#: The 22 local rotations (6D each) of a frame.
ROTATION_SLICE = slice(8 + 6 * NUM_JOINTS, DIM)


def motion_to_272(local_rots: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """SMPL-X rotations and joint positions to 272-dim frames (the published preprocessing).

    Args:
        local_rots: (T, 22, 3, 3) local joint rotations; joint 0 is the WORLD root orientation.
        positions: (T, 22, 3) world joint positions, metres, Y up.
    Returns:
        (T, 272) float64 frames.
    """
    R = np.asarray(local_rots, dtype=np.float64)
    p = np.array(positions, dtype=np.float64, copy=True)
    T = p.shape[0]
    if R.shape != (T, NUM_JOINTS, 3, 3) or p.shape != (T, NUM_JOINTS, 3) or T < 1:
        raise ValueError(f"motion_to_272: expected (T, 22, 3, 3) rotations and (T, 22, 3) positions, "
                         f"got {R.shape} and {p.shape}")
    # Put the frame-0 pelvis at x = z = 0 and the lowest joint of the clip on the floor.
    p[..., [0, 2]] -= p[0, 0, [0, 2]]
    p[..., 1] -= p[..., 1].min()

    h = heading_angle(R[:, 0])  # (T,)
    H = yaw_matrix(h)  # (T, 3, 3)

    root = p[:, 0].copy()  # (T, 3) pelvis
    v_root = root[1:] - root[:-1]  # (T-1, 3)
    p[..., [0, 2]] -= root[:, None, [0, 2]]
    local = np.einsum("tij,tkj->tki", H, p)  # H_t p, (T, 22, 3)
    vel = np.zeros_like(local)
    vel[1:] = local[1:] - local[:-1]

    out = np.zeros((T, DIM))
    out[1:, 0:2] = np.einsum("tij,tj->ti", H[:-1], v_root)[:, [0, 2]]
    dh = np.zeros(T)
    dh[1:] = h[1:] - h[:-1]
    out[:, 2:8] = matrix_to_6d(yaw_matrix(dh))
    out[:, _POS] = local.reshape(T, -1)
    out[:, _VEL] = vel.reshape(T, -1)
    rots = R.copy()
    rots[:, 0] = H @ R[:, 0]
    out[:, ROTATION_SLICE] = matrix_to_6d(rots).reshape(T, -1)
    return out


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != DIM or x.shape[0] < 1:
        raise ValueError(f"expected (T, {DIM}) motion frames, got shape {x.shape}")
    return x


def _heading_tracks(x: np.ndarray) -> np.ndarray:
    """Accumulated heading G_t = D_t G_{t-1} = R_y(h_t - h_0), (T, 3, 3)."""
    D = sixd_to_matrix(x[:, 2:8])
    D[0] = np.eye(3)
    # Each D_t is a yaw: accumulate angles (vectorised) instead of chaining matrices.
    dtheta = np.arctan2(D[:, 0, 2], D[:, 0, 0])
    return yaw_matrix(np.cumsum(dtheta))


def _root_xz(x: np.ndarray, G: np.ndarray) -> np.ndarray:
    v = np.zeros((x.shape[0], 3))
    v[:, 0], v[:, 2] = x[:, 0], x[:, 1]
    v[1:] = np.einsum("tji,tj->ti", G[:-1], v[1:])  # G_{t-1}^T v_t
    return np.cumsum(v, axis=0)


def _rotations(x: np.ndarray, G: np.ndarray) -> np.ndarray:
    rots = sixd_to_matrix(x[:, ROTATION_SLICE].reshape(len(x), NUM_JOINTS, 6))
    rots[:, 0] = np.swapaxes(G, -1, -2) @ rots[:, 0]
    return rots


def _positions(x: np.ndarray, G: np.ndarray, root: np.ndarray) -> np.ndarray:
    pos = np.einsum("tji,tkj->tki", G, x[:, _POS].reshape(len(x), NUM_JOINTS, 3))  # G_t^T p
    pos[..., 0] += root[:, None, 0]
    pos[..., 2] += root[:, None, 2]
    return pos


def recover_from_272(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """272-dim frames to SMPL-X local rotations and the world pelvis trajectory.

    Args:
        x: (T, 272) de-normalised frames.
    Returns:
        local_rots (T, 22, 3, 3) with joint 0 the world root orientation, and
        root_translation (T, 3) world PELVIS position, metres (x, z integrated from the root
        velocities, y the pelvis height channel). Note this is not SMPL-X ``transl``:
        see ``motionprompt.body.motion.Motion.smplx_transl``.
    """
    x = _check(x)
    G = _heading_tracks(x)
    root = _root_xz(x, G)
    root[:, 1] = x[:, 9]
    return _rotations(x, G), root


def recover_positions(x: np.ndarray) -> np.ndarray:
    """Joint positions from the position channels alone (no rotations involved).

    Args:
        x: (T, 272) de-normalised frames.
    Returns:
        (T, 22, 3) world joint positions, metres, in the same frame as ``recover_from_272``.
    """
    x = _check(x)
    G = _heading_tracks(x)
    return _positions(x, G, _root_xz(x, G))


def recover(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``recover_from_272`` and ``recover_positions`` in one pass (the heading track and the
    root path are integrated once).

    Returns:
        local_rots (T, 22, 3, 3), root_translation (T, 3), positions (T, 22, 3).
    """
    x = _check(x)
    G = _heading_tracks(x)
    root = _root_xz(x, G)
    pos = _positions(x, G, root)
    root[:, 1] = x[:, 9]
    return _rotations(x, G), root, pos


def _data_file(name: str) -> Path:
    return Path(str(resources.files(__package__.rpartition(".")[0]) / "data" / name))  # also inside the add-on's vendored copy


def load_mean_std(path_mean=None, path_std=None) -> tuple[np.ndarray, np.ndarray]:
    """Normalisation statistics, (272,) each.

    Default: the statistics MotionMillion's checkpoints were trained with (shipped copy, see
    ``motionprompt/data/NOTICE.md``).
    """
    paths = [Path(path_mean) if path_mean else _data_file("motionmillion_mean.npy"),
             Path(path_std) if path_std else _data_file("motionmillion_std.npy")]
    out = []
    for path in paths:
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: cannot read normalisation statistics ({e}); "
                             f"expected a .npy array of shape ({DIM},)") from e
        a = np.asarray(a, dtype=np.float64).reshape(-1)
        if a.shape != (DIM,) or not np.all(np.isfinite(a)):
            raise ValueError(f"{path}: expected {DIM} finite values, got shape {a.shape}")
        out.append(a)
    if np.any(out[1] <= 0):
        raise ValueError(f"{paths[1]}: standard deviations must be positive")
    return out[0], out[1]


def normalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x - mean) / std over the last axis (272)."""
    return (np.asarray(x) - mean) / std


def denormalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """x * std + mean over the last axis (272)."""
    return np.asarray(x) * std + mean
