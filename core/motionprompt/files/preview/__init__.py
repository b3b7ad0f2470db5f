"""Skeleton previews of a motion: GIF, MP4 and a PNG contact sheet.

The picture is the release's skeleton preview: a floor with a grid, the root trajectory on it, the
five kinematic chains in their colours (``skeleton.KINEMATIC_CHAINS``, ``skeleton.CHAIN_COLORS``),
a camera that follows the root, the prompt as title, 30 fps, 960x960.

How it is drawn:
- Every 3D point of every frame (joints, their floor shadows, grid lines, trajectory) goes
  through one perspective pinhole camera with numpy, all frames at once (``projection``; the
  look-at point follows the root over the floor, the view direction is fixed, so the floor patch
  is the same polygon in every image and is drawn once, with the title, into a static background).
- Frames are drawn straight into indices of one global 255-colour palette: the picture's inks
  and blends between every pair of them (``raster``). Lines are capsules rasterised by numpy, all
  segments of a layer at once: coverage from each pixel centre's distance to the segment
  (anti-aliasing without supersampling), laid over what is below through a
  (palette colour x ink x coverage) -> palette index table. Layers (``painter``): grid, root path,
  shadow, chains far to near, time label (glyphs rendered once by FreeType, ``text``).
- Frames are streamed, in threads (``encoders``, driven by ``render``): as yuv420p (table
  look-ups of the indices; grey pixels have neutral chroma, so only the coloured box is looked
  up) to ffmpeg (libx264 ultrafast, BT.709, plays in browsers and Blender's VSE), and to a GIF
  written frame by frame with that palette (no quantization), each frame after the first storing
  only the rectangle that changed, compressed by Pillow without the GIL. No more than a few
  frames are alive.

Inputs are joint positions ``(T, 22, 3)`` metres, SMPL-X axes (+Y up); arrays with more joints
(e.g. the 55 SMPL-X joints) use their first 22. Files are written atomically: on any error
nothing is left at the destination. ``exporters`` holds the ``Motion`` writers that
``formats.EXPORTERS`` looks up here by name.

Modules, lowest first (each imports only those before it): ``style``, ``text``, ``projection``,
``raster``, ``painter``, ``encoders``, ``render``, ``exporters``.
"""

from __future__ import annotations

from .encoders import _GifStream, _Mp4Stream, _to_yuv420
from .exporters import write_gif, write_gif_and_mp4, write_mp4, write_png
from .painter import _Painter, iter_frames, render_frame
from .projection import Camera
from .raster import ALPHA, GIF_KEEP, _palette, _segment_pixels
from .render import (contact_sheet_frames, estimate_bytes, render_contact_sheet, render_gif, render_gif_and_mp4,
                     render_mp4)
from .style import (BACKGROUND, BONE_WIDTH, FLOOR, FLOOR_HALF, GRID, GRID_STEP, GRID_WIDTH, PATH_AHEAD,
                    PATH_DONE, PATH_WIDTH, REFERENCE_SIZE, SHADOW, TEXT)
from .text import _GlyphLine, _font, _missing_glyphs, _wrap

__all__ = [
    "Camera",
    "render_frame",
    "iter_frames",
    "render_gif",
    "render_mp4",
    "render_gif_and_mp4",
    "render_contact_sheet",
    "contact_sheet_frames",
    "estimate_bytes",
    "write_gif",
    "write_mp4",
    "write_png",
    "write_gif_and_mp4",
]
