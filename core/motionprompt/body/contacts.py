"""Foot contacts: where the feet touch the floor, how much they slide, and a root that pins them.

Everything here works on joint positions (T, J, 3) in SMPL-X space: metres, +Y up, the floor is
a horizontal plane, horizontal motion lives in (x, z). Feet are indexed (left, right) through
``skeleton.ANKLE_JOINTS`` and ``skeleton.TOE_JOINTS``; a foot's *lock point* is its toe joint
(the ball of the foot, which stays down when the heel rises) and its *lowest point* is the lower
of its ankle and toe. Velocities are metres per frame unless a function takes ``fps``.

- ``foot_points`` / ``lowest_foot_height``: the lock points and lowest points of both feet;
- ``estimate_contacts``: a per-frame contact guess from foot height and lock-point speed;
- ``stance_pairs`` / ``toe_slide`` / ``foot_skating``: the skating measure (slide of toes that
  stay near the floor over a pair of frames);
- ``root_height`` / ``locking_feet`` / ``root_horizontal`` / ``solve_root``: the root solver that
  puts the feet on the floor and keeps planted feet where they were put down.
"""

from __future__ import annotations

import numpy as np

from .skeleton import ANKLE_JOINTS, TOE_JOINTS

__all__ = [
    "DEFAULT_FPS",
    "foot_points",
    "lowest_foot_height",
    "estimate_contacts",
    "stance_pairs",
    "toe_slide",
    "foot_skating",
    "fill_gaps",
    "root_height",
    "locking_feet",
    "root_horizontal",
    "solve_root",
    "CONTACT_POINTS",
    "contact_frames",
]

#: Foot contact points, in the column order of a (T, 4) contact array (heel = ankle joint,
#: toe = the ball, SMPL-X's left_foot / right_foot).
CONTACT_POINTS = ("left_heel", "left_toe", "right_heel", "right_toe")

#: Frame rate assumed where a function takes ``fps`` (the 272-representation's 30 fps).
DEFAULT_FPS = 30.0


def foot_points(positions: np.ndarray, ankles=ANKLE_JOINTS, toes=TOE_JOINTS) -> tuple[np.ndarray, np.ndarray]:
    """Lock point and lowest height of each foot.

    Args:
        positions: (T, J, 3) joint positions, metres, +Y up.
        ankles, toes: joint index of each foot's ankle and toe (default SMPL-X left, right).
    Returns:
        lock points (T, F, 3) metres (the toe joints), and the lowest height of each foot
        (T, F) metres: min of its ankle and toe heights.
    """
    P = np.asarray(positions)
    ank, toe = P[:, list(ankles)], P[:, list(toes)]
    return toe, np.minimum(ank[..., 1], toe[..., 1])


def lowest_foot_height(positions: np.ndarray, ankles=ANKLE_JOINTS, toes=TOE_JOINTS) -> np.ndarray:
    """(T, F) height (metres, Y) of each foot's lowest point: min of its ankle and toe."""
    P = np.asarray(positions)
    return np.minimum(P[:, list(ankles), 1], P[:, list(toes), 1])


def estimate_contacts(positions: np.ndarray, fps: float = DEFAULT_FPS, height: float = 0.025,
                      speed: float | None = 0.3, floor: float | None = None,
                      ankles=ANKLE_JOINTS, toes=TOE_JOINTS) -> np.ndarray:
    """Per-frame foot contact from height and speed.

    A foot is in contact on frame t when its lowest point (ankle or toe) is less than ``height``
    above the floor and, unless ``speed`` is None, its lock point (toe) moves horizontally slower
    than ``speed``. The speed on frame t is the slower of the steps into and out of it,
    min(|p[t] - p[t-1]|, |p[t+1] - p[t]|) times ``fps`` (the one step on the first and last
    frame), so the frame a foot lands on and the frame it lifts off from count as contact.

    Args:
        positions: (T, J, 3) metres, +Y up.
        fps: frames per second of ``positions``.
        height: metres above the floor.
        speed: metres per second (None: height only).
        floor: floor height, metres (default: the lowest joint of the clip).
    Returns:
        (T, F) bool, feet in the order of ``ankles`` / ``toes`` (default left, right).
    """
    P = np.asarray(positions, dtype=np.float64)
    base = P[..., 1].min() if floor is None else floor
    lock, low = foot_points(P, ankles, toes)
    contact = (low - base) < height
    if speed is not None and len(P) > 1:
        step = np.linalg.norm(np.diff(lock[..., [0, 2]], axis=0), axis=-1)  # (T-1, F) metres per frame
        slowest = np.minimum(np.concatenate([step[:1], step]), np.concatenate([step, step[-1:]]))
        contact &= slowest * fps < speed
    return contact


