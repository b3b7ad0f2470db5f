"""Steps that change a motion's time axis: ``resample`` (another frame rate, same duration)."""

from __future__ import annotations

import numpy as np

from ..body.motion import Motion
from ..body.rotations import resample_grid, slerp_resample

__all__ = ["resample", "lerp_resample"]


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
