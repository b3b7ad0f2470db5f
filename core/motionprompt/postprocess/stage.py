"""The post-processing stage: which steps run on a motion (``PostProcess``) and running them
(``apply``), in a fixed order: the root first (in place), then the time axis (resample)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..body.motion import Motion
from .root import in_place
from .timing import resample

__all__ = ["PostProcess", "PostProcessError", "apply", "ROOT_MODES"]

#: What happens to the root's travel: "keep" it, or "in_place" (floor-plane travel removed).
ROOT_MODES = ("keep", "in_place")


class PostProcessError(ValueError):
    """A post-processing setting out of range (the message names the option and the range)."""


@dataclass(frozen=True)
class PostProcess:
    """Which post-processing steps run, and with what settings.

    Attributes:
        fps: frame rate of the result (None: the motion's own).
        root: one of ``ROOT_MODES``.
    """

    fps: float | None = None
    root: str = "keep"

    def validate(self) -> "PostProcess":
        """Returns self; raises ``PostProcessError`` naming the option for a bad value."""
        if self.fps is not None and not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps)
                                         and 0 < self.fps <= 1000):
            raise PostProcessError(f"fps: {self.fps!r} is not a frame rate; give a number in (0, 1000]")
        if self.root not in ROOT_MODES:
            raise PostProcessError(f"root: {self.root!r} is not one of {', '.join(ROOT_MODES)}")
        return self

    @property
    def is_identity(self) -> bool:
        return self.fps is None and self.root == "keep"


def apply(motion: Motion, post: PostProcess | None = None) -> Motion:
    """``motion`` through every step ``post`` turns on (None: unchanged)."""
    if post is None or post.is_identity:
        return motion
    post.validate()
    if post.root == "in_place":
        motion = in_place(motion)
    if post.fps is not None:
        motion = resample(motion, post.fps)
    return motion
