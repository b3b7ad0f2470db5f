"""Following a path: a motion's root re-routed along a polyline on the floor (``follow_path``),
and paths read from a file (``load_path``). SMPL-X axes: metres, +Y up, the floor plane is
(x, z); headings are yaws about +Y in radians, ``atan2(f_x, f_z)`` of the facing direction f
(``yaw_matrix(heading)`` turns +Z onto it).

How a motion follows a path:

1. The path. Points (N, 2) = (x, z) in metres; repeated points are dropped. The polyline is
   sampled every centimetre by arc length and smoothed with a Gaussian of ``corner`` / 2
   metres (ends extended straight, so they stay put): a corner becomes a curve over about
   ``corner`` metres each side, cutting a right angle's apex by ~0.2 * ``corner``. Its tangent
   gives the heading along it.
2. The source's travel. The pelvis' floor position and the root's heading, each smoothed over
   about a second (twice a one-second moving average), are the frame the body travels in; the
   rest (sway, surge, the heading's wobble) is kept relative to that frame. Progress is the arc
   length of the smoothed travel, so the distance moved along the path per frame is the
   source's own horizontal speed: the steps fit the ground (no moonwalking). ``facing`` is how
   the body faces relative to where it travels (speed-weighted mean): about 0 walking forward,
   pi walking backward, +-pi/2 side-stepping; the body keeps it on the path.
3. Time. With ``duration`` the motion is first played faster or slower (``timing.resample``,
   then the frame rate relabelled) so that it covers the path in that many seconds at its own
   pace (its mean speed, where it would not reach the end).
4. The new root: the travel frame put on the path at each frame's progress, facing along the
   tangent (plus ``facing``), carrying the kept remainder; the pose relative to the root and
   the pelvis height are unchanged. The motion is cut where the path ends (``timing.trim``);
   a motion that ends first stops short: ``meta["path"]["reached"]`` is the fraction of the
   path covered.
5. The feet. The new route turns the body where the source did not, so planted feet would
   slide; ``feet.foot_lock`` pins them, with the source's contacts carried through the
   retiming (``lock_feet`` "off" skips it).

``meta["path"]``: ``length`` metres (the smoothed path), ``reached`` 0..1, ``rate`` (source
seconds per result second), ``facing`` radians, ``corner`` metres.
"""

from __future__ import annotations

import json
import math
import re
from os import PathLike
from pathlib import Path

import numpy as np

from ..body.motion import Motion
from ..body.rotations import heading_angle, yaw_matrix
from .feet import LOCK_MODES, foot_contacts, foot_lock
from .timing import resample, trim

__all__ = ["follow_path", "load_path", "smooth_path", "TRAVEL_WINDOW"]

#: Seconds over which the source's travel (pelvis floor position, heading) is averaged, twice.
TRAVEL_WINDOW = 1.0
#: Arc-length spacing (metres) the path is sampled at before smoothing.
_SPACING = 0.01
_USAGE = "a path is a JSON list of [x, z] pairs (or {\"points\": [...]}) or a CSV of x,z rows, in metres"


# --------------------------------------------------------------------------- reading paths

def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _checked(rows: list[tuple[int | None, float, float]], where: str, unit: str = "line") -> np.ndarray:
    """(N, 2) points from ``rows`` (line, x, z): at least two, not all the same; ValueError
    naming ``where`` otherwise."""
    if len(rows) < 2:
        found = "no points" if not rows else f"1 point ({unit} {rows[0][0]})" if rows[0][0] else "1 point"
        raise ValueError(f"{where}: {found}; a path needs at least 2 points ({_USAGE})")
    pts = np.array([(x, z) for _, x, z in rows], dtype=np.float64)
    if np.all(np.linalg.norm(pts - pts[0], axis=1) < 1e-9):
        span = f" ({unit}s {rows[0][0]}-{rows[-1][0]})" if rows[0][0] else ""
        raise ValueError(f"{where}{span}: every point is ({pts[0, 0]:g}, {pts[0, 1]:g}); "
                         "a path needs at least two different points")
    return pts


def _json_item_lines(text: str, start: int) -> list[int]:
    """Line number (1-based) of each item of the JSON array whose '[' is at ``start``."""
    dec, skip = json.JSONDecoder(), re.compile(r"[\s,]*")
    pos, line, lines = start + 1, text.count("\n", 0, start + 1) + 1, []
    while True:  # over the array's items (points, not frames)
        nxt = skip.match(text, pos).end()
        line += text.count("\n", pos, nxt)
        if nxt >= len(text) or text[nxt] == "]":
            return lines
        lines.append(line)
        _, end = dec.raw_decode(text, nxt)
        line += text.count("\n", nxt, end)
        pos = end


