"""The rasteriser: one global palette and anti-aliased thick lines drawn straight into it.

A frame is a flat ``(size * size,)`` uint8 array of indices into ``_palette()``: the picture's
inks and blends between every pair of them. Lines are capsules rasterised by numpy, all segments
of a layer at once (``_segment_pixels``): coverage from each pixel centre's distance to the
segment, in 1/``ALPHA`` steps, laid over what is below through a
(palette colour x ink x coverage) -> palette index table (``_Canvas``). Pixel coordinates put
pixel k on [k, k + 1).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image

from ...body.skeleton import CHAIN_COLORS
from .style import BACKGROUND, FLOOR, GRID, PATH_AHEAD, PATH_DONE, SHADOW, TEXT

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
