"""The post-processing stage: which steps run on a motion (``PostProcess``) and running them
(``apply``), in a fixed order: the root (in place), the stretch kept (trim), a floor path
(which locks the feet itself) or else the foot lock, the loop, then the frame rate
(resample)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..body.motion import Motion
from .feet import LOCK_MODES, foot_lock
from .loop import loop
from .path import follow_path, load_path
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
        lock_strength: 0..1, how far toward its pin a planted foot goes (1: all the way).
        path: a floor path file (JSON / CSV of [x, z] metres, ``path.load_path``) the pelvis
            follows at the motion's own stride speed; its feet are locked ("toes" unless
            ``foot_lock`` says otherwise).
        loop: seconds of a loop cut from the motion (0: the best cycle's own length); None: no loop.
    """

    fps: float | None = None
    root: str = "keep"
    trim: tuple | None = None
    foot_lock: str = "off"
    lock_strength: float = 1.0
    path: str | None = None
    loop: float | None = None

    def validate(self) -> "PostProcess":
        """Returns self; raises ``PostProcessError`` naming the option for a bad value."""
        if self.fps is not None and not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps)
                                         and 0 < self.fps <= 1000):
            raise PostProcessError(f"fps: {self.fps!r} is not a frame rate; give a number in (0, 1000]")
        if self.root not in ROOT_MODES:
            raise PostProcessError(f"root: {self.root!r} is not one of {', '.join(ROOT_MODES)}")
        if self.foot_lock not in LOCK_MODES:
            raise PostProcessError(f"foot_lock: {self.foot_lock!r} is not one of {', '.join(LOCK_MODES)}")
        if not (isinstance(self.lock_strength, (int, float)) and 0 <= self.lock_strength <= 1):
            raise PostProcessError(f"lock_strength: {self.lock_strength!r} is not a strength; give a number in [0, 1]")
        if self.trim is not None:
            ok = isinstance(self.trim, (tuple, list)) and len(self.trim) == 2
            a, b = (self.trim if ok else (None, None))
            ok = ok and all(x is None or (isinstance(x, (int, float)) and math.isfinite(x)) for x in (a, b))
            ok = ok and a is not None and a >= 0 and (b is None or b > a)
            if not ok:
                raise PostProcessError(f"trim: {self.trim!r} is not a stretch; give START:END seconds, "
                                       "0 <= START < END (END may be left out)")
        if self.loop is not None and not (isinstance(self.loop, (int, float)) and math.isfinite(self.loop)
                                          and self.loop >= 0):
            raise PostProcessError(f"loop: {self.loop!r} is not a length; give seconds >= 0 (0: the best cycle)")
        if self.path is not None:
            self.points()
        return self

    def points(self) -> np.ndarray:
        """(N, 2) the path file's floor points (``load_path``); ``PostProcessError`` naming it."""
        try:
            return load_path(self.path)
        except (OSError, ValueError) as e:
            raise PostProcessError(f"path: {e}") from None

    @property
    def is_identity(self) -> bool:
        return (self.fps is None and self.root == "keep" and self.trim is None and self.foot_lock == "off"
                and self.path is None and self.loop is None)


def apply(motion: Motion, post: PostProcess | None = None) -> Motion:
    """``motion`` through every step ``post`` turns on (None: unchanged)."""
    if post is None or post.is_identity:
        return motion
    replace(post, path=None).validate()
    points = None if post.path is None else post.points()  # the file read and checked once
    if post.root == "in_place":
        motion = in_place(motion)
    if post.trim is not None:
        motion = trim(motion, *post.trim)
    if post.path is not None:
        motion = follow_path(motion, points, lock_feet=post.foot_lock if post.foot_lock != "off" else "toes",
                             lock_strength=post.lock_strength)
    elif post.foot_lock != "off":
        motion = foot_lock(motion, post.foot_lock, strength=post.lock_strength)
    if post.loop is not None:
        motion = loop(motion, seconds=post.loop or None, in_place=post.root == "in_place")
    if post.fps is not None:
        motion = resample(motion, post.fps)
    return motion
