"""Looping: cut the best cycle out of a motion and close its seam (``loop``), and play a loop
several times in a row (``repeat``). SMPL-X axes: metres, +Y up, the body faces +Z; headings
are yaws about +Y in radians, ``atan2(f_x, f_z)`` of the facing direction ``f``.

The cycle (``find_cycle``). Each frame t is described by its root-relative pose, the 22 joint
positions minus the pelvis with the heading removed (``yaw_matrix(heading_angle(R_root))``
applied), and their velocity in that same heading frame (root travel and turning included),
in metres per frame times ``VELOCITY_WEIGHT`` frames. The mismatch of a cycle from frame s to
frame e is the RMS over joints of the difference of those two descriptions between s and e;
every pair (s, e) is scored at once from one Gram matrix. A cycle is at least ``min_seconds``
long, or exactly ``seconds`` (nearest frame) when asked. Several cycles fit a periodic motion
(one period, two, ...): among the lengths whose best mismatch is a local minimum over the
length and within ``TOLERANCE`` of the best of all, the shortest wins (a walk's one gait cycle).

The loop. The cut keeps source frames s..e, L + 1 frames for a period of L = e - s, the last
one the first's pose again (the closing key, as a cyclic F-curve wants it: its period runs from
the first key to the last; rates are measured over +-2 frames, so one jittery frame does not set
the seam's velocity). The seam is closed over the last ``blend_frames`` frames by cubic
Hermite corrections that start at nothing (value and rate zero) and end on what the next cycle
needs: each local rotation (and the root's heading-free tilt) is turned toward the first
frame's, exactly at the closing frame, its angular velocity matching the first frame's; the
pelvis height likewise; the root's yaw rate and its floor-plane velocity in the heading frame
are eased into the first frame's, so the root velocity and the turning rate are continuous
across the seam. Root motion stays as a per-cycle offset: the next cycle is this one moved
rigidly (turned about +Y by ``turn``, shifted so its first frame lands on the closing frame),
so ``repeat`` plays it without a jump. ``in_place=True`` holds the pelvis' floor position at
the first frame's (``root.in_place``) instead.

``meta["loop"]``: ``start`` / ``end`` seconds in the source, ``frames`` L, ``offset`` [dx, dz]
metres (world floor-plane pelvis travel per cycle), ``turn`` radians (heading change per cycle,
positive turns +Z toward +X), ``mismatch`` metres, ``in_place``.
"""

from __future__ import annotations

import math

import numpy as np

from ..body.motion import Motion
from ..body.rotations import axis_angle_to_matrix, heading_angle, matrix_to_axis_angle, yaw_matrix
from .root import in_place as _hold_in_place
from .timing import trim

__all__ = ["loop", "repeat", "find_cycle", "VELOCITY_WEIGHT", "TOLERANCE"]

#: Frames of motion a velocity mismatch counts as: a velocity difference of v metres per frame
#: weighs as much as a pose difference of VELOCITY_WEIGHT * v metres.
VELOCITY_WEIGHT = 4.0
#: (relative, metres): a cycle length is a candidate when its mismatch is within
#: best * (1 + relative) + metres of the best.
TOLERANCE = (0.25, 0.002)


def _yaw_of(R: np.ndarray) -> np.ndarray:
    """(T,) facing yaw of root rotations (T, 3, 3): atan2(f_x, f_z) with f = R @ +Z, unwrapped."""
    return np.unwrap(-heading_angle(R))


def _turn_xz(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Floor-plane vectors (..., 2) = (x, z) turned by ``angle`` (...) radians about +Y, as
    ``yaw_matrix(angle)`` turns (x, 0, z)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[..., 0] + s * v[..., 1], -s * v[..., 0] + c * v[..., 1]], axis=-1)


