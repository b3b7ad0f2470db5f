"""Rotation conversions, vectorised over any leading batch shape (numpy, float64).

Conventions, stated once:
- Rotation matrices act on COLUMN vectors: ``v_world = R @ v_local``.
- 6D = the FIRST TWO ROWS of the matrix, row-major: ``(r00, r01, r02, r10, r11, r12)``
  (the MotionMillion / 272-representation layout).
- Quaternions are w-first ``(w, x, y, z)`` (Blender's order); scipy's are x-y-z-w internally.
- Axis-angle is a 3-vector: unit axis times angle in radians.
- ``yaw_matrix`` is a rotation about +Y (the up axis of SMPL-X space).

Pure numpy on purpose: this module also runs inside a stock Blender (the add-on's vendored
core), whose Python has numpy but not scipy. The tests check every conversion against scipy's
``Rotation``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "matrix_to_6d",
    "sixd_to_matrix",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "quaternion_to_matrix",
    "quaternion_to_axis_angle",
    "quaternion_continuity",
    "axis_rotation",
    "yaw_matrix",
    "heading_angle",
    "matrix_to_euler_zyx",
    "slerp_resample",
    "resample_grid",
]


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
    """Axis-angle (..., 3) radians to rotation matrices (..., 3, 3) (through the unit quaternion)."""
    aa = np.asarray(aa, dtype=np.float64)
    if aa.shape[-1:] != (3,):
        raise ValueError(f"expected an array of shape (..., 3), got {aa.shape}")
    theta = np.sqrt(np.einsum("...i,...i->...", aa, aa))[..., None]
    small = theta < 1e-6
    safe = np.where(small, 1.0, theta)
    # the unit quaternion (cos(t/2), sin(t/2) / t * aa), sin(t/2)/t by its Taylor series near 0
    half = np.where(small, 0.5 - theta**2 / 48.0, np.sin(0.5 * safe) / safe)
    return quaternion_to_matrix(np.concatenate([np.cos(0.5 * theta), half * aa], axis=-1))


def matrix_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to axis-angle (..., 3), angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4) w-first to axis-angle (..., 3), angle in [0, pi]."""
    q = np.asarray(q, dtype=np.float64)
    q = q * np.where(q[..., :1] < 0, -1.0, 1.0)  # w >= 0: the short way round
    v = q[..., 1:]
    s = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    small = s < 1e-8
    # angle / sin(angle/2) -> 2 as the angle -> 0
    scale = np.where(small, 2.0 / np.maximum(q[..., :1], 1e-12), angle / np.where(small, 1.0, s))
    return v * scale


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to unit quaternions (..., 4), w-first, w >= 0.

    Each row takes the best-conditioned of the four classic formulas (the largest of
    w, x, y, z drives the division).
    """
    R = np.asarray(R, dtype=np.float64)
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"expected an array of shape (..., 3, 3), got {R.shape}")
    m00, m11, m22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    # 4*q_i^2 for w, x, y, z
    sq = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    # candidate quaternions scaled by 4*q_i (one per choice of the dominant component)
    c = np.stack([
        np.stack([sq[..., 0], R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1),
        np.stack([R[..., 2, 1] - R[..., 1, 2], sq[..., 1], R[..., 1, 0] + R[..., 0, 1], R[..., 0, 2] + R[..., 2, 0]], -1),
        np.stack([R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] + R[..., 0, 1], sq[..., 2], R[..., 2, 1] + R[..., 1, 2]], -1),
        np.stack([R[..., 1, 0] - R[..., 0, 1], R[..., 0, 2] + R[..., 2, 0], R[..., 2, 1] + R[..., 1, 2], sq[..., 3]], -1),
    ], -2)  # (..., 4 choices, 4)
    best = np.argmax(sq, axis=-1)[..., None, None]
    q = np.take_along_axis(c, np.broadcast_to(best, c.shape[:-2] + (1, 4)), axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4), w-first (normalised here), to rotation matrices (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1:] != (4,):
        raise ValueError(f"expected an array of shape (..., 4), got {q.shape}")
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(q.shape[:-1] + (3, 3))


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


def axis_rotation(axis: int, theta: np.ndarray) -> np.ndarray:
    """Rotations about one coordinate axis (0 = x, 1 = y, 2 = z), right-handed.

    Args:
        axis: 0, 1 or 2.
        theta: (...) radians.
    Returns:
        (..., 3, 3).
    """
    theta = np.asarray(theta, dtype=np.float64)
    c, s = np.cos(theta), np.sin(theta)
    R = np.zeros(theta.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]  # the plane the rotation turns: i -> j
    R[..., axis, axis] = 1.0
    R[..., i, i], R[..., j, j] = c, c
    R[..., j, i], R[..., i, j] = s, -s
    return R


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


def matrix_to_euler_zyx(R: np.ndarray) -> np.ndarray:
    """Intrinsic Z-Y-X Euler angles (BVH ``Zrotation Yrotation Xrotation``): R = Rz(z) Ry(y) Rx(x).

    Args:
        R: (..., 3, 3).
    Returns:
        (..., 3) radians in the order (z, y, x); y in [-pi/2, pi/2]. At gimbal lock
        (|y| = pi/2) x is set to 0.
    """
    R = np.asarray(R, dtype=np.float64)
    sy = np.clip(-R[..., 2, 0], -1.0, 1.0)
    y = np.arcsin(sy)
    lock = np.abs(sy) > 1 - 1e-12
    z = np.where(lock, np.arctan2(-R[..., 0, 1], R[..., 1, 1]), np.arctan2(R[..., 1, 0], R[..., 0, 0]))
    x = np.where(lock, 0.0, np.arctan2(R[..., 2, 1], R[..., 2, 2]))
    return np.stack([z, y, x], axis=-1)


def resample_grid(num_frames: int, src_fps: float, dst_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Where the frames of a track resampled from ``src_fps`` to ``dst_fps`` fall, for
    interpolating between source frames ``i0`` and ``i0 + 1``.

    Returns:
        i0: (T',) int source frame before each output frame; w: (T',) weight of ``i0 + 1`` in
        [0, 1]. T' = round((T - 1) * dst / src) + 1 covers the same duration (first and last
        frames kept). With one source frame, i0 = 0 and w = 0 (the frame is held).
    """
    n_out = int(round((num_frames - 1) * dst_fps / src_fps)) + 1
    if num_frames == 1:
        return np.zeros(n_out, dtype=int), np.zeros(n_out)
    t = np.arange(n_out) * (src_fps / dst_fps)
    i0 = np.clip(np.floor(t).astype(int), 0, num_frames - 2)
    return i0, np.clip(t - i0, 0.0, 1.0)


def slerp_resample(rotations: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Resample a rotation track in time with spherical linear interpolation.

    Args:
        rotations: (T, ..., 3, 3) matrices at ``src_fps``.
        src_fps, dst_fps: frames per second.
    Returns:
        (T', ..., 3, 3) at ``dst_fps`` on ``resample_grid``'s frames (the same duration).
    """
    R = np.asarray(rotations, dtype=np.float64)
    i0, w = resample_grid(R.shape[0], src_fps, dst_fps)
    if R.shape[0] == 1:
        return R[i0]
    # Slerp of unit quaternions on the shorter arc: the rotation from key i0 toward i0+1,
    # a fraction w of the way along the geodesic (the same as r0 exp(w log(r0^T r1))).
    q = matrix_to_quaternion(R)
    q0, q1 = q[i0], q[i0 + 1]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    wt = w.reshape((-1,) + (1,) * (q.ndim - 1))
    near = sin < 1e-9  # (nearly) the same rotation: linear weights, normalised below
    safe = np.where(near, 1.0, sin)
    a = np.where(near, 1.0 - wt, np.sin((1.0 - wt) * theta) / safe)
    b = np.where(near, wt, np.sin(wt * theta) / safe)
    return quaternion_to_matrix(a * q0 + b * q1)
