"""Joining motions end to start: a continuation put where the motion it continues leaves off.

A motion generated after given frames (a prefix of motion tokens) comes out of the 272 form
anchored at its own frame 0 (at the origin, facing +Z), and its copy of the given part is only
the VQ-VAE's reconstruction. ``splice`` keeps the given motion exactly, turns and moves the new
part rigidly (a yaw about +Y and a floor-plane shift) so that its frame before the new ones
stands where the given motion's last frame stands and faces its way, then carries the
remaining pose difference (every local rotation, the root's tilt and the pelvis height) and the
difference of the two motions' speeds at the join into the new frames, decaying over ``blend``
frames (an inertial blend), so the first new frame goes on from the last given one at its own
speed.
SMPL-X axes: metres, +Y up, the floor is (x, z).
"""

from __future__ import annotations

import numpy as np

from .motion import Motion
from .rotations import axis_angle_to_matrix, heading_angle, matrix_to_axis_angle, yaw_matrix

__all__ = ["align", "splice", "pose_distance", "blend_to_pose"]


def _facing(R: np.ndarray) -> np.ndarray:
    """(...) facing yaw (radians about +Y) of root rotations (..., 3, 3)."""
    return -heading_angle(R)


def align(motion: Motion, frame: int, rotation: np.ndarray, position: np.ndarray) -> Motion:
    """``motion`` turned about +Y and moved on the floor so that its ``frame`` faces the way a
    root ``rotation`` (3, 3) faces and its pelvis is over ``position`` (3,) metres (x, z; the
    height stays the motion's own)."""
    R, c = motion.rotations, motion.root_translation
    turn = float(_facing(rotation) - _facing(R[frame, 0]))
    Y = yaw_matrix(np.float64(turn))
    rotations = R.copy()
    rotations[:, 0] = Y @ R[:, 0]
    root = (c - c[frame] * [1, 0, 1]) @ Y.T + np.asarray(position, dtype=np.float64) * [1, 0, 1]
    return motion.with_(rotations=rotations, root_translation=root)


def _inv(R: np.ndarray) -> np.ndarray:
    """The inverses (transposes) of rotation matrices (..., 3, 3)."""
    return np.swapaxes(R, -1, -2)