def stance_pairs(positions: np.ndarray, height: float = 0.025, floor: float | None = None,
                 toes=TOE_JOINTS) -> np.ndarray:
    """(T-1, F) bool: the toe is within ``height`` m of the floor on frames t AND t+1.

    ``floor`` defaults to the lowest joint of the clip (metres, Y).
    """
    P = np.asarray(positions, dtype=np.float64)
    y = P[:, list(toes), 1] - (P[..., 1].min() if floor is None else floor)
    return (y[1:] < height) & (y[:-1] < height)


def toe_slide(positions: np.ndarray, toes=TOE_JOINTS) -> np.ndarray:
    """(T-1, F) horizontal (x, z) displacement length of each toe from frame t to t+1, metres."""
    P = np.asarray(positions, dtype=np.float64)
    toe = P[:, list(toes)]
    return np.linalg.norm(np.diff(toe[..., [0, 2]], axis=0), axis=-1)


def foot_skating(positions: np.ndarray, height: float = 0.025, floor: float | None = None,
                 toes=TOE_JOINTS) -> tuple[float, int]:
    """Mean horizontal slide of the feet on stance frame pairs.

    A foot is in stance on a pair of frames when its toe joint is within ``height`` m of the
    floor (default: the lowest joint of the clip) on both frames; its slide is the toe's
    horizontal displacement between them (``toe_slide``).

    Args:
        positions: (T, J, 3) metres, +Y up.
    Returns:
        (mean slide in metres per frame over stance (frame pair, foot) entries, their number);
        (0.0, 0) when there are none. Multiply by fps for metres per second.
    """
    st = stance_pairs(positions, height, floor, toes)
    slide = toe_slide(positions, toes)
    n = int(st.sum())
    return (float(slide[st].mean()) if n else 0.0), n


def fill_gaps(h: np.ndarray) -> np.ndarray:
    """Linear interpolation over the NaN entries of a (T,) track; the ends hold the nearest value.

    A track with no NaN, or nothing but NaN, comes back through ``np.nan_to_num`` (all zeros
    in the second case).
    """
    ok = ~np.isnan(h)
    if ok.all() or not ok.any():
        return np.nan_to_num(h)
    idx = np.arange(len(h))
    return np.interp(idx, idx[ok], h[ok])


def root_height(low: np.ndarray, contact: np.ndarray, lift: np.ndarray | None = None,
                seat: np.ndarray | None = None, seat_height: np.ndarray | None = None) -> np.ndarray:
    """Root height that puts the lowest supporting point on the floor (y = 0).

    On frames with a planted foot the lowest of ALL feet goes to the floor (a swing foot may
    reach lower than the stance foot at heel strike); on seated frames the seat point too, if it
    is lower. Frames with no support interpolate linearly between the supported ones, then
    ``lift`` is added (a ballistic arc), and finally no foot may end up below the floor.

    Args:
        low: (T, F) lowest height of each foot with the root at height 0, metres.
        contact: (T, F) bool, feet planted.
        lift: (T,) metres added after interpolation (default none).
        seat: (T,) bool, the seat carries weight; seat_height: (T,) its height with the root at 0.
    Returns:
        (T,) root height, metres.
    """
    support = np.where(np.asarray(contact).any(axis=1), low.min(axis=1), np.inf)
    if seat is not None:
        support = np.where(seat, np.minimum(support, seat_height), support)
    ground = np.where(np.isfinite(support), -support, np.nan)
    height = fill_gaps(ground)
    if lift is not None:
        height = height + lift
    return np.maximum(height, -low.min(axis=1))  # feet stretched down in flight stay above the floor


def locking_feet(contact: np.ndarray) -> np.ndarray:
    """(T-1, F) bool: the feet that pin the root from frame t to t+1.

    A foot pins when it is planted on both frames; in double support only the foot planted last
    pins (the other one is about to push off; ties pin both).

    Args:
        contact: (T, F) bool.
    """
    planted = np.asarray(contact, dtype=bool)
    T = len(planted)
    both = planted[1:] & planted[:-1]
    idx = np.arange(T)[:, None]
    started = planted & ~np.r_[np.zeros((1, planted.shape[1]), bool), planted[:-1]]
    onset = np.maximum.accumulate(np.where(started, idx, 0), axis=0)  # (T, F) frame each foot was last planted
    newest = onset[1:] == np.where(both, onset[1:], -1).max(axis=1, keepdims=True)
    return both & newest


