"""Text of the previews: font lookup for any script, word wrapping, the title mask and the
per-frame time label drawn from cached glyphs. Sizes are pixels; masks are 8-bit coverage."""

from __future__ import annotations

import importlib.util
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
