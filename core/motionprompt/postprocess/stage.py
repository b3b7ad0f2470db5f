"""The post-processing stage: which steps run on a motion (``PostProcess``) and running them
(``apply``), in a fixed order: the root (in place), the stretch kept (trim), the feet (foot
lock), then the frame rate (resample)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..body.motion import Motion
from .feet import LOCK_MODES, foot_lock
from .root import in_place
from .timing import resample, trim

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
        trim: (start, end) seconds kept (end None: to the end); None: all of it.
        foot_lock: one of ``feet.LOCK_MODES`` ("off", "feet", "toes").
    """

    fps: float | None = None
    root: str = "keep"
    trim: tuple | None = None
    foot_lock: str = "off"

    def validate(self) -> "PostProcess":
        """Returns self; raises ``PostProcessError`` naming the option for a bad value."""
        if self.fps is not None and not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps)
                                         and 0 < self.fps <= 1000):
            raise PostProcessError(f"fps: {self.fps!r} is not a frame rate; give a number in (0, 1000]")
        if self.root not in ROOT_MODES:
            raise PostProcessError(f"root: {self.root!r} is not one of {', '.join(ROOT_MODES)}")
        if self.foot_lock not in LOCK_MODES:
            raise PostProcessError(f"foot_lock: {self.foot_lock!r} is not one of {', '.join(LOCK_MODES)}")
        if self.trim is not None:
            ok = isinstance(self.trim, (tuple, list)) and len(self.trim) == 2
            a, b = (self.trim if ok else (None, None))
            ok = ok and all(x is None or (isinstance(x, (int, float)) and math.isfinite(x)) for x in (a, b))
            ok = ok and a is not None and a >= 0 and (b is None or b > a)
            if not ok:
                raise PostProcessError(f"trim: {self.trim!r} is not a stretch; give START:END seconds, "
                                       "0 <= START < END (END may be left out)")
        return self

    @property
    def is_identity(self) -> bool:
        return self.fps is None and self.root == "keep" and self.trim is None and self.foot_lock == "off"


def apply(motion: Motion, post: PostProcess | None = None) -> Motion:
    """``motion`` through every step ``post`` turns on (None: unchanged)."""
    if post is None or post.is_identity:
        return motion
    post.validate()
    if post.root == "in_place":
        motion = in_place(motion)
    if post.trim is not None:
        motion = trim(motion, *post.trim)
    if post.foot_lock != "off":
        motion = foot_lock(motion, post.foot_lock)
    if post.fps is not None:
        motion = resample(motion, post.fps)
    return motion
