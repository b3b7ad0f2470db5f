"""Steps that change a motion's time axis: ``trim`` (a stretch of it) and ``resample``
(another frame rate, same duration)."""

from __future__ import annotations

import numpy as np

from ..body.motion import Motion
from ..body.rotations import resample_grid, slerp_resample

__all__ = ["resample", "lerp_resample", "trim", "shift_spans"]


def lerp_resample(values: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Linear resampling in time on the frames ``slerp_resample`` uses (``resample_grid``).

    Args:
        values: (T, ...) samples at ``src_fps``.
    Returns:
        (T', ...) at ``dst_fps``; first and last kept.
    """
    a = np.asarray(values, dtype=np.float64)
    i0, w = resample_grid(a.shape[0], src_fps, dst_fps)
    if a.shape[0] == 1:
        return a[i0]
    w = w.reshape((-1,) + (1,) * (a.ndim - 1))
    return a[i0] * (1.0 - w) + a[i0 + 1] * w


def resample(motion: Motion, fps: float) -> Motion:
    """The same motion at ``fps`` frames per second, same duration (first and last frames kept):
    rotations by slerp, the root linearly. Joints and 272 features are dropped (they are
    defined at the source rate); the rest skeleton estimated at the source rate is kept.
    Action segments in ``meta`` are in seconds, so they stay valid."""
    fps = float(fps)
    if fps == motion.fps:
        return motion
    return motion.with_(rotations=slerp_resample(motion.rotations, motion.fps, fps),
                        root_translation=lerp_resample(motion.root_translation, motion.fps, fps), fps=fps)


def shift_spans(spans: list[dict], start: float, end: float) -> list[dict]:
    """Time spans (``{"start", "end", ...}`` in seconds: action segments, foot contacts) cut
    to [start, end] and moved so ``start`` is 0; spans outside are dropped."""
    out = []
    for span in spans:
        a, b = max(float(span["start"]), start), min(float(span["end"]), end)
        if b > a:
            out.append({**span, "start": round(a - start, 4), "end": round(b - start, 4)})
    return out


def trim(motion: Motion, start: float = 0.0, end: float | None = None) -> Motion:
    """The frames of ``motion`` from ``start`` to ``end`` seconds (None: to its end), both
    kept; action segments and foot contacts in ``meta`` follow. Raises ValueError when the
    stretch holds no frame."""
    last = motion.num_frames - 1
    a = int(round(start * motion.fps))
    b = last if end is None else int(round(end * motion.fps))
    if not 0 <= a <= b or a > last:
        raise ValueError(f"trim {start:g}:{'' if end is None else f'{end:g}'} s is outside the motion's "
                         f"{motion.duration:.2f} s; give start < end within it")
    b = min(b, last)
    if (a, b) == (0, last):
        return motion
    meta = dict(motion.meta)
    for key in ("segments", "contacts"):
        if key in meta:
            meta[key] = shift_spans(meta[key], a / motion.fps, (b + 1) / motion.fps)
    out = motion.frames(a, b + 1)
    out.meta = meta
    return out
