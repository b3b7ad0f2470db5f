"""Encoders: they take frames of palette indices ((H, W) uint8, see ``raster._palette``).

``_GifStream`` writes an animated GIF frame by frame with that palette (no quantization), each
frame after the first storing only the rectangle that changed. ``_Mp4Stream`` converts frames to
yuv420p by table look-ups (grey pixels have neutral chroma, so only the coloured box is looked
up) and pipes them to ffmpeg (libx264, BT.709). ``_EncoderThread`` runs either in a thread.
"""

from __future__ import annotations

import contextlib
import queue
import struct
import subprocess
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import GifImagePlugin, Image

from .raster import _palette


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
        """Append frame ``cur`` (H, W) uint8 palette indices; ``colour_box`` is not needed here."""
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
        """Write the GIF trailer (the caller closes the file)."""
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


#: x264 threads (None: its own choice, about 1.5 per core). Processes that each encode one video
#: of many at a time (``app.previews``) set 1: a lone thread spends ~20 % less CPU per video.
X264_THREADS: int | None = None


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
               *(["-threads", str(int(X264_THREADS))] if X264_THREADS else []),
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
        """Pipe frame (H, W) uint8 palette indices as yuv420p; ``colour_box`` as for ``_to_yuv420``."""
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


class _EncoderThread:
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
        """Queue one frame (blocks while ``depth`` wait); raise an error the sink already hit."""
        if self.error is not None:
            raise self.error
        self.queue.put((frame, colour_box))

    def stop(self) -> None:
        """Wait until every queued frame is written (idempotent); raise the sink's error, if any."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error
