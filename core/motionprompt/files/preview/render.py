"""Preview files from joint positions: GIF, MP4 (both from one pass over the frames) and a PNG
contact sheet.

Joints are ``(T, 22, 3)`` metres, SMPL-X axes (+Y up); sizes are pixels; fps is frames per
second. Frames are drawn once each and streamed to the encoders in threads, so only a few are
alive at a time. Files are written atomically: on any error nothing is left at the destination.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ...atomic import atomic_path
from .encoders import _EncoderThread, _GifStream, _Mp4Stream
from .painter import _Painter
from .projection import Camera
from .style import BACKGROUND, GRID, TEXT
from .text import _text_mask

#: Bytes per frame of a 960 x 960 preview, measured on walks (GIF about 29 KB, H.264 12 KB);
#: they grow with the area.
_BYTES_PER_FRAME = {"gif": 30_000, "mp4": 12_000}


def estimate_bytes(num_frames: int, fmt: str, size: int = 960) -> int:
    """Rough size in bytes of a ``fmt`` ("gif" / "mp4") preview of ``num_frames`` frames,
    ``size`` pixels a side: for a warning before a long render, not a promise."""
    return int(num_frames * _BYTES_PER_FRAME[fmt] * (size / 960.0) ** 2)


def _stream(painter: _Painter, gif_path=None, mp4_path=None, title: str = "", crf: int = 23,
            preset: str = "ultrafast", progress=None) -> None:
    """Render every frame once and feed it to the requested encoders (atomic files);
    ``progress(done, total)`` after each frame."""
    with contextlib.ExitStack() as stack:
        sinks, threads = [], []
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
            threads.append(_EncoderThread(sink))
            stack.callback(_quiet_stop, threads[-1])  # on errors: the thread ends before files go
        total = len(painter)
        for i in range(total):
            im = painter.frame(i)
            for th in threads:
                th.write(im, painter.colour_box)
            if progress is not None:
                progress(i + 1, total)
        for th in threads:
            th.stop()
        for sink in sinks:
            sink.close()


def _quiet_stop(thread: _EncoderThread) -> None:
    """Stop ``thread`` during error cleanup; its own error would hide the one being raised."""
    with contextlib.suppress(BaseException):
        thread.stop()


def render_gif(joints, path, title: str = "", fps: float = 30.0, size: int = 960, trajectory=None,
               camera: Camera | None = None, antialias: bool = True, progress=None, contacts=None) -> Path:
    """Write an animated GIF preview of joint positions (T, 22, 3) metres Y up to ``path``.

    Frame delays are in 1/100 s (the GIF unit); their running sum stays within 1/200 s of the
    true times, so T frames last T / fps seconds. ``progress(done, total)`` is called after
    each frame; ``contacts`` (T, 4) bool (``body.contacts.CONTACT_POINTS``) marks planted feet.
    Returns ``path``.
    """
    painter = _Painter(joints, size, title, fps, trajectory, camera, antialias, contacts=contacts)
    _stream(painter, gif_path=path, title=title, progress=progress)
    return Path(path)


def render_mp4(joints, path, title: str = "", fps: float = 30.0, size: int = 960, trajectory=None,
               camera: Camera | None = None, antialias: bool = True, crf: int = 23,
               preset: str = "ultrafast", progress=None, contacts=None) -> Path:
    """Write an H.264 MP4 preview (yuv420p, even size) of joints (T, 22, 3) to ``path``."""
    painter = _Painter(joints, size, title, fps, trajectory, camera, antialias, contacts=contacts)
    _stream(painter, mp4_path=path, title=title, crf=crf, preset=preset, progress=progress)
    return Path(path)


def render_gif_and_mp4(joints, gif_path, mp4_path, title: str = "", fps: float = 30.0, size: int = 960,
                       trajectory=None, camera: Camera | None = None, antialias: bool = True, crf: int = 23,
                       preset: str = "ultrafast", progress=None, contacts=None) -> tuple[Path, Path]:
    """Write the GIF and the MP4 from one pass over the frames (each frame is drawn once)."""
    painter = _Painter(joints, size, title, fps, trajectory, camera, antialias, contacts=contacts)
    _stream(painter, gif_path=gif_path, mp4_path=mp4_path, title=title, crf=crf, preset=preset, progress=progress)
    return Path(gif_path), Path(mp4_path)


def contact_sheet_frames(num_frames: int, count: int) -> np.ndarray:
    """Indices of ``count`` key frames spread evenly from the first to the last frame."""
    count = max(1, min(int(count), num_frames))
    return np.unique(np.round(np.linspace(0, num_frames - 1, count)).astype(int))


def render_contact_sheet(joints, path, title: str = "", fps: float = 30.0, tile: int = 320, count: int = 8,
                         columns: int = 4, trajectory=None, camera: Camera | None = None,
                         antialias: bool = True, contacts=None) -> Path:
    """Write a PNG of ``count`` key frames side by side (``columns`` per row, ``tile`` pixels each),
    every tile labelled with its time, the prompt as title above. Returns ``path``."""
    painter = _Painter(joints, tile, "", fps, trajectory, camera, antialias, contacts=contacts)
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