def _descriptions(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Root-relative pose (T, 22, 3) and its velocity (T, 22, 3), metres and metres per frame,
    both in each frame's heading frame (the pelvis at the origin, facing +Z)."""
    P = motion.joint_positions()  # (T, 22, 3) world
    H = yaw_matrix(heading_angle(motion.rotations[:, 0]))  # (T, 3, 3) removes the heading
    Ht = np.swapaxes(H, -1, -2)
    rel = (P - P[:, :1]) @ Ht
    vel = np.gradient(P, axis=0) @ Ht
    return rel, vel


def _lengths(motion: Motion, seconds: float | None, min_seconds: float) -> tuple[int, int]:
    """Allowed cycle lengths [lo, hi] in frames between first and closing frame (the period);
    ValueError naming the lengths when the motion cannot hold one."""
    T, fps = motion.num_frames, motion.fps
    if seconds is not None:
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"loop: seconds={seconds!r} is not a cycle length; give a positive number of seconds")
        lo = hi = max(2, int(round(seconds * fps)))
        want = f"a {seconds:g} s cycle needs {lo + 1} frames"
    else:
        if not (isinstance(min_seconds, (int, float)) and math.isfinite(min_seconds) and min_seconds >= 0):
            raise ValueError(f"loop: min_seconds={min_seconds!r} is not a length; give seconds >= 0")
        lo, hi = max(2, int(math.ceil(min_seconds * fps - 1e-6))), T - 1
        want = f"a cycle of at least {min_seconds:g} s needs {lo + 1} frames"
    if hi > T - 1 or lo > hi:
        raise ValueError(f"loop: the motion is {T} frames ({motion.duration:.2f} s at {fps:g} fps); {want} "
                         f"({(lo + 1) / fps:.2f} s); give a longer motion or a shorter cycle")
    return lo, hi


def find_cycle(motion: Motion, seconds: float | None = None, min_seconds: float = 1.0) -> tuple[int, int, float]:
    """The best cycle of ``motion`` (see the module docstring).

    Args:
        seconds: the cycle's length (period) in seconds, rounded to frames; None: any length
            of at least ``min_seconds``.
    Returns:
        (s, e, mismatch): first and closing source frame (e - s frames apart), and their
        mismatch, metres (RMS over joints of pose and weighted velocity differences).
    Raises:
        ValueError naming the lengths when the motion is too short for the cycle.
    """
    lo, hi = _lengths(motion, seconds, min_seconds)
    T = motion.num_frames
    rel, vel = _descriptions(motion)
    f = np.concatenate([rel.reshape(T, -1), VELOCITY_WEIGHT * vel.reshape(T, -1)], axis=1) / math.sqrt(rel.shape[1])
    n = np.einsum("ti,ti->t", f, f)
    d2 = np.maximum(n[:, None] + n[None, :] - 2.0 * (f @ f.T), 0.0)  # (T, T) squared mismatch of (s, e)
    # (T starts, T lengths) mismatch of (s, s + L): d2 skewed so each length is a column, a
    # view of d2 padded with inf past the last frame (no gather of T * T indices)
    padded_d2 = np.full((T, 2 * T), np.inf)
    padded_d2[:, :T] = d2
    by_length = np.lib.stride_tricks.as_strided(
        padded_d2, shape=(T, T), strides=(padded_d2.strides[0] + padded_d2.strides[1], padded_d2.strides[1]),
        writeable=False)
    m = np.full(T, np.inf)  # (T,) best mismatch per length, inf if none
    best_s = np.zeros(T, dtype=np.int64)
    best_s[lo:hi + 1] = np.argmin(by_length[:, lo:hi + 1], axis=0)
    m[lo:hi + 1] = np.sqrt(by_length[best_s[lo:hi + 1], np.arange(lo, hi + 1)])
    best = m.min()
    padded = np.concatenate([[np.inf], m, [np.inf]])
    local_min = (m <= padded[:-2]) & (m <= padded[2:]) & np.isfinite(m)
    rel_tol, abs_tol = TOLERANCE
    length = int(np.flatnonzero(local_min & (m <= best * (1.0 + rel_tol) + abs_tol))[0])
    start = int(best_s[length])
    return start, start + length, float(m[length])


