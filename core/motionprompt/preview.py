"""Skeleton previews of a motion: GIF, MP4 and a PNG contact sheet.

The picture speaks the seed's language (spec "The seed's skeleton preview"): a floor with a grid,
the root trajectory on it, the five kinematic chains in their colours (``skeleton.KINEMATIC_CHAINS``,
``skeleton.CHAIN_COLORS``), a camera that follows the root, the prompt as title, 30 fps, 960x960.

How it is drawn:
- Every 3D point of every frame (joints, their floor shadows, grid lines, floor corners,
  trajectory) goes through one perspective pinhole camera with numpy, all frames at once
  (``Camera``; the look-at point follows the root over the floor, the view direction is fixed).
- Each frame is rasterised by Pillow at ``supersample`` times the size and box-downsampled,
  which anti-aliases every line: the grey floor and grid in one channel, then the coloured
  trajectory, shadow and skeleton only over the pixels they cover. The title is rendered once
  (FreeType, Unicode; a CJK font when one is installed) and pasted.
- Frames are streamed, in worker threads: to ffmpeg (libx264, yuv420p, plays in browsers and
  Blender's VSE) and to a GIF written frame by frame with one global palette made of the
  picture's own colours and their blends, each frame after the first storing only the pixels
  that changed. No more than a few frames are alive at any time.

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

from .formats import atomic_path
from .skeleton import CHAIN_COLORS, KINEMATIC_CHAINS, NUM_BODY_JOINTS

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
    """Projected geometry of a whole motion, at ``supersample`` pixels per output pixel.

    All arrays are per frame; pixel coordinates are in the supersampled image.
    """

    def __init__(self, joints: np.ndarray, size: int, camera: Camera, trajectory: np.ndarray,
                 supersample: int):
        T = len(joints)
        self.T = T
        self.near = camera.near
        self.R = camera.rotation()
        self.f = camera.focal(size) * supersample
        self.c = size * supersample / 2.0
        self.floor_y = float(joints[..., 1].min())
        root = joints[:, 0]
        look = np.stack([root[:, 0], np.full(T, self.floor_y + camera.look_height), root[:, 2]], axis=1)
        self.eye = look + camera.offset()                                # (T, 3)
        self.eye_cam = self.eye @ self.R.T                               # (T, 3) eye in camera axes

        # skeleton and its shadow on the floor
        self.joints_cam = self._cam(joints)                              # (T, 22, 3)
        shadow = joints.copy()
        shadow[..., 1] = self.floor_y
        self.shadow_cam = self._cam(shadow)
        chain_depth = np.stack([self.joints_cam[:, list(c), 2].mean(axis=1) for c in KINEMATIC_CHAINS], axis=1)
        self.chain_order = np.argsort(-chain_depth, axis=1)              # (T, 5) far chains first

        # floor patch (a square around the root) and its grid lines at fixed world positions
        h = FLOOR_HALF
        cx, cz = root[:, 0], root[:, 2]
        corners = np.stack([np.stack([cx + sx, np.full(T, self.floor_y), cz + sz], axis=1)
                            for sx, sz in ((-h, -h), (h, -h), (h, h), (-h, h))], axis=1)
        self.floor_cam = self._cam(corners)                              # (T, 4, 3)
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
        ga, gb, vis = _clip_near(self._cam(a), self._cam(b), self.near)
        vis &= np.isfinite(ga).all(-1)
        self.grid_px = np.concatenate([self._px(ga), self._px(gb)], axis=-1)  # (T, G, 4)
        self.grid_vis = vis                                                     # (T, G)

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
        return np.stack([u, v], axis=-1) - 0.5  # Pillow's integer coordinate x is pixel centre x + 0.5

    def polylines(self, cam: np.ndarray) -> list[np.ndarray]:
        """One polyline (N, 3) in camera coordinates -> pixel polylines (M, 2) to draw (clipped at near)."""
        if (cam[:, 2] >= self.near).all():
            return [self._px(cam)]
        a, b, vis = _clip_near(cam[:-1], cam[1:], self.near)
        return [np.stack([p, q]) for p, q, v in zip(self._px(a), self._px(b), vis) if v]

    def trajectory_runs(self, i: int, lo: int, hi: int) -> list[np.ndarray]:
        """Pixel polylines (M, 2) of trajectory points lo..hi-1 inside the floor patch of frame ``i``."""
        if hi - lo < 2:
            return []
        cam = self.traj_rot[lo:hi] - self.eye_cam[i]
        inside = (np.abs(self.traj[lo:hi][:, [0, 2]] - self.root_xz[i]) <= FLOOR_HALF).all(axis=1)
        inside &= cam[:, 2] >= self.near
        px = self._px(cam)
        edges = np.flatnonzero(np.diff(inside.astype(np.int8))) + 1
        return [seg for seg, seg_in in zip(np.split(px, edges), np.split(inside, edges))
                if seg_in[0] and len(seg) >= 2]

    def boxes(self, cam: np.ndarray, size: int, margin: int) -> np.ndarray:
        """(T, 4) int boxes (x0, y0, x1, y1) in output pixels around camera points (T, N, 3),
        ``margin`` pixels wider; the whole image where a point crosses the near plane."""
        px = self._px(cam) / (self.c * 2 / size)                                         # output pixels
        boxes = np.concatenate([np.floor(px.min(axis=1)) - margin, np.ceil(px.max(axis=1)) + margin], axis=1)
        boxes = boxes.clip(0, size)
        full = (cam[..., 2] < self.near).any(axis=1) | ~np.isfinite(px).all(axis=(1, 2))
        boxes[full] = (0, 0, size, size)
        return boxes.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# rasterisation

class _Painter:
    """Draws frames of one motion: ``frame(i)`` -> RGB image ``size`` x ``size``."""

    def __init__(self, joints, size: int = 960, title: str = "", fps: float = 30.0, trajectory=None,
                 camera: Camera | None = None, supersample: int = 2, show_time: bool = True):
        joints = _check_joints(joints)
        self.size = _check_size(size)
        self.fps = _check_fps(fps)
        self.ss = max(1, int(supersample))
        self.camera = camera or Camera()
        self.scene = _Scene(joints, self.size, self.camera, _check_trajectory(trajectory, joints), self.ss)
        k = self.size / REFERENCE_SIZE * self.ss
        self.w_bone = max(1, round(BONE_WIDTH * k))
        self.w_grid = max(1, round(GRID_WIDTH * k))
        self.w_path = max(1, round(PATH_WIDTH * k))
        self.title_mask = _text_mask(title, self.size, max(12, round(self.size * 0.032)))
        self.title_ink = None if self.title_mask is None else Image.new("RGB", self.title_mask.size, TEXT)
        self.show_time = show_time
        self.time_font = _font(max(10, round(self.size * 0.022)))
        self.margin = 2 + math.ceil(max(BONE_WIDTH, PATH_WIDTH, GRID_WIDTH) * k / self.ss)
        sc = self.scene
        self.floor_boxes = sc.boxes(sc.floor_cam, self.size, self.margin)
        self.figure_boxes = sc.boxes(np.concatenate([sc.joints_cam, sc.shadow_cam], axis=1), self.size, self.margin)

    def __len__(self) -> int:
        return self.scene.T

    def _canvas(self, im: Image.Image, box) -> tuple[Image.Image, np.ndarray]:
        """The part ``box`` (output pixels) of ``im`` enlarged ``supersample`` times, and its origin
        in supersampled pixels."""
        x0, y0, x1, y1 = box
        part = im.crop(box)
        if self.ss > 1:
            part = part.resize(((x1 - x0) * self.ss, (y1 - y0) * self.ss), Image.Resampling.NEAREST)
        return part, np.array([x0 * self.ss, y0 * self.ss], dtype=np.float64)

    def frame(self, i: int) -> Image.Image:
        """Frame ``i`` as an RGB image.

        Two supersampled layers, each only over the pixels it covers: the floor with its grid
        (all greys, drawn in one channel), then the trajectory, shadow and skeleton in colour
        over an enlarged copy of what lies below; each is box-filtered down (anti-aliasing).
        Text is drawn at the final size.
        """
        s, ss = self.scene, self.ss
        # floor and grid: greys, one channel, then the whole frame becomes RGB
        base = Image.new("L", (self.size, self.size), BACKGROUND[0])
        fb = tuple(int(v) for v in self.floor_boxes[i])
        if fb[2] > fb[0] and fb[3] > fb[1]:
            grey = Image.new("L", ((fb[2] - fb[0]) * ss, (fb[3] - fb[1]) * ss), BACKGROUND[0])
            origin = np.array([fb[0] * ss, fb[1] * ss], dtype=np.float64)
            draw = ImageDraw.Draw(grey)
            floor = s.floor_cam[i]
            if (floor[:, 2] < s.near).any():
                floor = _clip_polygon(floor, s.near)
            if len(floor) >= 3:
                draw.polygon((s._px(floor) - origin).ravel().tolist(), fill=FLOOR[0])
            for seg in (s.grid_px[i][s.grid_vis[i]] - np.tile(origin, 2)).tolist():
                draw.line(seg, fill=GRID[0], width=self.w_grid)
            base.paste(grey.reduce(ss) if ss > 1 else grey, fb[:2])
        im = base.convert("RGB")

        # trajectory, shadow, skeleton: colour, over what the floor layer left
        ahead = s.trajectory_runs(i, i, s.T)
        done = s.trajectory_runs(i, 0, i + 1)
        box = self.figure_boxes[i].copy()
        if ahead or done:
            pts = np.concatenate(ahead + done) / ss
            m = self.margin
            box[:2] = np.minimum(box[:2], np.floor(pts.min(axis=0)) - m).clip(0, self.size)
            box[2:] = np.maximum(box[2:], np.ceil(pts.max(axis=0)) + m).clip(0, self.size)
        box = tuple(int(v) for v in box)
        if box[2] > box[0] and box[3] > box[1]:
            canvas, origin = self._canvas(im, box)
            draw = ImageDraw.Draw(canvas)
            for run in ahead:
                draw.line((run - origin).ravel().tolist(), fill=PATH_AHEAD, width=self.w_path)
            for run in done:
                draw.line((run - origin).ravel().tolist(), fill=PATH_DONE, width=self.w_path)
            for cam_pts, colours in ((s.shadow_cam[i], None), (s.joints_cam[i], CHAIN_COLORS)):
                for c in s.chain_order[i]:
                    colour = SHADOW if colours is None else tuple(colours[c])
                    for line in s.polylines(cam_pts[list(KINEMATIC_CHAINS[c])]):
                        draw.line((line - origin).ravel().tolist(), fill=colour, width=self.w_bone, joint="curve")
            im.paste(canvas.reduce(ss) if ss > 1 else canvas, box[:2])

        if self.title_mask is not None:
            im.paste(self.title_ink, (0, 0), self.title_mask)
        if self.show_time:
            m = round(self.size * 0.02)
            ImageDraw.Draw(im).text((m, self.size - m), f"{i / self.fps:.2f} s  ·  frame {i + 1}/{s.T}",
                                    fill=TEXT, font=self.time_font, anchor="ls")
        return im

    def frames(self) -> Iterator[Image.Image]:
        for i in range(len(self)):
            yield self.frame(i)


def render_frame(joints, index: int = 0, size: int = 960, title: str = "", fps: float = 30.0,
                 trajectory=None, camera: Camera | None = None, supersample: int = 2,
                 show_time: bool = True) -> np.ndarray:
    """One preview frame as an (size, size, 3) uint8 RGB array (``index`` counts from 0)."""
    p = _Painter(joints, size, title, fps, trajectory, camera, supersample, show_time)
    if not -len(p) <= index < len(p):
        raise IndexError(f"frame {index} out of range for a motion of {len(p)} frames")
    return np.asarray(p.frame(index % len(p)))


def iter_frames(joints, size: int = 960, title: str = "", fps: float = 30.0, trajectory=None,
                camera: Camera | None = None, supersample: int = 2) -> Iterator[np.ndarray]:
    """Yield every preview frame as an (size, size, 3) uint8 RGB array, one at a time."""
    for im in _Painter(joints, size, title, fps, trajectory, camera, supersample).frames():
        yield np.asarray(im)


# ---------------------------------------------------------------------------------------------
# encoders

#: GIF palette index that means "unchanged since the previous frame" (transparent).
GIF_KEEP = 255
_UNUSED = (255, 0, 255)  # palette filler far from every colour drawn, so nothing quantizes to it


def _gif_palette() -> Image.Image:
    """One global palette: the picture's colours and blends between every pair of them (what
    anti-aliased edges produce); index ``GIF_KEEP`` and the unused entries are never drawn."""
    base = list(dict.fromkeys([BACKGROUND, FLOOR, GRID, SHADOW, PATH_DONE, PATH_AHEAD, TEXT]
                              + [tuple(c) for c in CHAIN_COLORS]))
    pairs = [(a, b) for k, a in enumerate(base) for b in base[k + 1:]]
    steps = max(0, min(7, (GIF_KEEP - len(base)) // max(1, len(pairs))))
    colours = [np.array(c, float) for c in base]
    for a, b in pairs:
        for t in np.arange(1, steps + 1) / (steps + 1):
            colours.append((1 - t) * np.array(a, float) + t * np.array(b, float))
    colours = colours[:GIF_KEEP]
    table = np.empty((256, 3), np.uint8)
    table[:] = _UNUSED
    table[:len(colours)] = np.round(colours)
    pal = Image.new("P", (1, 1))
    pal.putpalette(table.ravel().tolist())
    return pal


class _GifStream:
    """Writes an animated GIF frame by frame: one global palette, endless loop, 1/100 s delays
    whose running sum follows the true frame times. After the first frame each frame stores only
    the rectangle that changed, its unchanged pixels transparent (they compress to almost nothing)."""

    def __init__(self, fp: BinaryIO, size: tuple[int, int], fps: float):
        self.fp, self.fps, self.n, self.prev = fp, fps, 0, None
        self.palette = _gif_palette()
        w, h = size
        fp.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, 0, 0))  # global table of 256 colours
        fp.write(bytes(self.palette.getpalette()[:768]))
        fp.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00")  # loop forever

    def write(self, frame: Image.Image) -> None:
        p = frame.quantize(palette=self.palette, dither=Image.Dither.NONE)
        cur = np.asarray(p)
        self.n += 1
        delay = round(self.n * 100 / self.fps) - round((self.n - 1) * 100 / self.fps)  # centiseconds
        opts = {"duration": delay * 10, "disposal": 1}  # 1: keep this frame under the next one
        if self.prev is None:
            part, offset = p, (0, 0)
        else:
            diff = cur != self.prev
            rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
            y0, y1, x0, x1 = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) if len(rows) else (0, 1, 0, 1)
            sub = np.where(diff[y0:y1, x0:x1], cur[y0:y1, x0:x1], np.uint8(GIF_KEEP))
            part = Image.frombytes("P", (int(x1 - x0), int(y1 - y0)), np.ascontiguousarray(sub).tobytes())
            offset = (int(x0), int(y0))
            opts["transparency"] = GIF_KEEP
        self.prev = cur
        for chunk in GifImagePlugin.getdata(part, offset=offset, **opts):
            self.fp.write(chunk)

    def close(self) -> None:
        self.fp.write(b";")


class _Mp4Stream:
    """H.264 (libx264, yuv420p) by the ffmpeg that imageio-ffmpeg ships; frames are piped as raw
    RGB. ``close`` raises OSError (with ffmpeg's message) unless ffmpeg finished cleanly;
    ``abort`` stops ffmpeg at once."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float, title: str = "", crf: int = 23,
                 preset: str = "ultrafast"):
        import imageio_ffmpeg

        w, h = size
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-nostats", "-loglevel", "error",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-",
               "-an", "-c:v", "libx264", "-preset", preset, "-crf", str(int(crf)), "-pix_fmt", "yuv420p",
               "-movflags", "+faststart"]
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

    def write(self, frame: Image.Image) -> None:
        try:
            self.proc.stdin.write(frame.tobytes())
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
        while (frame := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.sink.write(frame)
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    self.error = e

    def write(self, frame: Image.Image) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(frame)

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
        for im in painter.frames():
            for w in workers:
                w.write(im)
        for w in workers:
            w.stop()
        for sink in sinks:
            sink.close()


def _quiet_stop(worker: _Worker) -> None:
    with contextlib.suppress(BaseException):
        worker.stop()


def render_gif(joints, path, title: str = "", fps: float = 30.0, size: int = 960, trajectory=None,
               camera: Camera | None = None, supersample: int = 2) -> Path:
    """Write an animated GIF preview of joint positions (T, 22, 3) metres Y up to ``path``.

    Frame delays are in 1/100 s (the GIF unit); their running sum stays within 1/200 s of the
    true times, so T frames last T / fps seconds. Returns ``path``.
    """
    painter = _Painter(joints, size, title, fps, trajectory, camera, supersample)
    _stream(painter, gif_path=path, title=title)
    return Path(path)


def render_mp4(joints, path, title: str = "", fps: float = 30.0, size: int = 960, trajectory=None,
               camera: Camera | None = None, supersample: int = 2, crf: int = 23,
               preset: str = "ultrafast") -> Path:
    """Write an H.264 MP4 preview (yuv420p, even size) of joints (T, 22, 3) to ``path``."""
    painter = _Painter(joints, size, title, fps, trajectory, camera, supersample)
    _stream(painter, mp4_path=path, title=title, crf=crf, preset=preset)
    return Path(path)


def render_gif_and_mp4(joints, gif_path, mp4_path, title: str = "", fps: float = 30.0, size: int = 960,
                       trajectory=None, camera: Camera | None = None, supersample: int = 2, crf: int = 23,
                       preset: str = "ultrafast") -> tuple[Path, Path]:
    """Write the GIF and the MP4 from one pass over the frames (each frame is drawn once)."""
    painter = _Painter(joints, size, title, fps, trajectory, camera, supersample)
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
                         supersample: int = 2) -> Path:
    """Write a PNG of ``count`` key frames side by side (``columns`` per row, ``tile`` pixels each),
    every tile labelled with its time, the prompt as title above. Returns ``path``."""
    painter = _Painter(joints, tile, "", fps, trajectory, camera, supersample)
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
        sheet.paste(painter.frame(int(i)), ((k % columns) * t, top + (k // columns) * t))
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
