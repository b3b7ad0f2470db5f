"""Rotation conversions, vectorised over any leading batch shape (numpy, float64).

Conventions, stated once:
- Rotation matrices act on COLUMN vectors: ``v_world = R @ v_local``.
- 6D = the FIRST TWO ROWS of the matrix, row-major: ``(r00, r01, r02, r10, r11, r12)``
  (the MotionMillion / 272-representation layout).
- Quaternions are w-first ``(w, x, y, z)`` (Blender's order); scipy's are x-y-z-w internally.
- Axis-angle is a 3-vector: unit axis times angle in radians.
- ``yaw_matrix`` is a rotation about +Y (the up axis of SMPL-X space).

Where scipy's ``Rotation`` already does the job (axis-angle, quaternions) we use it.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "matrix_to_6d",
    "sixd_to_matrix",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "quaternion_to_matrix",
    "quaternion_continuity",
    "yaw_matrix",
    "heading_angle",
    "slerp_resample",
]


def _flat(x: np.ndarray, tail: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    x = np.asarray(x, dtype=np.float64)
    if x.shape[x.ndim - len(tail):] != tail:
        raise ValueError(f"expected an array of shape (..., {', '.join(map(str, tail))}), got {x.shape}")
    lead = x.shape[: x.ndim - len(tail)]
    return x.reshape((-1,) + tail), lead


def matrix_to_6d(R: np.ndarray) -> np.ndarray:
    """Rotation matrices to 6D.

    Args:
        R: (..., 3, 3) rotation matrices.
    Returns:
        (..., 6) the first two rows, row-major.
    """
    R = np.asarray(R, dtype=np.float64)
    return R[..., :2, :].reshape(R.shape[:-2] + (6,))


def sixd_to_matrix(d6: np.ndarray) -> np.ndarray:
    """6D to rotation matrices by Gram-Schmidt on the two rows.

    b1 = normalize(a1); b2 = normalize(a2 - (b1.a2) b1); b3 = b1 x b2; stacked as ROWS.

    Args:
        d6: (..., 6) first two rows (need not be orthonormal: network output).
    Returns:
        (..., 3, 3) proper rotation matrices.
    """
    d6 = np.asarray(d6, dtype=np.float64)
    a1, a2 = d6[..., 0:3], d6[..., 3:6]
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / np.linalg.norm(a2, axis=-1, keepdims=True)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-2)


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Axis-angle (..., 3) radians to rotation matrices (..., 3, 3)."""
    flat, lead = _flat(aa, (3,))
    return Rotation.from_rotvec(flat).as_matrix().reshape(lead + (3, 3))


def matrix_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to axis-angle (..., 3), angle in [0, pi]."""
    flat, lead = _flat(R, (3, 3))
    return Rotation.from_matrix(flat).as_rotvec().reshape(lead + (3,))


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to unit quaternions (..., 4), w-first, w >= 0."""
    flat, lead = _flat(R, (3, 3))
    xyzw = Rotation.from_matrix(flat).as_quat(canonical=True)
    return np.roll(xyzw, 1, axis=-1).reshape(lead + (4,))


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4), w-first (normalised here), to rotation matrices (..., 3, 3)."""
    flat, lead = _flat(q, (4,))
    return Rotation.from_quat(np.roll(flat, -1, axis=-1)).as_matrix().reshape(lead + (3, 3))


def quaternion_continuity(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs along axis 0 (time) so consecutive keys are in the same hemisphere.

    q and -q are the same rotation, but an animation curve interpolating between them spins
    the long way round; this picks, per frame, the sign closest to the previous frame.

    Args:
        q: (T, ..., 4) quaternions.
    Returns:
        (T, ..., 4) same rotations, sign-continuous over T.
    """
    q = np.array(q, dtype=np.float64, copy=True)
    if q.shape[0] < 2:
        return q
    dots = np.sum(q[1:] * q[:-1], axis=-1)  # (T-1, ...)
    # A flip at frame t flips every later frame too: cumulative parity of the sign changes.
    flips = np.cumsum(dots < 0, axis=0) % 2
    sign = np.concatenate([np.ones_like(dots[:1]), 1.0 - 2.0 * flips], axis=0)
    return q * sign[..., None]


def yaw_matrix(theta: np.ndarray) -> np.ndarray:
    """Rotations about +Y: R_y(theta) = [[c, 0, s], [0, 1, 0], [-s, 0, c]].

    Args:
        theta: (...) radians.
    Returns:
        (..., 3, 3).
    """
    theta = np.asarray(theta, dtype=np.float64)
    c, s = np.cos(theta), np.sin(theta)
    z, o = np.zeros_like(theta), np.ones_like(theta)
    return np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(theta.shape + (3, 3))


def heading_angle(R: np.ndarray) -> np.ndarray:
    """Heading of a root rotation as the 272 representation defines it.

    h = -atan2(R[0, 2], R[2, 2]), so that R_y(h) @ R has its forward (+Z) axis in the
    heading-free frame's Y-Z plane.

    Args:
        R: (..., 3, 3) world root rotations.
    Returns:
        (...) radians.
    """
    R = np.asarray(R, dtype=np.float64)
    return -np.arctan2(R[..., 0, 2], R[..., 2, 2])


def slerp_resample(rotations: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Resample a rotation track in time with spherical linear interpolation.

    Args:
        rotations: (T, ..., 3, 3) matrices at ``src_fps``.
        src_fps, dst_fps: frames per second.
    Returns:
        (T', ..., 3, 3) at ``dst_fps``, covering the same duration (T' = round((T-1)*dst/src)+1).
    """
    R = np.asarray(rotations, dtype=np.float64)
    T = R.shape[0]
    n_out = int(round((T - 1) * dst_fps / src_fps)) + 1
    if T == 1:
        return np.repeat(R, n_out, axis=0)
    t = np.arange(n_out) * (src_fps / dst_fps)
    i0 = np.clip(np.floor(t).astype(int), 0, T - 2)
    w = np.clip(t - i0, 0.0, 1.0)
    # Relative rotation from key i0 to i0+1, scaled by w on its axis-angle.
    r0 = R[i0]
    rel = np.swapaxes(r0, -1, -2) @ R[i0 + 1]
    aa = matrix_to_axis_angle(rel) * w.reshape((-1,) + (1,) * (rel.ndim - 2))
    return r0 @ axis_angle_to_matrix(aa)