def _read_json(text: str, where: str) -> list[tuple[int | None, float, float]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: line {err.lineno}: not valid JSON ({err.msg}); {_USAGE}") from None
    if isinstance(data, dict):
        if "points" not in data:
            raise ValueError(f"{where}: line 1: a JSON object without \"points\"; {_USAGE}")
        items = data["points"]
        found = re.search(r'"points"\s*:\s*\[', text)
        start = found.end() - 1 if found else None
    else:
        items = data
        start = text.index("[") if isinstance(data, list) else None
    if not isinstance(items, list):
        raise ValueError(f"{where}: line 1: the points are {type(items).__name__}, not a list; {_USAGE}")
    try:
        lines = _json_item_lines(text, start) if start is not None else []
    except (json.JSONDecodeError, ValueError):
        lines = []
    if len(lines) != len(items):
        lines = [None] * len(items)
    rows = []
    for k, (line, item) in enumerate(zip(lines, items)):
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(_number(v) for v in item)):
            at = f"line {line}: " if line else ""
            raise ValueError(f"{where}: {at}point {k + 1} is {json.dumps(item)}, not a pair of numbers [x, z] "
                             f"(metres); {_USAGE}")
        rows.append((line, float(item[0]), float(item[1])))
    return rows


def _read_csv(text: str, where: str) -> list[tuple[int | None, float, float]]:
    rows, header_allowed = [], True
    for lineno, raw in enumerate(text.splitlines(), 1):  # over the file's lines
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c for c in re.split(r"[,;\s]+", line) if c]
        values = []
        for cell in cells:
            try:
                values.append(float(cell))
            except ValueError:
                values.append(None)
        if header_allowed and all(v is None for v in values):
            header_allowed = False  # a header: the first non-blank line, all names
            continue
        header_allowed = False
        if len(cells) != 2:
            raise ValueError(f"{where}: line {lineno}: {raw.strip()!r} has {len(cells)} columns; give two, x,z "
                             "(metres)")
        if any(v is None or not math.isfinite(v) for v in values):
            raise ValueError(f"{where}: line {lineno}: {raw.strip()!r} is not two numbers x,z (metres)")
        rows.append((lineno, values[0], values[1]))
    return rows


def load_path(path: str | PathLike) -> np.ndarray:
    """Points of a path file, (N, 2) = (x, z) metres on the floor plane.

    Formats: JSON (``.json``, or a file starting with '[' or '{'): a list of [x, z] pairs, or
    an object whose "points" is one; CSV (anything else): rows of two numbers x,z separated
    by commas, semicolons or blanks, an optional header line first, '#' comments.

    Raises:
        ValueError naming the file and line: invalid JSON, a point that is not two finite
        numbers, a wrong column count, fewer than 2 points, or only one point repeated.
        OSError when the file cannot be read.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    where = str(path)
    is_json = path.suffix.lower() == ".json" or (path.suffix.lower() not in (".csv", ".txt", ".tsv")
                                                 and text.lstrip()[:1] in ("[", "{"))
    rows = _read_json(text, where) if is_json else _read_csv(text, where)
    return _checked(rows, where)


def _as_points(points) -> np.ndarray:
    """(N, 2) floats from an array-like or a file name (``load_path``); ValueError otherwise."""
    if isinstance(points, (str, PathLike)):
        return load_path(points)
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"follow_path: points are not numbers; {_USAGE}") from None
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"follow_path: points have shape {pts.shape}; give (N, 2) floor positions (x, z) in metres")
    if not np.all(np.isfinite(pts)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(pts), axis=1))[0])
        raise ValueError(f"follow_path: point {bad + 1} is {pts[bad].tolist()}, not finite")
    return _checked([(k + 1, x, z) for k, (x, z) in enumerate(pts.tolist())], "follow_path points", unit="point")


# --------------------------------------------------------------------------- the path's geometry

def smooth_path(points: np.ndarray, corner: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The polyline through ``points`` sampled by arc length and smoothed (module docstring, 1).

    Args:
        points: (N, 2) = (x, z) metres, N >= 2, consecutive repeats allowed.
        corner: metres; the smoothing Gaussian's sigma is corner / 2 (0: a sharp polyline).
    Returns:
        positions (n, 2) metres, their arc length (n,) metres from the start, and the heading
        of the tangent (n,) radians, unwrapped.
    """
    pts = np.asarray(points, dtype=np.float64)
    keep = np.concatenate([[True], np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-9])
    pts = pts[keep]
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    total = cum[-1]
    n = max(int(math.ceil(total / _SPACING)) + 1, 2)
    ds = total / (n - 1)
    arc = np.linspace(0.0, total, n)
    Q = np.stack([np.interp(arc, cum, pts[:, 0]), np.interp(arc, cum, pts[:, 1])], axis=1)  # (n, 2)
    sigma = 0.5 * max(float(corner), 0.0) / ds  # samples
    if sigma > 0.5:
        H = int(math.ceil(2.5 * sigma))
        k = np.arange(1, H + 1)[:, None] * ds
        first = (pts[1] - pts[0]) / np.linalg.norm(pts[1] - pts[0])
        last = (pts[-1] - pts[-2]) / np.linalg.norm(pts[-1] - pts[-2])
        padded = np.concatenate([Q[0] - first * k[::-1], Q, Q[-1] + last * k])  # straight beyond the ends
        kernel = np.exp(-0.5 * (np.arange(-H, H + 1) / sigma) ** 2)
        kernel /= kernel.sum()
        Q = np.stack([np.convolve(padded[:, d], kernel, mode="valid") for d in range(2)], axis=1)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(Q, axis=0), axis=1))])
    tangent = np.gradient(Q, axis=0)
    heading = np.unwrap(np.arctan2(tangent[:, 0], tangent[:, 1]))
    return Q, arc, heading


