"""Text of the previews: font lookup for any script, word wrapping, the title mask and the
per-frame time label drawn from cached glyphs. Sizes are pixels; masks are 8-bit coverage.

Titles in any script: the font is the first installed one that covers every character of the
title (``_font``), tried in this order: DejaVu Sans (matplotlib's copy, then the system's: Latin,
Greek, Cyrillic), the system's CJK fonts, then the Noto fonts Blender ships in its
``datafiles/fonts`` (CJK, Arabic, Hebrew, Thai, Devanagari and a dozen more scripts, emoji as
outlines), found beside the ``bpy`` module or the Blender that runs this Python. Characters no
font here covers are left out of the title (never drawn as boxes), and the whole title when
nothing legible is left; ``title_warning`` says so, for the manifest and the CLI.
"""

from __future__ import annotations

import importlib.util
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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


def _blender_font_dirs() -> list[Path]:
    """Blender's ``datafiles/fonts`` folders: beside the ``bpy`` module (pip's bpy), or of the
    Blender whose Python this is (``<version>/python/bin/python`` -> ``<version>/datafiles``)."""
    dirs = []
    try:
        spec = importlib.util.find_spec("bpy")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin and spec.origin not in ("built-in", "frozen"):
        dirs += sorted(Path(spec.origin).parent.glob("*/datafiles/fonts"))
    exe = Path(sys.executable)
    if len(exe.parents) > 2:
        dirs.append(exe.parents[2] / "datafiles" / "fonts")
    return [d for d in dirs if d.is_dir()]


@lru_cache(maxsize=None)
def _font_files() -> tuple[str, ...]:
    """The font files of ``_FONT_FILES`` present here; matplotlib's DejaVu Sans first if installed,
    Blender's Noto fonts last (CJK first among them)."""
    files = list(_FONT_FILES)
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        files.insert(0, str(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"))
    for d in _blender_font_dirs():
        found = [str(f) for f in sorted(d.iterdir()) if f.suffix.lower() in (".ttf", ".otf", ".ttc", ".woff2", ".woff")
                 and "Mono" not in f.name]
        files += sorted(found, key=lambda f: ("CJK" not in f, "Emoji" in f, f))
    out = []
    for f in files:
        if f not in out and Path(f).is_file():
            out.append(f)
    return tuple(out)


@lru_cache(maxsize=128)
def _load(path: str, size: int):
    """The font file at ``size`` pixels (None when Pillow cannot read it); kept, since a large
    compressed font takes a third of a second to open."""
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return None


def _missing_glyphs(font, text: str) -> set[str]:
    """Characters of ``text`` the font draws as its "missing glyph" box."""
    def ink(ch):
        m = font.getmask(ch)
        return m.size, bytes(m)
    notdef = ink("\U000F0000")  # a private-use code point no font here maps
    return {ch for ch in set(text) if not ch.isspace() and ink(ch) == notdef}


@lru_cache(maxsize=64)
def _font_and_missing(size: int, text: str = "") -> tuple:
    """(font of ``size`` pixels, the characters of ``text`` it cannot draw): the first candidate
    that covers ``text``, else the one missing fewest; Pillow's bundled font when no file is found."""
    best, best_missing = None, None
    for path in _font_files():
        font = _load(path, size)
        if font is None:
            continue
        missing = _missing_glyphs(font, text) if text else set()
        if best is None or len(missing) < len(best_missing):
            best, best_missing = font, missing
        if not missing:
            break
    if best is None:
        best = ImageFont.load_default(size=size)
        best_missing = _missing_glyphs(best, text) if text else set()
    return best, frozenset(best_missing)


def _font(size: int, text: str = ""):
    """A font of ``size`` pixels that can spell ``text`` (see ``_font_and_missing``)."""
    return _font_and_missing(size, text)[0]


def uncovered(text: str, size: int = 30) -> frozenset[str]:
    """The characters of ``text`` no font here can draw (they are left out of titles)."""
    return _font_and_missing(size, text)[1]


def legible(text: str, size: int = 30) -> str:
    """``text`` without the characters no font here can draw ("" when only punctuation is left)."""
    gone = uncovered(text, size)
    kept = " ".join("".join(c for c in text if c not in gone).split())
    return kept if any(not unicodedata.category(c).startswith(("P", "Z")) for c in kept) else ""


def title_warning(text: str) -> str | None:
    """A sentence for the manifest when a preview title loses characters (None when it does not)."""
    gone = uncovered(text)
    if not gone:
        return None
    shown = "".join(sorted(gone)[:8]) + ("..." if len(gone) > 8 else "")
    if not legible(text):
        return (f"the preview title was left out: no font installed here covers its characters ({shown}); "
                f"install a Noto font for the script (or Blender's bpy module, which ships them)")
    return f"the preview title leaves out {len(gone)} character(s) no installed font covers ({shown})"


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
    text = legible(text, font_px)
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