def root_horizontal(lock: np.ndarray, contact: np.ndarray, seat: np.ndarray | None = None,
                    flight_velocity: np.ndarray | None = None) -> np.ndarray:
    """Horizontal root track (T, 2) = (x, z), metres, starting at 0, that keeps planted feet fixed.

    Per frame step t -> t+1: with pinning feet (``locking_feet``) the root moves by minus their
    mean lock-point displacement, so they stay put in the world; else on seated steps (both frames)
    it stays; else on steps into flight (no foot planted on t+1) it moves by ``flight_velocity``;
    any other step (landing, lift-off) repeats the previous step (0 before the first).

    Args:
        lock: (T, F, 3) lock points with the root at the origin, metres.
        contact: (T, F) bool.
        seat: (T,) bool (default: never seated).
        flight_velocity: (T, 2) world (x, z) root velocity into each frame, metres per frame
            (row 0 unused; default: flight keeps the previous step).
    Returns:
        (T, 2) metres.
    """
    contact = np.asarray(contact, dtype=bool)
    both = locking_feet(contact)
    disp = lock[1:, :, [0, 2]] - lock[:-1, :, [0, 2]]  # (T-1, F, 2)
    n = both.sum(axis=1)
    foot_v = -(disp * both[..., None]).sum(axis=1) / np.maximum(n, 1)[:, None]
    held = np.zeros(len(n), bool) if seat is None else seat[1:] & seat[:-1]
    vel = np.where((n > 0)[:, None], foot_v, np.where(held[:, None], 0.0, np.nan))
    if flight_velocity is not None:
        in_air = ~contact[1:].any(axis=1)
        vel = np.where(in_air[:, None] & np.isnan(vel), flight_velocity[1:], vel)
    # Remaining steps repeat the last known one (0 before any).
    known = ~np.isnan(vel[:, 0])
    last = np.maximum.accumulate(np.where(known, np.arange(len(vel)), -1))
    vel = np.where((last >= 0)[:, None], vel[np.maximum(last, 0)], 0.0)
    return np.concatenate([np.zeros((1, 2)), np.cumsum(vel, axis=0)])


def solve_root(positions: np.ndarray, contact: np.ndarray, lift: np.ndarray | None = None,
               seat: np.ndarray | None = None, seat_height: np.ndarray | None = None,
               flight_velocity: np.ndarray | None = None, ankles=ANKLE_JOINTS, toes=TOE_JOINTS) -> np.ndarray:
    """Root translation that grounds a motion and keeps its planted feet from sliding.

    Args:
        positions: (T, J, 3) joint positions with the root at the origin (forward kinematics
            with zero root translation), metres, +Y up.
        contact: (T, F) bool, feet planted (order of ``ankles`` / ``toes``).
        lift, seat, seat_height: see ``root_height``.
        flight_velocity: see ``root_horizontal``.
    Returns:
        (T, 3) root translation, metres: ``positions + root[:, None]`` has its supporting foot
        on y = 0 and its pinning feet fixed in (x, z).
    """
    lock, low = foot_points(positions, ankles, toes)
    height = root_height(low, contact, lift=lift, seat=seat, seat_height=seat_height)
    xz = root_horizontal(lock, contact, seat=seat, flight_velocity=flight_velocity)
    return np.stack([xz[:, 0], height, xz[:, 1]], axis=1)


def contact_frames(spans: list[dict], num_frames: int, fps: float) -> np.ndarray:
    """(T, 4) bool contacts of ``CONTACT_POINTS`` from time spans ``{"point", "start", "end"}``
    in seconds (``end`` exclusive): a frame is in a span when its time is, to half a frame
    (spans are stored rounded)."""
    t = np.arange(num_frames) / fps + 0.5 / fps
    out = np.zeros((num_frames, len(CONTACT_POINTS)), dtype=bool)
    for span in spans:
        k = CONTACT_POINTS.index(span["point"])
        out[:, k] |= (t >= float(span["start"])) & (t < float(span["end"]))
    return out