def _turn_xz(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Floor-plane vectors (..., 2) = (x, z) turned by ``angle`` (...) radians about +Y, as
    ``yaw_matrix(angle)`` turns (x, 0, z)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[..., 0] + s * v[..., 1], -s * v[..., 0] + c * v[..., 1]], axis=-1)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """(T, ...) mean over ``width`` frames (odd) centred on each frame, the track continued
    beyond its ends by point reflection (a steady drift passes unchanged)."""
    T = len(x)
    h = min(width // 2, T - 1)
    if h < 1:
        return x.copy()
    padded = np.concatenate([2 * x[:1] - x[h:0:-1], x, 2 * x[-1:] - x[-2:-h - 2:-1]])  # (T + 2h, ...)
    cs = np.cumsum(np.concatenate([np.zeros_like(x[:1]), padded]), axis=0)
    return (cs[2 * h + 1:] - cs[:-2 * h - 1]) / (2 * h + 1)


def _travel(motion: Motion) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The source's travel frame (module docstring, 2).

    Returns:
        smoothed pelvis floor position (T, 2) metres, smoothed heading (T,) radians, progress
        (T,) metres (arc length of the smoothed position from frame 0), facing radians.
    """
    xz = motion.root_translation[:, [0, 2]]
    heading = np.unwrap(-heading_angle(motion.rotations[:, 0]))
    width = 2 * int(round(TRAVEL_WINDOW * motion.fps / 2)) + 1
    centre = _moving_average(_moving_average(xz, width), width)
    smooth_heading = _moving_average(_moving_average(heading, width), width)
    step = np.diff(centre, axis=0)  # (T-1, 2)
    speed = np.linalg.norm(step, axis=1)
    progress = np.concatenate([[0.0], np.cumsum(speed)])
    facing = 0.0
    if speed.sum() > 1e-3:
        mid = 0.5 * (smooth_heading[1:] + smooth_heading[:-1])
        rel = mid - np.arctan2(step[:, 0], step[:, 1])
        w = speed ** 2
        facing = float(np.arctan2((w * np.sin(rel)).sum(), (w * np.cos(rel)).sum()))
    return centre, smooth_heading, progress, facing


def _stretched(motion: Motion, rate: float) -> Motion:
    """``motion`` played ``rate`` times as fast at its own frame rate (resampled in time, then
    relabelled); time spans in ``meta`` follow."""
    out = resample(motion, motion.fps / rate).with_(fps=motion.fps)
    for key in ("segments", "contacts"):
        if key in out.meta:
            out.meta[key] = [{**sp, "start": round(float(sp["start"]) / rate, 4),
                              "end": round(float(sp["end"]) / rate, 4)} for sp in out.meta[key]]
    return out


def follow_path(motion: Motion, points, duration: float | None = None, lock_feet: str = "toes", lock_strength: float = 1.0,
                corner: float = 0.3) -> Motion:
    """``motion`` re-routed so its pelvis follows the polyline ``points`` (module docstring).

    Args:
        motion: the source, T frames; its pose relative to the root is kept.
        points: (N, 2) = (x, z) floor positions in metres, or a path file (``load_path``).
        duration: seconds the path should take (the motion is sped up or slowed down);
            None: the motion's own pace.
        lock_feet: ``feet.LOCK_MODES``: "toes", "feet", or "off" (no foot lock).
        lock_strength: 0..1, the foot lock's ``strength``.
        corner: metres over which corners are rounded (the heading turns over about twice it).
    Returns:
        The motion on the path, cut where the path ends; ``meta["path"]`` as in the module
        docstring.
    Raises:
        ValueError for bad points (naming the point or file line), a bad mode or duration, or
        a duration asked of a motion that does not travel.
    """
    if lock_feet not in LOCK_MODES:
        raise ValueError(f"follow_path: lock_feet={lock_feet!r}; use one of {', '.join(LOCK_MODES)}")
    pts = _as_points(points)
    Q, arc, tangent = smooth_path(pts, corner)
    length = float(arc[-1])
    source = motion
    rate = 1.0
    if duration is not None:
        if not (isinstance(duration, (int, float)) and math.isfinite(duration) and duration > 0):
            raise ValueError(f"follow_path: duration={duration!r}; give a positive number of seconds")
        progress = _travel(motion)[2]
        if progress[-1] < 1e-3:
            raise ValueError(f"follow_path: the motion travels {progress[-1] * 100:.1f} cm, so no pace makes it "
                             f"cover the {length:.2f} m path in {duration:g} s; give a motion that moves")
        t = np.arange(motion.num_frames) / motion.fps
        if progress[-1] >= length:  # when the source reaches the path's length
            k = int(np.searchsorted(progress, length))
            u = (length - progress[k - 1]) / max(progress[k] - progress[k - 1], 1e-12)
            needs = t[k - 1] + u / motion.fps
        else:  # at its mean speed
            needs = length * t[-1] / progress[-1]
        rate = needs / duration
        motion = _stretched(motion, rate)
    centre, heading, progress, facing = _travel(motion)
    T = motion.num_frames
    end = int(np.searchsorted(progress, length))  # the first frame at the path's end
    reached = 1.0 if end < T else float(progress[-1] / length)
    a = np.minimum(progress, length)
    on_path = np.stack([np.interp(a, arc, Q[:, 0]), np.interp(a, arc, Q[:, 1])], axis=1)  # (T, 2)
    turn = np.interp(a, arc, tangent) + facing - heading  # (T,) yaw from the source's route to the path's
    xz = on_path + _turn_xz(motion.root_translation[:, [0, 2]] - centre, turn)
    root = np.stack([xz[:, 0], motion.root_translation[:, 1], xz[:, 1]], axis=1)
    rotations = motion.rotations.copy()
    rotations[:, 0] = yaw_matrix(turn) @ rotations[:, 0]
    meta = {**motion.meta, "path": dict(length=round(length, 4), reached=round(reached, 4), rate=round(rate, 6),
                                        facing=round(facing, 6), corner=float(corner))}
    out = motion.with_(rotations=rotations, root_translation=root, meta=meta)
    # the body only turned about +Y and moved with the root: its FK follows from the source's
    Y = yaw_matrix(turn)  # (T, 3, 3)
    P, G = motion.fk()
    J = G.shape[1]
    # Y G_j for every joint as one (3, 3) @ (3, 3 J) product per frame (much faster than (T, J) small ones)
    G_turned = (Y @ G.transpose(0, 2, 1, 3).reshape(T, 3, 3 * J)).reshape(T, 3, J, 3).transpose(0, 2, 1, 3)
    out.with_known_fk((P - motion.root_translation[:, None]) @ np.swapaxes(Y, 1, 2) + root[:, None],
                      np.ascontiguousarray(G_turned))
    if end < T - 1:
        out = trim(out, 0.0, end / out.fps)
    if lock_feet == "off":
        return out
    # the source's contacts, carried through the retiming (frame k of the result plays source frame k * rate)
    contacts = foot_contacts(source)
    src = np.clip(np.round(np.arange(out.num_frames) * rate).astype(int), 0, source.num_frames - 1)
    return foot_lock(out, lock_feet, strength=lock_strength, contacts=contacts[src])
