"""Steps that change a motion's time axis: ``resample`` (another frame rate, same duration)."""

from __future__ import annotations

import numpy as np

from ..body.motion import Motion
from ..body.rotations import slerp_resample

__all__ = ["resample", "lerp_resample"]


def lerp_resample(values: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Linear resampling in time on the grid ``slerp_resample`` uses.

    Args:
        values: (T, ...) samples at ``src_fps``.
    Returns:
        (T', ...) at ``dst_fps`` with T' = round((T - 1) * dst / src) + 1; first and last kept.
    """
    a = np.asarray(values, dtype=np.float64)
    T = a.shape[0]
    n_out = int(round((T - 1) * dst_fps / src_fps)) + 1
    if T == 1:
        return np.repeat(a, n_out, axis=0)
    t = np.arange(n_out) * (src_fps / dst_fps)
    i0 = np.clip(np.floor(t).astype(int), 0, T - 2)
    w = np.clip(t - i0, 0.0, 1.0).reshape((-1,) + (1,) * (a.ndim - 1))
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
