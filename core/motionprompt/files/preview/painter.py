"""The painter: the frames of one motion, layer by layer, as palette indices or RGB.

Input joints are ``(T, 22, 3)`` metres, SMPL-X axes (+Y up); arrays with more joints (e.g. the
55 SMPL-X joints) use their first 22. Frames are ``(size, size)`` uint8 indices into
``raster._palette()``, or ``(size, size, 3)`` uint8 RGB.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw

from ...body.skeleton import CHAIN_COLORS, NUM_BODY_JOINTS
from .projection import Camera, _Scene
from .raster import _Canvas, _flat_box, _ink, _segment_pixels, _to_rgb
from .style import (BACKGROUND, BONE_WIDTH, FLOOR, GRID, GRID_WIDTH, MARK, MARK_WIDTH, PATH_AHEAD, PATH_DONE,
                    PATH_WIDTH, REFERENCE_SIZE, SHADOW, TEXT)
from .text import _GlyphLine, _font, _text_mask


# ---------------------------------------------------------------------------------------------
# input checks

def _check_joints(joints) -> np.ndarray:
    """(T, >=22, 3) finite array -> (T, 22, 3) float64, else a ValueError saying what is wrong."""
    try:
        a = np.asarray(joints, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"joint positions must be a numeric (T, 22, 3) array: {e}") from e
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[1] < NUM_BODY_JOINTS:
        raise ValueError(f"joint positions must have shape (T, 22, 3) (metres, Y up), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError("the motion is empty (0 frames): nothing to preview")
    a = a[:, :NUM_BODY_JOINTS]
    bad = ~np.isfinite(a).all(axis=(1, 2))
    if bad.any():
        raise ValueError(f"joint positions contain NaN or infinite values (first at frame {int(np.argmax(bad))} "
                         f"of {len(a)}); fix the motion before previewing it")
    return a


def _check_trajectory(trajectory, joints: np.ndarray) -> np.ndarray:
    """(T, 3) root path drawn on the floor: the pelvis by default; (T, 2) means x, z."""
    if trajectory is None:
        return joints[:, 0].copy()
    t = np.asarray(trajectory, dtype=np.float64)
    if t.ndim == 2 and t.shape == (len(joints), 2):
        t = np.stack([t[:, 0], np.zeros(len(t)), t[:, 1]], axis=1)
    if t.shape != (len(joints), 3):
        raise ValueError(f"trajectory must be ({len(joints)}, 3) or ({len(joints)}, 2) (x, z), got {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("trajectory contains NaN or infinite values")
    return t


def _check_contacts(contacts, T: int) -> np.ndarray | None:
    """(T, 4) bool foot contacts (``body.contacts.CONTACT_POINTS``: left heel, left toe, right
    heel, right toe) -> (T, 2) bool per foot (heel or toe down), or None."""
    if contacts is None:
        return None
    c = np.asarray(contacts, dtype=bool)
    if c.shape != (T, 4):
        raise ValueError(f"foot contacts must be ({T}, 4) bool (left heel, left toe, right heel, right toe), "
                         f"got {c.shape}")
    return c[:, 0::2] | c[:, 1::2]


def _check_size(size) -> int:
    """Image side in pixels (64..8192), rounded up to an even number."""
    size = int(size)
    if size < 64 or size > 8192:
        raise ValueError(f"preview size must be between 64 and 8192 pixels, got {size}")
    return size + (size % 2)  # H.264 in yuv420p needs even sizes


def _check_fps(fps) -> float:
    """Frames per second, a finite positive number."""
    fps = float(fps)
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return fps


# ---------------------------------------------------------------------------------------------
# frames

class _Painter:
    """Draws frames of one motion: ``frame(i)`` -> (size, size) uint8 indices into ``_palette()``;
    ``rgb(i)`` -> the same frame as an RGB image."""

    def __init__(self, joints, size: int = 960, title: str = "", fps: float = 30.0, trajectory=None,
                 camera: Camera | None = None, antialias: bool = True, show_time: bool = True, contacts=None):
        joints = _check_joints(joints)
        self.planted = _check_contacts(contacts, len(joints))  # (T, 2) per foot, or None
        self.size = _check_size(size)
        self.fps = _check_fps(fps)
        self.antialias = bool(antialias)
        self.camera = camera or Camera()
        self.scene = _Scene(joints, self.size, self.camera, _check_trajectory(trajectory, joints))
        k = self.size / REFERENCE_SIZE
        self.hw_bone = max(0.5, BONE_WIDTH * k / 2)
        self.hw_grid = max(0.5, GRID_WIDTH * k / 2)
        self.hw_path = max(0.5, PATH_WIDTH * k / 2)
        self.hw_mark = max(1.0, MARK_WIDTH * k / 2)
        self.canvas = _Canvas(self.size)
        self.show_time = show_time
        self.label = _GlyphLine(_font(max(10, round(self.size * 0.022))))
        self.base = self._background(title)

    def __len__(self) -> int:
        return self.scene.T

    def _background(self, title: str) -> np.ndarray:
        """The parts that never change, flat palette indices: white, the floor patch (the same
        polygon in every frame: the camera follows the root), the title."""
        size = self.size
        ss = max(1, min(4, 4096 // size))  # supersampled floor edges, at most 4096^2 pixels
        img = np.full(size * size, _ink(BACKGROUND), np.uint8)
        if len(self.scene.floor_px) >= 3:
            big = Image.new("L", (size * ss, size * ss), 0)
            ImageDraw.Draw(big).polygon((self.scene.floor_px * ss).ravel().tolist(), fill=255)
            cover = np.asarray(big.reduce(ss))
            if not self.antialias:
                cover = np.where(cover >= 128, 255, 0).astype(np.uint8)
            self.canvas.lay_mask(img, cover, (0, 0), _ink(FLOOR))
        mask = _text_mask(title, size, max(12, round(size * 0.032)))
        if mask is not None:
            self.canvas.lay_mask(img, np.asarray(mask), (0, 0), _ink(TEXT))
        return img

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as (size, size) uint8 palette indices.

        Onto a copy of the static background, in order: grid, root path (still to come, then
        travelled), shadow, a mark under each planted foot (heel to toe, when contacts are
        given), the five chains far to near, the time. Each layer's pixels come
        from ``_segment_pixels`` and are blended through the palette's blend table.
        """
        s, size, aa, cv = self.scene, self.size, self.antialias, self.canvas
        img = self.base.copy()
        flat, alpha, _ = _segment_pixels(s.grid_seg[i], self.hw_grid, size, aa)
        cv.lay(img, flat, alpha, _ink(GRID))
        seg, done = s.trajectory_segments(i)
        flat, alpha, which = _segment_pixels(seg, self.hw_path, size, aa, with_ids=True)
        travelled = done[which]
        cv.lay(img, flat[~travelled], alpha[~travelled], _ink(PATH_AHEAD))
        cv.lay(img, flat[travelled], alpha[travelled], _ink(PATH_DONE))
        cv.lay(img, *_segment_pixels(s.shadow_seg[i], self.hw_bone, size, aa)[:2], _ink(SHADOW))
        if self.planted is not None and self.planted[i].any():  # a mark under each planted foot
            cv.lay(img, *_segment_pixels(s.foot_seg[i][self.planted[i]], self.hw_mark, size, aa)[:2], _ink(MARK))
        colour_flat = flat
        flat, alpha, which = _segment_pixels(s.bone_seg[i], self.hw_bone, size, aa, with_ids=True)
        chain = s.bone_chain[which]
        for c in s.chain_order[i]:
            sel = chain == c
            cv.lay(img, flat[sel], alpha[sel], _ink(CHAIN_COLORS[c]))
        self.colour_box = _flat_box(np.concatenate([colour_flat, flat]), size)
        if self.show_time:
            self._time_label(img, i)
        return img.reshape(size, size)

    #: (y0, y1, x0, x1) around the coloured pixels (root path, chains) of the last ``frame``;
    #: every other pixel is grey. None: nothing coloured.
    colour_box: tuple[int, int, int, int] | None = None

    def _time_label(self, img: np.ndarray, i: int) -> None:
        m = round(self.size * 0.02)
        mask, (dx, dy) = self.label.mask(f"{i / self.fps:.2f} s  ·  frame {i + 1}/{self.scene.T}")
        self.canvas.lay_mask(img, mask, (max(0, m + dx), max(0, self.size - m + dy)), _ink(TEXT))

    def rgb(self, i: int) -> Image.Image:
        """Frame ``i`` as an RGB image."""
        return _to_rgb(self.frame(i))

    def frames(self) -> Iterator[np.ndarray]:
        """Every frame in order, as ``frame`` gives it."""
        for i in range(len(self)):
            yield self.frame(i)


def render_frame(joints, index: int = 0, size: int = 960, title: str = "", fps: float = 30.0,
                 trajectory=None, camera: Camera | None = None, antialias: bool = True,
                 show_time: bool = True, contacts=None) -> np.ndarray:
    """One preview frame as an (size, size, 3) uint8 RGB array (``index`` counts from 0);
    ``contacts`` (T, 4) bool marks planted feet."""
    p = _Painter(joints, size, title, fps, trajectory, camera, antialias, show_time, contacts)
    if not -len(p) <= index < len(p):
        raise IndexError(f"frame {index} out of range for a motion of {len(p)} frames")
    return np.asarray(p.rgb(index % len(p)))


def iter_frames(joints, size: int = 960, title: str = "", fps: float = 30.0, trajectory=None,
                camera: Camera | None = None, antialias: bool = True) -> Iterator[np.ndarray]:
    """Yield every preview frame as an (size, size, 3) uint8 RGB array, one at a time."""
    for idx in _Painter(joints, size, title, fps, trajectory, camera, antialias).frames():
        yield np.asarray(_to_rgb(idx))

