"""Joining motions end to start: a continuation put where the motion it continues leaves off.

A motion generated after given frames (a prefix of motion tokens) comes out of the 272 form
anchored at its own frame 0 (at the origin, facing +Z), and its copy of the given part is only
the VQ-VAE's reconstruction. ``splice`` keeps the given motion exactly, turns and moves the new
part rigidly (a yaw about +Y and a floor-plane shift) so that its frame before the new ones
stands where the given motion's last frame stands and faces its way, then crossfades the
remaining pose difference (every local rotation, the root's tilt and the pelvis height) out
over ``blend`` frames, so the first new frame continues the last given one.
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


def splice(given: Motion, generated: Motion, start: int, blend: int = 6) -> Motion:
    """``given`` followed by ``generated``'s frames from ``start`` on.

    Args:
        given: the motion continued (T0 frames), kept exactly.
        generated: a motion whose frame ``start - 1`` corresponds to ``given``'s last frame
            (its frames before are its version of the given part).
        start: first new frame of ``generated`` (1 <= start < its length).
        blend: frames over which the pose difference at the join fades out.
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
    # what the generated join frame lacks of the given last pose, eased out over the new frames
    R_join = moved.rotations[start - 1]
    delta = matrix_to_axis_angle(given.rotations[-1] @ np.swapaxes(R_join, -1, -2))  # (22, 3) world-left
    k = np.arange(1, len(R_new) + 1, dtype=np.float64)
    u = np.clip(k / (blend + 1), 0.0, 1.0)
    w = 1.0 - u * u * (3.0 - 2.0 * u)  # (N,) 1 -> 0
    R_new = axis_angle_to_matrix(w[:, None, None] * delta[None]) @ R_new
    dh = given.root_translation[-1] - moved.root_translation[start - 1]  # only the height differs
    c_new = c_new + w[:, None] * dh[None]
    meta = {**generated.meta, "continued": {"frames": int(T0), "seconds": round(T0 / given.fps, 4)}}
    return Motion(np.concatenate([given.rotations, R_new]), np.concatenate([given.root_translation, c_new]),
                  fps=given.fps, prompt=generated.prompt, seed=generated.seed, source=generated.source,
                  meta=meta, rest=given.rest_offsets())


def pose_distance(motion: Motion, frame: int, pose: Motion) -> float:
    """How far ``motion``'s ``frame`` is from ``pose``'s first frame, metres: the RMS of their
    root-relative joint positions (each in its own heading frame), plus the pelvis' world
    distance, plus the heading difference at half a metre per radian."""
    from .rotations import yaw_matrix as _yaw

    a, b = motion.joint_positions()[frame], pose.joint_positions()[0]
    ha, hb = heading_angle(motion.rotations[frame, 0]), heading_angle(pose.rotations[0, 0])
    rel_a, rel_b = (a - a[0]) @ _yaw(ha).T, (b - b[0]) @ _yaw(hb).T
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
