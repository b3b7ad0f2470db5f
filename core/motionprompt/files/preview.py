"""Skeleton previews of a motion: GIF, MP4 and a PNG contact sheet.

The picture speaks the seed's language (spec "The seed's skeleton preview"): a floor with a grid,
the root trajectory on it, the five kinematic chains in their colours (``skeleton.KINEMATIC_CHAINS``,
``skeleton.CHAIN_COLORS``), a camera that follows the root, the prompt as title, 30 fps, 960x960.

How it is drawn:
- Every 3D point of every frame (joints, their floor shadows, grid lines, trajectory) goes
  through one perspective pinhole camera with numpy, all frames at once (``Camera``; the look-at
  point follows the root over the floor, the view direction is fixed, so the floor patch is the
  same polygon in every image and is drawn once, with the title, into a static background).
- Frames are drawn straight into indices of one global 255-colour palette: the picture's inks
  and blends between every pair of them. Lines are capsules rasterised by numpy, all segments of
  a layer at once (``_segment_pixels``): coverage from each pixel centre's distance to the
  segment (anti-aliasing without supersampling), laid over what is below through a
  (palette colour x ink x coverage) -> palette index table. Layers: grid, root path, shadow,
  chains far to near, time label (glyphs rendered once by FreeType).
- Frames are streamed, in worker threads: as yuv420p (table look-ups of the indices; grey
  pixels have neutral chroma, so only the coloured box is looked up) to ffmpeg (libx264
  ultrafast, BT.709, plays in browsers and Blender's VSE), and to a GIF written frame by frame
  with that palette (no quantization), each frame after the first storing only the rectangle
  that changed, compressed by Pillow without the GIL. No more than a few frames are alive.

Inputs are joint positions ``(T, 22, 3)`` metres, SMPL-X axes (+Y up); arrays with more joints
(e.g. the 55 SMPL-X joints) use their first 22. Files are written atomically: on any error
nothing is left at the destination.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import queue
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from PIL import GifImagePlugin, Image, ImageDraw, ImageFont

from ..atomic import atomic_path
from ..body.skeleton import CHAIN_COLORS, KINEMATIC_CHAINS, NUM_BODY_JOINTS

__all__ = [
    "Camera",
    "render_frame",
    "iter_frames",
    "render_gif",
    "render_mp4",
    "render_gif_and_mp4",
    "render_contact_sheet",
    "contact_sheet_frames",
    "write_gif",
    "write_mp4",
    "write_png",
    "write_gif_and_mp4",
]

BACKGROUND = (255, 255, 255)
FLOOR = (232, 232, 232)
GRID = (204, 204, 204)
SHADOW = (186, 186, 186)
PATH_DONE = (232, 128, 16)   # root trajectory already travelled
PATH_AHEAD = (244, 204, 156)  # root trajectory still to come
TEXT = (32, 32, 32)

GRID_STEP = 0.5     # metres between grid lines
FLOOR_HALF = 2.5    # metres: the floor patch is a square of side 2 * FLOOR_HALF around the root
REFERENCE_SIZE = 960  # line widths below are in pixels at this image size
BONE_WIDTH = 5.0
GRID_WIDTH = 1.5
PATH_WIDTH = 3.0


@dataclass(frozen=True)
class Camera:
    """Perspective pinhole camera whose look-at point follows the root over the floor.

    Attributes:
        azimuth_deg: direction of the camera around +Y, seen from the look-at point:
            0 puts it on +Z (in front of a body that faces +Z), 90 on +X.
        elevation_deg: height angle of the camera above the horizontal (it looks down).
        distance: metres from the look-at point to the camera.
        fov_deg: field of view (the images are square: horizontal = vertical).
        look_height: metres above the floor of the look-at point; its x, z are the root's.
        near: metres; geometry closer to the camera plane than this is clipped away.
    """

    azimuth_deg: float = 30.0
    elevation_deg: float = 22.0
    distance: float = 4.0
    fov_deg: float = 40.0
    look_height: float = 0.9
    near: float = 0.05

    def rotation(self) -> np.ndarray:
        """(3, 3) world -> camera rotation; rows: right, up, forward (viewing direction)."""
        az, el = math.radians(self.azimuth_deg), math.radians(self.elevation_deg)
        back = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        forward = -back
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        return np.stack([right, up, forward])

    def offset(self) -> np.ndarray:
        """(3,) camera position minus look-at point, metres."""
        return -self.distance * self.rotation()[2]

    def focal(self, size: int) -> float:
        """Focal length in pixels for a ``size`` x ``size`` image."""
        return 0.5 * size / math.tan(math.radians(self.fov_deg) / 2)


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


def _check_size(size) -> int:
    size = int(size)
    if size < 64 or size > 8192:
        raise ValueError(f"preview size must be between 64 and 8192 pixels, got {size}")
    return size + (size % 2)  # H.264 in yuv420p needs even sizes


def _check_fps(fps) -> float:
    fps = float(fps)
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return fps


# ---------------------------------------------------------------------------------------------
# fonts and text

#: Fonts tried for text, first the wide-coverage DejaVu Sans (Latin, Greek, Cyrillic, symbols),
#: then fonts with CJK and other scripts for titles DejaVu cannot spell.
_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
    "C:/Windows/Fonts/DejaVuSans.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/YuGothM.ttc",
    "C:/Windows/Fonts/malgun.ttf",
    "C:/Windows/Fonts/seguisym.ttf",
)


@lru_cache(maxsize=None)
def _font_files() -> tuple[str, ...]:
    """The font files of ``_FONT_FILES`` present here; matplotlib's DejaVu Sans first if installed."""
    files = list(_FONT_FILES)
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        files.insert(0, str(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"))
    return tuple(f for f in files if Path(f).is_file())


def _missing_glyphs(font, text: str) -> set[str]:
    """Characters of ``text`` the font draws as its "missing glyph" box."""
    def ink(ch):
        m = font.getmask(ch)
        return m.size, bytes(m)
    notdef = ink("\U000F0000")  # a private-use code point no font here maps
    return {ch for ch in set(text) if not ch.isspace() and ink(ch) == notdef}


@lru_cache(maxsize=64)
def _font(size: int, text: str = ""):
    """A font of ``size`` pixels that can spell ``text`` (the first candidate that covers it, else
    the one missing fewest characters); Pillow's bundled scalable font when no file is found."""
    best, best_missing = None, None
    for path in _font_files():
        try:
            font = ImageFont.truetype(path, size)
        except OSError:
            continue
        missing = len(_missing_glyphs(font, text)) if text else 0
        if best is None or missing < best_missing:
            best, best_missing = font, missing
        if missing == 0:
            break
    return best if best is not None else ImageFont.load_default(size=size)


def _wrap(text: str, font, width: float, max_lines: int = 3) -> list[str]:
    """Greedy wrap of ``text`` to ``width`` pixels at spaces (words too wide, e.g. CJK text
    without spaces, break between characters); at most ``max_lines`` (ellipsis after)."""
    lines: list[str] = []
    line = ""
    for word in " ".join(text.split()).split(" "):
        trial = f"{line} {word}" if line else word
        if font.getlength(trial) <= width:
            line = trial
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:
            if line and font.getlength(line + ch) > width:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + " …") > width:
            last = last[:-1]
        lines[-1] = last + " …"
    return lines


def _text_mask(text: str, size: int, font_px: int) -> Image.Image | None:
    """An "L" mask ``size`` pixels wide holding ``text`` wrapped and centred, or None if empty."""
    if not text.strip():
        return None
    font = _font(font_px, text)
    lines = _wrap(text, font, size * 0.92)
    step = round(font_px * 1.25)
    mask = Image.new("L", (size, step * len(lines) + round(font_px * 0.5)), 0)
    draw = ImageDraw.Draw(mask)
    for k, ln in enumerate(lines):
        draw.text((size / 2, round(font_px * 0.45) + k * step), ln, fill=255, font=font, anchor="mt")
    return mask


# ---------------------------------------------------------------------------------------------
# geometry: everything projected for all frames at once

def _clip_near(a: np.ndarray, b: np.ndarray, near: float):
    """Clip segments a-b (camera coordinates, (..., 3)) to depth >= near.

    Returns (a', b', visible) where visible (...) is False for segments wholly behind.
    """
    da, db = a[..., 2], b[..., 2]
    visible = (da >= near) | (db >= near)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip((near - da) / (db - da), 0.0, 1.0)[..., None]
    cut = a + t * (b - a)
    return np.where((da < near)[..., None], cut, a), np.where((db < near)[..., None], cut, b), visible


def _clip_polygon(poly: np.ndarray, near: float) -> np.ndarray:
    """Sutherland-Hodgman clip of one polygon (N, 3) camera coordinates to depth >= near."""
    out = []
    for k in range(len(poly)):
        p, q = poly[k], poly[(k + 1) % len(poly)]
        pin, qin = p[2] >= near, q[2] >= near
        if pin:
            out.append(p)
        if pin != qin:
            out.append(p + (near - p[2]) / (q[2] - p[2]) * (q - p))
    return np.array(out).reshape(-1, 3)


class _Scene:
    """Projected geometry of a whole motion, in output pixels (pixel k spans [k, k + 1)).

    Segment arrays are (T, N, 4) pixel coordinates (x0, y0, x1, y1) per frame, NaN where a
    segment lies wholly behind the camera's near plane (parts behind it are clipped away).
    """

    def __init__(self, joints: np.ndarray, size: int, camera: Camera, trajectory: np.ndarray):
        T = len(joints)
        self.T = T
        self.near = camera.near
        self.R = camera.rotation()
        self.f = camera.focal(size)
        self.c = size / 2.0
        self.floor_y = float(joints[..., 1].min())
        root = joints[:, 0]
        look = np.stack([root[:, 0], np.full(T, self.floor_y + camera.look_height), root[:, 2]], axis=1)
        self.eye = look + camera.offset()                                # (T, 3)
        self.eye_cam = self.eye @ self.R.T                               # (T, 3) eye in camera axes

        # skeleton and its shadow on the floor: one segment per bone, chain by chain
        pairs = [(c[k], c[k + 1]) for c in KINEMATIC_CHAINS for k in range(len(c) - 1)]
        self.bone_chain = np.array([n for n, c in enumerate(KINEMATIC_CHAINS) for _ in range(len(c) - 1)])
        parent, child = (list(v) for v in zip(*pairs))
        joints_cam = self._cam(joints)                                   # (T, 22, 3)
        shadow = joints.copy()
        shadow[..., 1] = self.floor_y
        shadow_cam = self._cam(shadow)
        self.bone_seg = self._segments(joints_cam[:, parent], joints_cam[:, child])     # (T, B, 4)
        self.shadow_seg = self._segments(shadow_cam[:, parent], shadow_cam[:, child])   # (T, B, 4)
        chain_depth = np.stack([joints_cam[:, list(c), 2].mean(axis=1) for c in KINEMATIC_CHAINS], axis=1)
        self.chain_order = np.argsort(-chain_depth, axis=1)              # (T, 5) far chains first

        # floor patch: a square around the root, so the same polygon in every frame's image
        h = FLOOR_HALF
        corners = np.array([[sx, 0.0, sz] for sx, sz in ((-h, -h), (h, -h), (h, h), (-h, h))])
        floor_cam = (corners + [root[0, 0], self.floor_y, root[0, 2]]) @ self.R.T - self.eye_cam[0]
        if (floor_cam[:, 2] < self.near).any():
            floor_cam = _clip_polygon(floor_cam, self.near)
        self.floor_px = self._px(floor_cam)                              # (P, 2)

        # grid lines at fixed world positions, clipped to the floor patch of each frame
        n = int(round(2 * h / GRID_STEP)) + 2
        segs = []
        for along in (0, 2):  # lines of constant x (along=0), then of constant z (along=2)
            other = 2 - along
            first = np.ceil((root[:, along] - h) / GRID_STEP)            # (T,)
            pos = (first[:, None] + np.arange(n)) * GRID_STEP            # (T, n)
            a = np.empty((T, n, 3))
            a[..., along] = pos
            a[..., 1] = self.floor_y
            b = a.copy()
            a[..., other] = (root[:, other] - h)[:, None]
            b[..., other] = (root[:, other] + h)[:, None]
            inside = pos <= (root[:, along] + h)[:, None] + 1e-9
            a[~inside] = np.nan
            b[~inside] = np.nan
            segs.append((a, b))
        a = np.concatenate([s[0] for s in segs], axis=1)
        b = np.concatenate([s[1] for s in segs], axis=1)
        self.grid_seg = self._segments(self._cam(a), self._cam(b))       # (T, G, 4)

        # trajectory on the floor: camera axes without the eye (subtracted per frame)
        traj = trajectory.copy()
        traj[:, 1] = self.floor_y
        self.traj = traj
        self.traj_rot = traj @ self.R.T                                  # (T, 3)
        self.root_xz = root[:, [0, 2]]

    def _cam(self, points: np.ndarray) -> np.ndarray:
        """World points (T, ..., 3) -> camera coordinates for each frame's eye."""
        shape = (self.T,) + (1,) * (points.ndim - 2) + (3,)
        return points @ self.R.T - self.eye_cam.reshape(shape)

    def _px(self, cam: np.ndarray) -> np.ndarray:
        """Camera coordinates (..., 3) with depth > 0 -> pixel coordinates (..., 2)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.c + self.f * cam[..., 0] / cam[..., 2]
            v = self.c - self.f * cam[..., 1] / cam[..., 2]
        return np.stack([u, v], axis=-1)

    def _segments(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Segments a-b in camera coordinates (..., 3) -> (..., 4) pixels, clipped at the near
        plane; NaN where wholly behind it (or where a or b is NaN)."""
        a, b, visible = _clip_near(a, b, self.near)
        seg = np.concatenate([self._px(a), self._px(b)], axis=-1)
        seg[~visible] = np.nan
        return seg

    def trajectory_segments(self, i: int, spacing: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
        """Pixel segments (M, 4) of the root path inside the floor patch of frame ``i``, and (M,)
        True where the segment is already travelled (it ends at or before frame ``i``).

        Points closer than ``spacing`` pixels along the path to the last one kept are skipped
        (a path sampled at 30 fps is mostly sub-pixel steps); the first and last point of every
        run inside the patch and the current frame's point are always kept."""
        cam = self.traj_rot - self.eye_cam[i]
        inside = (np.abs(self.traj[:, [0, 2]] - self.root_xz[i]) <= FLOOR_HALF).all(axis=1)
        inside &= cam[:, 2] >= self.near
        px = self._px(cam)
        step = np.hypot(*(px[1:] - px[:-1]).T)
        step[~(inside[1:] & inside[:-1])] = 0.0
        bucket = np.floor(np.concatenate([[0.0], np.cumsum(step)]) / spacing)
        edge = np.diff(inside.astype(np.int8)) != 0
        keep = np.concatenate([[True], (bucket[1:] != bucket[:-1]) | edge])
        keep[:-1] |= edge
        keep[[i, -1]] = True
        keep &= inside
        k = np.flatnonzero(keep)
        outside = np.concatenate([[0], np.cumsum(~inside)])               # outside points before each
        joined = outside[k[1:]] == outside[k[:-1]]                         # no point outside between
        seg = np.concatenate([px[k[:-1]], px[k[1:]]], axis=1)[joined]
        return seg, k[1:][joined] <= i


# ---------------------------------------------------------------------------------------------
# palette and anti-aliased drawing straight into palette indices

#: Palette index never drawn (kept free for a transparent "unchanged" colour).
GIF_KEEP = 255
_UNUSED = (255, 0, 255)  # palette filler far from every colour drawn, so nothing maps to it
#: Coverage of a pixel by a line is quantised to 1/ALPHA steps (the palette blends every
#: pair of inks in a few steps, so finer levels would map to the same entries).
ALPHA = 16


def _inks() -> list[tuple[int, int, int]]:
    """The colours the picture is drawn with (each once), background first."""
    return list(dict.fromkeys([BACKGROUND, FLOOR, GRID, SHADOW, PATH_DONE, PATH_AHEAD, TEXT]
                              + [tuple(int(v) for v in c) for c in CHAIN_COLORS]))


@lru_cache(maxsize=None)
def _palette() -> np.ndarray:
    """(256, 3) uint8: the one global palette. The inks, then blends between every pair of them
    (what anti-aliased edges produce); index ``GIF_KEEP`` and the filler entries are never drawn."""
    base = _inks()
    pairs = [(a, b) for k, a in enumerate(base) for b in base[k + 1:]]
    steps = max(0, min(7, (GIF_KEEP - len(base)) // max(1, len(pairs))))
    colours = [np.array(c, float) for c in base]
    for a, b in pairs:
        for t in np.arange(1, steps + 1) / (steps + 1):
            colours.append((1 - t) * np.array(a, float) + t * np.array(b, float))
    table = np.empty((256, 3), np.uint8)
    table[:] = _UNUSED
    table[:len(colours[:GIF_KEEP])] = np.round(colours[:GIF_KEEP])
    return table


@lru_cache(maxsize=None)
def _blend_table() -> np.ndarray:
    """(256 * inks * (ALPHA + 1),) uint8: entry ``(d * inks + k) * (ALPHA + 1) + a`` is the palette
    index nearest to ink ``k`` laid with coverage ``a / ALPHA`` over palette colour ``d``."""
    pal = _palette().astype(np.float32)
    inks = np.array(_inks(), np.float32)
    a = np.arange(ALPHA + 1, dtype=np.float32) / ALPHA
    mix = ((1 - a)[None, None, :, None] * pal[:, None, None, :]
           + a[None, None, :, None] * inks[None, :, None, :]).reshape(-1, 3)
    usable = (pal != _UNUSED).any(axis=1)
    usable[GIF_KEEP] = False
    cand = pal[usable]
    # squared distance less |mix|^2 (the same for every candidate): |c|^2 - 2 mix.c
    dist = (cand * cand).sum(1)[None] - 2 * (mix @ cand.T)
    return np.flatnonzero(usable)[np.argmin(dist, axis=1)].astype(np.uint8)


@lru_cache(maxsize=None)
def _ink_numbers() -> dict[tuple[int, int, int], int]:
    return {c: k for k, c in enumerate(_inks())}


def _ink(colour) -> int:
    """Ink number (row of the blend table) of an RGB colour of the picture."""
    return _ink_numbers()[tuple(int(v) for v in colour)]


def _to_rgb(idx: np.ndarray) -> Image.Image:
    """(H, W) palette indices -> RGB image (Pillow's palette conversion, no numpy gather)."""
    im = Image.frombuffer("P", (idx.shape[1], idx.shape[0]), np.ascontiguousarray(idx), "raw", "P", 0, 1)
    im.putpalette(_palette().tobytes())
    return im.convert("RGB")


def _clip_to_view(seg: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Segments (N, 4) cut to the square [lo, hi]^2 (Liang-Barsky); rows wholly outside become NaN."""
    x0, y0, x1, y1 = seg.T
    d = np.stack([x1 - x0, y1 - y0])                                     # (2, N)
    p = np.concatenate([-d, d])                                          # (4, N)
    q = np.stack([x0 - lo, y0 - lo, hi - x0, hi - y0])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = q / p
    t0 = np.where(p < 0, r, 0.0).max(axis=0).clip(0, None)
    t1 = np.where(p > 0, r, 1.0).min(axis=0).clip(None, 1)
    out = ((p == 0) & (q < 0)).any(axis=0) | (t0 > t1)
    start = seg[:, :2] + t0[:, None] * d.T
    end = seg[:, :2] + t1[:, None] * d.T
    res = np.concatenate([start, end], axis=1)
    res[out] = np.nan
    return res


def _segment_pixels(seg: np.ndarray, half_width: float, size: int, antialias: bool = True,
                    with_ids: bool = False):
    """Pixels covered by thick segments (capsules: round ends, so polylines get round joints).

    Args:
        seg: (N, 4) pixel coordinates x0, y0, x1, y1 (pixel k spans [k, k + 1)); NaN rows skipped.
        half_width: half the line width, pixels.
        size: the image is ``size`` x ``size``; pixels outside are dropped.
        antialias: coverage from the distance of each pixel centre to the segment (a box-filtered
            edge one pixel wide) rather than all-or-nothing.

    Returns:
        flat (M,) int32 indices ``y * size + x`` (a pixel may repeat, once per segment), alpha (M,)
        uint8 coverage in 0..ALPHA, and (if ``with_ids``, else None) seg_id (M,) the row of
        ``seg`` each belongs to.

    Every segment is walked along its major axis one pixel at a time; across it a band of
    pixels wide enough for any slope is tested, all segments at once (no per-segment loop).
    """
    reach = half_width + 0.5                              # no coverage farther than this from the axis
    seg = np.asarray(seg, np.float64).reshape(-1, 4)
    if not ((seg >= -reach) & (seg <= size + reach)).all():                # NaN rows go through here too
        seg = _clip_to_view(seg, -reach, size + reach)
    rows = np.flatnonzero(np.isfinite(seg).all(axis=1))
    x0, y0, x1, y1 = seg[rows].T
    xmajor = np.abs(x1 - x0) >= np.abs(y1 - y0)
    # (u, v): u along the major axis, v across, u0 <= u1
    u0, v0 = np.where(xmajor, x0, y0), np.where(xmajor, y0, x0)
    u1, v1 = np.where(xmajor, x1, y1), np.where(xmajor, y1, x1)
    swap = u1 < u0
    u0, u1 = np.where(swap, u1, u0), np.where(swap, u0, u1)
    v0, v1 = np.where(swap, v1, v0), np.where(swap, v0, v1)
    du, dv = u1 - u0, v1 - v0
    length = np.hypot(du, dv)
    cos = np.divide(du, length, out=np.ones_like(du), where=length > 0)   # direction (cos, sin)
    sin = np.divide(dv, length, out=np.zeros_like(dv), where=length > 0)
    slope = sin / cos
    first = np.maximum(np.ceil(u0 - reach - 0.5), 0)
    n = (np.minimum(np.floor(u1 + reach - 0.5), size - 1) - first + 1).clip(0).astype(np.int64)
    if n.sum() == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.uint8), np.zeros(0, np.int64) if with_ids else None
    which = np.repeat(np.arange(len(n)), n)                               # (S,) segment of each step
    k = first[which] + (np.arange(len(which)) - np.repeat(np.cumsum(n) - n, n))   # major-axis pixel
    band = reach * math.sqrt(1.0 + float(np.abs(slope).max()) ** 2)      # widest extent across
    width = int(math.ceil(2 * band)) + 1
    f32 = np.float32
    pu = k + 0.5 - u0[which]                                              # (S,) pixel centre - start
    vc = v0[which] + np.clip(pu, 0, du[which]) * slope[which]            # axis at this step
    m0 = np.floor(vc - band)                                              # first pixel across
    pv = m0 + 0.5 - v0[which]
    c, s = cos[which], sin[which]
    j = np.arange(width, dtype=f32)
    # across the segment from its axis, for every pixel of the band: (S, width)
    perp = (pv * c - pu * s).astype(f32)[:, None] + j * c.astype(f32)[:, None]
    dist = np.abs(perp)
    # near the ends (round caps) the distance is to the end point: only those steps need it
    along0 = pu * c + pv * s                                              # along the segment, j = 0
    spread = (width - 1) * s
    cap = np.flatnonzero((along0 + np.minimum(spread, 0) < 0) | (along0 + np.maximum(spread, 0) > length[which]))
    if len(cap):
        along = along0[cap].astype(f32)[:, None] + j * s[cap].astype(f32)[:, None]
        excess = np.maximum(-along, along - length[which[cap]].astype(f32)[:, None])
        np.maximum(excess, 0, out=excess)
        pc = perp[cap]
        dist[cap] = np.sqrt(pc * pc + excess * excess)
    cover = np.subtract(f32(half_width + 0.5), dist, out=dist)
    if antialias:
        alpha = np.rint(np.multiply(cover, ALPHA, out=cover), out=cover)
        keep = alpha > 0
    else:
        keep = cover >= 0.5
        alpha = np.full_like(cover, ALPHA)
    m0 = m0.astype(np.int32)
    m = m0[:, None] + np.arange(width, dtype=np.int32)
    keep &= m.view(np.uint32) < size                                      # 0 <= m < size
    sel = np.flatnonzero(keep)
    row = sel // width
    xm = xmajor[which]
    base = k.astype(np.int32) * np.where(xm, 1, size).astype(np.int32)  # the major-axis part
    stride = np.where(xm, size, 1).astype(np.int32)                       # one pixel across
    r = row
    flat = base.take(r) + (m0.take(r) + (sel - r * width).astype(np.int32)) * stride.take(r)
    alpha = np.minimum(alpha.ravel().take(sel), ALPHA).astype(np.uint8)
    seg_id = rows[which.take(r)] if with_ids else None
    return flat, alpha, seg_id


class _GlyphLine:
    """Renders one line of text from glyphs drawn once each (the time label changes every frame
    but uses a dozen characters); pen advances follow the font, without kerning."""

    def __init__(self, font):
        self.font = font
        self.ascent, self.descent = font.getmetrics()
        self.glyphs: dict[str, tuple[np.ndarray, int, int, float]] = {}

    def _glyph(self, ch: str) -> tuple[np.ndarray, int, int, float]:
        """(mask (h, w) uint8, left and top offsets from the pen on the baseline, advance)."""
        if ch not in self.glyphs:
            x0, y0, x1, y1 = self.font.getbbox(ch, anchor="ls")
            im = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
            ImageDraw.Draw(im).text((-x0, -y0), ch, fill=255, font=self.font, anchor="ls")
            self.glyphs[ch] = (np.asarray(im), x0, y0, self.font.getlength(ch))
        return self.glyphs[ch]

    def mask(self, text: str) -> tuple[np.ndarray, tuple[int, int]]:
        """An "L" mask of ``text`` and the offset of its top-left from the pen start on the baseline."""
        placed, pen, left = [], 0.0, 0
        for ch in text:
            g, x0, y0, adv = self._glyph(ch)
            placed.append((g, round(pen) + x0, y0))
            left = min(left, round(pen) + x0)
            pen += adv
        top = min([-self.ascent] + [y0 for _, _, y0 in placed])
        width = max([1] + [x - left + g.shape[1] for g, x, _ in placed])
        height = max([1] + [y0 - top + g.shape[0] for g, _, y0 in placed])
        out = np.zeros((height, width), np.uint8)
        for g, x, y0 in placed:
            h, w = g.shape
            view = out[y0 - top:y0 - top + h, x - left:x - left + w]
            np.maximum(view, g, out=view)
        return out, (left, top)


def _flat_box(flat: np.ndarray, size: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) bounding box (ends exclusive) of flat pixel indices, None if empty."""
    if len(flat) == 0:
        return None
    y = flat // size
    x = flat - y * size
    return int(y.min()), int(y.max()) + 1, int(x.min()), int(x.max()) + 1


class _Canvas:
    """A frame of palette indices, flat (size * size,) uint8, that inks are laid onto."""

    def __init__(self, size: int):
        self.size = size
        # per ink: palette colour * (ALPHA + 1) + coverage -> palette index
        n = len(_inks())
        self.blend = _blend_table().reshape(256, n, ALPHA + 1).transpose(1, 0, 2).reshape(n, -1).copy()
        self.cover = np.zeros(size * size, np.uint8)  # scratch: coverage of the layer being laid

    def lay(self, img: np.ndarray, flat: np.ndarray, alpha: np.ndarray, ink: int) -> None:
        """Lay ink number ``ink`` over ``img`` (flat palette indices, modified in place) with
        coverage ``alpha`` (0..ALPHA) at ``flat``; where pixels repeat the largest coverage counts."""
        if len(flat) == 0:
            return
        np.maximum.at(self.cover, flat, alpha)
        a = self.cover.take(flat)
        below = img.take(flat).astype(np.int32)
        below *= ALPHA + 1
        below += a
        img[flat] = self.blend[ink].take(below)
        self.cover[flat] = 0

    def lay_mask(self, img: np.ndarray, mask: np.ndarray, origin: tuple[int, int], ink: int) -> None:
        """Lay ink through an 8-bit "L" coverage mask (h, w) whose top-left pixel is at ``origin``."""
        x0, y0 = origin
        h, w = mask.shape
        h, w = min(h, self.size - y0), min(w, self.size - x0)
        ys, xs = np.nonzero(mask[:h, :w])
        if len(ys):
            alpha = ((mask[ys, xs].astype(np.uint16) * ALPHA + 127) // 255).astype(np.uint8)
            self.lay(img, (ys + y0) * self.size + xs + x0, alpha, ink)


# ---------------------------------------------------------------------------------------------
# rasterisation

class _Painter:
    """Draws frames of one motion: ``frame(i)`` -> (size, size) uint8 indices into ``_palette()``;
    ``rgb(i)`` -> the same frame as an RGB image."""

    def __init__(self, joints, size: int = 960, title: str = "", fps: float = 30.0, trajectory=None,
                 camera: Camera | None = None, antialias: bool = True, show_time: bool = True):
        joints = _check_joints(joints)
        self.size = _check_size(size)
        self.fps = _check_fps(fps)
        self.antialias = bool(antialias)
        self.camera = camera or Camera()
        self.scene = _Scene(joints, self.size, self.camera, _check_trajectory(trajectory, joints))
        k = self.size / REFERENCE_SIZE
        self.hw_bone = max(0.5, BONE_WIDTH * k / 2)
        self.hw_grid = max(0.5, GRID_WIDTH * k / 2)
        self.hw_path = max(0.5, PATH_WIDTH * k / 2)
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
        travelled), shadow, the five chains far to near, the time. Each layer's pixels come
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
        for i in range(len(self)):
            yield self.frame(i)


def render_frame(joints, index: int = 0, size: int = 960, title: str = "", fps: float = 30.0,
                 trajectory=None, camera: Camera | None = None, antialias: bool = True,
                 show_time: bool = True) -> np.ndarray:
    """One preview frame as an (size, size, 3) uint8 RGB array (``index`` counts from 0)."""
    p = _Painter(joints, size, title, fps, trajectory, camera, antialias, show_time)
    if not -len(p) <= index < len(p):
        raise IndexError(f"frame {index} out of range for a motion of {len(p)} frames")
    return np.asarray(p.rgb(index % len(p)))


def iter_frames(joints, size: int = 960, title: str = "", fps: float = 30.0, trajectory=None,
                camera: Camera | None = None, antialias: bool = True) -> Iterator[np.ndarray]:
    """Yield every preview frame as an (size, size, 3) uint8 RGB array, one at a time."""
    for idx in _Painter(joints, size, title, fps, trajectory, camera, antialias).frames():
        yield np.asarray(_to_rgb(idx))


# ---------------------------------------------------------------------------------------------
# encoders: they take frames of palette indices

class _GifStream:
    """Writes an animated GIF frame by frame: one global palette, endless loop, 1/100 s delays
    whose running sum follows the true frame times. After the first frame each frame stores only
    the rectangle that changed (as it is: making its unchanged pixels transparent gave no smaller
    file and cost a pass). Frames are already palette indices: nothing is quantized."""

    def __init__(self, fp: BinaryIO, size: tuple[int, int], fps: float):
        self.fp, self.fps, self.n, self.prev = fp, fps, 0, None
        w, h = size
        fp.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, 0, 0))  # global table of 256 colours
        fp.write(_palette().tobytes())
        fp.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00")  # loop forever

    def write(self, cur: np.ndarray, colour_box=None) -> None:
        self.n += 1
        delay = round(self.n * 100 / self.fps) - round((self.n - 1) * 100 / self.fps)  # centiseconds
        opts = {"duration": delay * 10, "disposal": 1}  # 1: keep this frame under the next one
        if self.prev is None:
            sub, x0, y0 = cur, 0, 0
        else:
            diff = cur != self.prev
            rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
            y0, y1, x0, x1 = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) if len(rows) else (0, 1, 0, 1)
            sub = cur[y0:y1, x0:x1]
        self.prev = cur
        part = Image.frombuffer("P", (sub.shape[1], sub.shape[0]), np.ascontiguousarray(sub), "raw", "P", 0, 1)
        write_frame = getattr(GifImagePlugin, "_write_frame_data", None)
        if write_frame is not None:  # straight to the file: Pillow then compresses without the GIL
            write_frame(self.fp, part, (int(x0), int(y0)), opts)
        else:
            for chunk in GifImagePlugin.getdata(part, offset=(int(x0), int(y0)), **opts):
                self.fp.write(chunk)

    def close(self) -> None:
        self.fp.write(b";")


@lru_cache(maxsize=None)
def _yuv_tables() -> tuple[np.ndarray, np.ndarray]:
    """Palette index -> BT.709 limited-range luma (256,) uint8; and the chroma of two horizontal
    neighbours (65536,) uint32 indexed by ``left | right << 8`` (a row of indices viewed as
    little-endian uint16): the sum of their U in the low 16 bits, of their V in the high ones."""
    rgb = _palette().astype(np.float64) / 255.0
    kr, kb = 0.2126, 0.0722
    y = kr * rgb[:, 0] + (1 - kr - kb) * rgb[:, 1] + kb * rgb[:, 2]
    u = 128 + 224 * (rgb[:, 2] - y) / (2 * (1 - kb))
    v = 128 + 224 * (rgb[:, 0] - y) / (2 * (1 - kr))
    luma = np.round(16 + 219 * y).astype(np.uint8)
    uu = np.round(u[:, None] + u[None, :])                               # [right, left]
    vv = np.round(v[:, None] + v[None, :])
    pair = (uu.astype(np.uint32) | (vv.astype(np.uint32) << 16)).ravel()
    return luma, pair


def _to_yuv420(idx: np.ndarray, colour_box=(0, None, 0, None)) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(H, W) palette indices (H, W even) -> Y (H * W bytes), U and V (H/2, W/2) uint8 planes; the
    chroma of each 2x2 block is the mean of its four pixels' (two table look-ups per block).

    ``colour_box`` (y0, y1, x0, x1), ends exclusive or None: the only pixels that may have a
    colour; the chroma of the grey rest is 128 without looking (None: all grey)."""
    luma, pair = _yuv_tables()
    h, w = idx.shape
    idx = np.ascontiguousarray(idx)
    y = Image.frombuffer("L", (w, h), idx, "raw", "L", 0, 1).point(_luma_list()).tobytes()
    u = np.full((h // 2, w // 2), 128, np.uint8)
    v = u.copy()
    if colour_box is not None:
        y0, y1, x0, x1 = colour_box
        r0, c0 = y0 // 2, x0 // 2
        r1 = h // 2 if y1 is None else (y1 + 1) // 2
        c1 = w // 2 if x1 is None else (x1 + 1) // 2
        two = idx.view("<u2")[2 * r0:2 * r1, c0:c1]                     # left | right << 8
        s = pair.take(two[0::2])
        s += pair.take(two[1::2])
        s += (2 << 16) | 2                                                # round the sums of 2 x 2
        u[r0:r1, c0:c1] = s >> 2
        v[r0:r1, c0:c1] = s >> 18
    return y, u, v


@lru_cache(maxsize=None)
def _luma_list() -> list[int]:
    return _yuv_tables()[0].tolist()


class _Mp4Stream:
    """H.264 (libx264, yuv420p, BT.709) by the ffmpeg that imageio-ffmpeg ships; frames are
    converted to yuv420p here (table look-ups of the palette indices) and piped raw, so ffmpeg
    only encodes. ``close`` raises OSError (with ffmpeg's message) unless ffmpeg finished
    cleanly; ``abort`` stops ffmpeg at once."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, title: str = "", crf: int = 23,
                 preset: str = "ultrafast"):
        import imageio_ffmpeg

        w, h = size
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-nostats", "-loglevel", "error",
               "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-",
               "-an", "-c:v", "libx264", "-preset", preset, "-crf", str(int(crf)), "-pix_fmt", "yuv420p",
               "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
               "-color_range", "tv", "-movflags", "+faststart"]
        if title:
            cmd += ["-metadata", f"title={title}"]
        self.path = path
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd + [str(path)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=self.log)

    def _failure(self, what: str) -> OSError:
        self.abort()
        self.log.seek(0)
        message = self.log.read().decode("utf-8", "replace").strip()
        return OSError(f"ffmpeg could not write {self.path}: {what}\n{message}")

    def write(self, frame: np.ndarray, colour_box=(0, None, 0, None)) -> None:
        try:
            for plane in _to_yuv420(frame, colour_box):
                self.proc.stdin.write(plane)
        except (BrokenPipeError, ValueError) as e:
            raise self._failure(f"it stopped reading frames ({e})") from None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        code = self.proc.wait()
        if code != 0:
            raise self._failure(f"exit status {code}")
        self.log.close()

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()


class _Worker:
    """Runs ``sink.write`` in a thread fed by a small queue, so drawing, GIF encoding and piping to
    ffmpeg overlap on several cores; at most ``depth`` frames wait. Errors surface in the caller."""

    def __init__(self, sink, depth: int = 2):
        self.sink, self.queue, self.error = sink, queue.Queue(depth), None
        self.thread = threading.Thread(target=self._run, name=f"preview-{type(sink).__name__}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.sink.write(*item)
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    self.error = e

    def write(self, frame: np.ndarray, colour_box=None) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((frame, colour_box))

    def stop(self) -> None:
        """Wait until every queued frame is written (idempotent); raise the worker's error."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


def _stream(painter: _Painter, gif_path=None, mp4_path=None, title: str = "", crf: int = 23,
            preset: str = "ultrafast") -> None:
    """Render every frame once and feed it to the requested encoders (atomic files)."""
    with contextlib.ExitStack() as stack:
        sinks, workers = [], []
        size = (painter.size, painter.size)
        if gif_path is not None:
            tmp = stack.enter_context(atomic_path(gif_path))
            fp = stack.enter_context(open(tmp, "wb"))
            sinks.append(_GifStream(fp, size, painter.fps))
        if mp4_path is not None:
            tmp = stack.enter_context(atomic_path(mp4_path))
            mp4 = _Mp4Stream(tmp, size, painter.fps, title, crf, preset)
            stack.callback(mp4.abort)  # stops ffmpeg on errors (nothing to do after a clean close)
            sinks.append(mp4)
        for sink in sinks:
            workers.append(_Worker(sink))
            stack.callback(_quiet_stop, workers[-1])  # on errors: the thread ends before files go
        for i in range(len(painter)):
            im = painter.frame(i)
            for w in workers:
                w.write(im, painter.colour_box)
        for w in workers:
            w.stop()
        for sink in sinks:
            sink.close()


def _quiet_stop(worker: _Worker) -> None:
    with contextlib.suppress(BaseException):
        worker.stop()


def render_gif(joints, path, title: str = "", fps: float = 30.0, size: int = 960, trajectory=None,
               camera: Camera | None = None, antialias: bool = True) -> Path:
    """Write an animated GIF preview of joint positions (T, 22, 3) metres Y up to ``path``.

    Frame delays are in 1/100 s (the GIF unit); their running sum stays within 1/200 s of the
    true times, so T frames last T / fps seconds. Returns ``path``.
    """
    painter = _Painter(joints, size, title, fps, trajectory, camera, antialias)
    _stream(painter, gif_path=path, title=title)
    return Path(path)


def render_mp4(joints, path, title: str = "", fps: float = 30.0, size: int = 960, trajectory=None,
               camera: Camera | None = None, antialias: bool = True, crf: int = 23,
               preset: str = "ultrafast") -> Path:
    """Write an H.264 MP4 preview (yuv420p, even size) of joints (T, 22, 3) to ``path``."""
    painter = _Painter(joints, size, title, fps, trajectory, camera, antialias)
    _stream(painter, mp4_path=path, title=title, crf=crf, preset=preset)
    return Path(path)


def render_gif_and_mp4(joints, gif_path, mp4_path, title: str = "", fps: float = 30.0, size: int = 960,
                       trajectory=None, camera: Camera | None = None, antialias: bool = True, crf: int = 23,
                       preset: str = "ultrafast") -> tuple[Path, Path]:
    """Write the GIF and the MP4 from one pass over the frames (each frame is drawn once)."""
    painter = _Painter(joints, size, title, fps, trajectory, camera, antialias)
    _stream(painter, gif_path=gif_path, mp4_path=mp4_path, title=title, crf=crf, preset=preset)
    return Path(gif_path), Path(mp4_path)


def write_gif_and_mp4(motion, gif_path, mp4_path, size: int = 960, camera: Camera | None = None) -> None:
    """Both previews of a ``Motion`` from one pass over the frames (use this rather than two exports)."""
    render_gif_and_mp4(_motion_joints(motion), gif_path, mp4_path, title=motion.prompt, fps=motion.fps,
                       size=size, camera=camera)


def contact_sheet_frames(num_frames: int, count: int) -> np.ndarray:
    """Indices of ``count`` key frames spread evenly from the first to the last frame."""
    count = max(1, min(int(count), num_frames))
    return np.unique(np.round(np.linspace(0, num_frames - 1, count)).astype(int))


def render_contact_sheet(joints, path, title: str = "", fps: float = 30.0, tile: int = 320, count: int = 8,
                         columns: int = 4, trajectory=None, camera: Camera | None = None,
                         antialias: bool = True) -> Path:
    """Write a PNG of ``count`` key frames side by side (``columns`` per row, ``tile`` pixels each),
    every tile labelled with its time, the prompt as title above. Returns ``path``."""
    painter = _Painter(joints, tile, "", fps, trajectory, camera, antialias)
    keys = contact_sheet_frames(len(painter), count)
    columns = max(1, min(int(columns), len(keys)))
    rows = math.ceil(len(keys) / columns)
    t = painter.size
    width = columns * t
    mask = _text_mask(title, width, max(12, round(t * 0.07)))
    top = 0 if mask is None else mask.size[1]
    sheet = Image.new("RGB", (width, top + rows * t), BACKGROUND)
    if mask is not None:
        sheet.paste(TEXT, (0, 0, *mask.size), mask)
    for k, i in enumerate(keys):
        sheet.paste(painter.rgb(int(i)), ((k % columns) * t, top + (k // columns) * t))
    draw = ImageDraw.Draw(sheet)
    for k in range(1, columns):  # thin separators between tiles
        draw.line([(k * t, top), (k * t, sheet.size[1])], fill=GRID, width=1)
    for r in range(1, rows):
        draw.line([(0, top + r * t), (width, top + r * t)], fill=GRID, width=1)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return Path(path)


# ---------------------------------------------------------------------------------------------
# exporters for ``formats.EXPORTERS``: fn(motion, path, **opts)

def _motion_joints(motion) -> np.ndarray:
    """(T, 22, 3) joints of a ``Motion``: FK of its rotations (what gets keyed in Blender)."""
    return motion.joint_positions()


def write_gif(motion, path, size: int = 960, camera: Camera | None = None, **_) -> None:
    render_gif(_motion_joints(motion), path, title=motion.prompt, fps=motion.fps, size=size, camera=camera)


def write_mp4(motion, path, size: int = 960, camera: Camera | None = None, **_) -> None:
    render_mp4(_motion_joints(motion), path, title=motion.prompt, fps=motion.fps, size=size, camera=camera)


def write_png(motion, path, tile: int = 320, count: int = 8, columns: int = 4, camera: Camera | None = None,
              **_) -> None:
    render_contact_sheet(_motion_joints(motion), path, title=motion.prompt, fps=motion.fps, tile=tile,
                         count=count, columns=columns, camera=camera)