def _hermite(L: int, B: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend curves over frames 0..L-1, nothing before frame L-1-B, on u = 0..1 over the tail.

    Returns (L,) each: h01 = 3u^2 - 2u^3 (value 0 -> 1, rates 0), d = B (u^3 - u^2) (value 0,
    rate 0 -> 1 per frame), g = B (u^3 - u^4 / 2) (value 0 ->, rate 0 -> 1 per frame, smoothly)."""
    t = np.arange(L, dtype=np.float64)
    u = np.clip((t - (L - 1 - B)) / B, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u), B * (u ** 3 - u ** 2), B * (u ** 3 - 0.5 * u ** 4)


def _span(i: int, T: int, k: int = 2) -> tuple[int, int]:
    """Frames (a, b) around frame i, up to ``k`` each way within 0..T-1, over which a rate at
    frame i is measured (a few frames: a jittery frame does not set the seam's velocity)."""
    return max(i - k, 0), min(i + k, T - 1)


def loop(motion: Motion, seconds: float | None = None, in_place: bool = False, min_seconds: float = 1.0,
         blend_frames: int = 8) -> Motion:
    """The best cycle of ``motion``, its seam closed (see the module docstring).

    Args:
        motion: the source, T frames.
        seconds: the cycle's length in seconds (nearest frame); None: the best of at least
            ``min_seconds``.
        in_place: hold the pelvis' floor position (x, z) at the first frame's.
        min_seconds: the shortest cycle considered, seconds.
        blend_frames: frames before the closing frame over which the seam is closed (1..L).
    Returns:
        L + 1 frames, source frames s..e, the closing frame the first frame's pose carried by the
        cycle's offset and turn; ``meta["loop"]`` as in the module docstring.
    Raises:
        ValueError naming the lengths when the motion is too short for the cycle.
    """
    s, e, mismatch = find_cycle(motion, seconds, min_seconds)
    T, fps = motion.num_frames, motion.fps
    n = e - s + 1  # frames kept, the last one closing the cycle
    B = max(1, min(int(blend_frames), n - 1))
    h01, d, g = _hermite(n, B)
    (s0, s1), (e0, e1) = _span(s, T), _span(e, T)
    ns, ne = s1 - s0, e1 - e0  # frames each rate spans
    Rsrc, c = motion.rotations, motion.root_translation
    yaw = _yaw_of(Rsrc[:, 0])  # (T,)

    # Rotations: the local ones and the root's heading-free tilt, turned toward frame s's.
    X = Rsrc.copy()
    X[:, 0] = yaw_matrix(-yaw) @ Rsrc[:, 0]  # heading removed
    C = X[s] @ np.swapaxes(X[e], -1, -2)  # (22, 3, 3) frame e -> frame s
    w_s = matrix_to_axis_angle(X[s1] @ np.swapaxes(X[s0], -1, -2)) / ns  # (22, 3) radians per frame
    w_e = matrix_to_axis_angle(X[e1] @ np.swapaxes(X[e0], -1, -2)) / ne
    dw = w_s - np.einsum("jab,jb->ja", C, w_e)
    X = X[s:e + 1]
    k = n - 1 - B  # the correction is nothing before the blend: only its frames turn
    corr = h01[k:, None, None] * matrix_to_axis_angle(C)[None] + d[k:, None, None] * dw[None]  # (B + 1, 22, 3)
    X[k:] = axis_angle_to_matrix(corr) @ X[k:]

    # Yaw rate and floor-plane velocity (in the heading frame) eased into frame s's.
    new_yaw = yaw[s:e + 1] + g * ((yaw[s1] - yaw[s0]) / ns - (yaw[e1] - yaw[e0]) / ne)  # (n,)
    xz = c[:, [0, 2]]
    local = _turn_xz(np.diff(xz[s:e + 1], axis=0), -yaw[s:e])  # (n-1, 2) steps, heading frame
    du = _turn_xz((xz[s1] - xz[s0]) / ns, -yaw[s]) - _turn_xz((xz[e1] - xz[e0]) / ne, -yaw[e])
    local = local + np.diff(g)[:, None] * du
    steps = _turn_xz(local, new_yaw[:-1])
    new_xz = xz[s] + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
    y = c[s:e + 1, 1] + h01 * (c[s, 1] - c[e, 1]) + d * ((c[s1, 1] - c[s0, 1]) / ns - (c[e1, 1] - c[e0, 1]) / ne)

    rotations = X
    rotations[:, 0] = yaw_matrix(new_yaw) @ X[:, 0]
    root = np.stack([new_xz[:, 0], y, new_xz[:, 1]], axis=1)
    cut = trim(motion, s / fps, e / fps)
    out = cut.with_(rotations=rotations, root_translation=root)
    if in_place:
        out = _hold_in_place(out)
    offset = out.root_translation[-1, [0, 2]] - out.root_translation[0, [0, 2]]
    out.meta["loop"] = dict(start=round(s / fps, 4), end=round(e / fps, 4), frames=n - 1,
                            offset=[round(float(v), 6) for v in offset], turn=round(float(new_yaw[-1] - new_yaw[0]), 6),
                            mismatch=round(mismatch, 6), in_place=bool(in_place))
    return out


def _repeat_spans(spans: list[dict], period: float, times: int) -> list[dict]:
    """Time spans (seconds) of one cycle, copied into each of ``times`` cycles ``period`` s apart."""
    return [{**sp, "start": round(float(sp["start"]) + k * period, 4), "end": round(float(sp["end"]) + k * period, 4)}
            for k in range(times) for sp in spans]


def repeat(looped: Motion, times: int) -> Motion:
    """A loop played ``times`` times in a row: each cycle is the previous one turned about +Y by
    the loop's turn and moved so its first frame lands on the previous closing frame (the
    per-cycle offset); the closing frames in between are dropped, the last one kept.

    Args:
        looped: a motion from ``loop`` (L + 1 frames, the last closing the cycle); the offset and
            turn are read from its first and last frames, so a loop edited since still repeats
            as it plays.
        times: how many cycles, >= 1.
    Returns:
        times * L + 1 frames.
    """
    if not (isinstance(times, (int, np.integer)) and times >= 1):
        raise ValueError(f"repeat: times={times!r}; give a whole number >= 1")
    L = looped.num_frames - 1
    if L < 1:
        raise ValueError("repeat: a loop needs at least 2 frames (its first and closing frame)")
    R, c = looped.rotations, looped.root_translation
    yaw = _yaw_of(R[:, 0])
    turn = yaw[-1] - yaw[0]
    c0, cL = c[0, [0, 2]], c[-1, [0, 2]]
    # Where each cycle's first frame lands: t_{k+1} = cL + turn(t_k - c0), t_0 = c0 (over cycles, not frames).
    starts = [c0]
    for k in range(1, times):
        starts.append(cL + _turn_xz(starts[-1] - c0, np.float64(turn)))
    starts = np.asarray(starts)  # (times, 2)
    frame = np.concatenate([np.tile(np.arange(L), times), [L]])  # source frame of each output frame
    cycle = np.concatenate([np.repeat(np.arange(times), L), [times - 1]])
    angle = cycle * turn
    rotations = R[frame].copy()
    rotations[:, 0] = yaw_matrix(angle) @ rotations[:, 0]
    xz = starts[cycle] + _turn_xz(c[frame][:, [0, 2]] - c0, angle)
    root = np.stack([xz[:, 0], c[frame, 1], xz[:, 1]], axis=1)
    meta = dict(looped.meta)
    for key in ("segments", "contacts"):
        if key in meta:
            meta[key] = _repeat_spans(meta[key], L / looped.fps, times)
    if "loop" in meta:
        meta["loop"] = {**meta["loop"], "repeats": int(times)}
    return looped.with_(rotations=rotations, root_translation=root, meta=meta)