def _inertia(k: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(N,) each, the weights of an offset and of its rate at frames ``k`` (N,) for a quintic
    that starts from both at k = 0 (offset x0, rate v0 per frame, no curvature) and reaches
    nothing, at rest, at k = ``frames``: x0 (1 - s)^3 (1 + 3 s + 6 s^2) + v0 k (1 - s)^3 (1 + 3 s),
    s = k / frames (zero past it)."""
    if frames <= 0:
        return np.zeros_like(k), np.zeros_like(k)
    s = np.clip(k / frames, 0.0, 1.0)
    fade = (1.0 - s) ** 3
    return fade * (1.0 + 3.0 * s + 6.0 * s * s), np.where(s < 1.0, k * fade * (1.0 + 3.0 * s), 0.0)


def splice(given: Motion, generated: Motion, start: int, blend: int = 10) -> Motion:
    """``given`` followed by ``generated``'s frames from ``start`` on.

    The first new frame is the last given pose carried on one frame at its own rates (each
    local rotation, the root's included, turned again by its last turn; the pelvis moved again
    by its last step). What the generated frame there lacks of it (a world-left rotation
    vector per joint, and a pelvis offset) and the rate of that difference (the two motions'
    different speeds) decay to nothing over ``blend`` frames (``_inertia``, an inertial blend),
    after which the generated motion is back unchanged. The generated frames nearest the join
    are not trusted for speed: a decoder's boundary between given and new tokens bends there.

    Args:
        given: the motion continued (T0 frames), kept exactly.
        generated: a motion whose frame ``start - 1`` corresponds to ``given``'s last frame
            (its frames before are its version of the given part).
        start: first new frame of ``generated`` (1 <= start < its length).
        blend: frames over which the difference at the join decays (0: none, the generated
            frames put on as they are, moved rigidly).
    Returns:
        T0 + (len(generated) - start) frames at ``given``'s frame rate and skeleton; ``meta``
        is ``generated``'s with ``continued`` = {"frames": T0, "seconds": T0 / fps}.
    """
    T0 = given.num_frames
    if not 1 <= start < generated.num_frames:
        raise ValueError(f"splice: start {start} outside 1..{generated.num_frames - 1}")
    moved = align(generated, start - 1, given.rotations[-1, 0], given.root_translation[-1])
    R_new = moved.rotations[start:]
    c_new = moved.root_translation[start:]
    # what the generated join frame lacks of the given last pose, and what its next frame lacks
    # of the given pose carried on one frame at its own rates
    R_join, c_join = moved.rotations[start - 1], moved.root_translation[start - 1]
    R_last, c_last = given.rotations[-1], given.root_translation[-1]
    R_prev, c_prev = (given.rotations[-2], given.root_translation[-2]) if T0 > 1 else (R_last, c_last)
    delta = matrix_to_axis_angle(R_last @ _inv(R_join))  # (22, 3) world-left
    R_on = R_last @ _inv(R_prev) @ R_last
    rate = matrix_to_axis_angle(R_on @ _inv(R_new[0])) - delta  # (22, 3) per frame
    dc = c_last - c_join  # (3,) only the height differs
    dv = (2 * c_last - c_prev - c_new[0]) - dc
    # the offset decays from the first new frame, which is the given pose carried on exactly
    # (between the join and it the offset changes at its rate, so it bends nowhere)
    wx, wv = _inertia(np.arange(len(R_new), dtype=np.float64), blend)
    R_new = axis_angle_to_matrix(wx[:, None, None] * (delta + rate)[None] + wv[:, None, None] * rate[None]) @ R_new
    c_new = c_new + wx[:, None] * (dc + dv)[None] + wv[:, None] * dv[None]
    meta = {**generated.meta, "continued": {"frames": int(T0), "seconds": round(T0 / given.fps, 4)}}
    return Motion(np.concatenate([given.rotations, R_new]), np.concatenate([given.root_translation, c_new]),
                  fps=given.fps, prompt=generated.prompt, seed=generated.seed, source=generated.source,
                  meta=meta, rest=given.rest_offsets())


def pose_distance(motion: Motion, frame: int, pose: Motion) -> float:
    """How far ``motion``'s ``frame`` is from ``pose``'s first frame, metres: the RMS of their
    root-relative joint positions (each in its own heading frame), plus the pelvis' world
    distance, plus the heading difference at half a metre per radian."""
    a, b = motion.joint_positions()[frame], pose.joint_positions()[0]
    ha, hb = heading_angle(motion.rotations[frame, 0]), heading_angle(pose.rotations[0, 0])
    rel_a, rel_b = (a - a[0]) @ yaw_matrix(ha).T, (b - b[0]) @ yaw_matrix(hb).T
    turn = abs((float(ha - hb) + np.pi) % (2 * np.pi) - np.pi)
    return float(np.sqrt(np.mean(np.sum((rel_a - rel_b) ** 2, axis=-1))) + np.linalg.norm(a[0] - b[0]) + 0.5 * turn)


def blend_to_pose(motion: Motion, pose: Motion, frames: int = 15) -> Motion:
    """``motion`` whose last ``frames`` frames ease into ``pose``'s first frame, reached exactly
    on the last frame: every local rotation (and the root's) turned toward the pose's along
    the shortest arc, the pelvis moved toward the pose's, with a smoothstep weight 0 -> 1."""
    T = motion.num_frames
    B = max(1, min(int(frames), T - 1))
    u = np.clip((np.arange(T) - (T - 1 - B)) / B, 0.0, 1.0)
    w = u * u * (3.0 - 2.0 * u)  # (T,) 0 before the blend, 1 on the last frame
    R = motion.rotations
    target = pose.rotations[0]  # (22, 3, 3)
    rest = matrix_to_axis_angle(target[None] @ np.swapaxes(R, -1, -2))  # (T, 22, 3) what each frame lacks
    rotations = axis_angle_to_matrix(w[:, None, None] * rest) @ R
    rotations[-1] = target
    root = motion.root_translation + w[:, None] * (pose.root_translation[0] - motion.root_translation)
    return motion.with_(rotations=rotations, root_translation=root)
