"""Steps on the feet: where they touch the floor (``foot_contacts``) and keeping them there
(``foot_lock``), on SMPL-X motion (metres, +Y up, the floor at y = 0).

Contacts are found per foot point (the heel, i.e. the ankle joint, and the toe, SMPL-X's
``left_foot`` / ``right_foot`` at the ball) from height and speed with hysteresis: a point
enters contact below ``height`` metres above its own standing height and slower than ``speed``
m/s, and leaves above 1.5 times either or once it rises faster than ``rise`` m/s toward the next
frame (a take-off ends the contact as the foot leaves, not centimetres later); runs shorter than
``min_frames`` are dropped.

Foot lock pins each contact on the floor: the foot rotates about its pinned toe (mode "toes":
a heel that rises keeps the ball planted) or its pinned ankle (mode "feet"); the leg is solved
by analytic two-bone IK (``body.ik.two_bone_ik``) with the foot's world rotation kept; between
two plants the offset glides from one to the next over the swing (no snap at lift-off), and
eases in before the first and out after the last over ``blend`` frames; the pelvis is lowered
only where a leg cannot reach, and a leg off its pin that the source has nearly straight keeps
the source's extension (no knee swing at a take-off). Bone lengths never change (only rotations
and the root move).

``plant_into_pose`` is the same leg solve for an in-between's end: the blend into the target
pose with the standing feet held where they stand instead of sliding with it.
"""

from __future__ import annotations

import numpy as np

from ..body.contacts import CONTACT_POINTS
from ..body.ik import two_bone_ik
from ..body.motion import Motion
from ..body.skeleton import ANKLE_JOINTS, LEG_CHAINS, TOE_JOINTS, rest_positions
from ..body.splice import blend_to_pose

__all__ = ["foot_contacts", "foot_lock", "plant_into_pose", "contact_spans", "CONTACT_POINTS", "LOCK_MODES"]

LOCK_MODES = ("off", "feet", "toes")
#: The straightest a locked leg gets (a fraction of its length): past it the pelvis comes down.
STRAIGHTEST = 0.999
_JOINTS = (ANKLE_JOINTS[0], TOE_JOINTS[0], ANKLE_JOINTS[1], TOE_JOINTS[1])  # per CONTACT_POINTS


def _standing_heights(motion: Motion) -> np.ndarray:
    """(4,) each contact point's height above the floor when standing at rest, metres."""
    P = rest_positions(np.asarray(motion.rest_offsets()))
    return P[list(_JOINTS), 1] - P[:, 1].min()


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a (T,) bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _hysteresis(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(T,) True from where ``low`` holds until ``high`` stops holding (``low`` implies ``high``)."""
    out = np.zeros(len(low), dtype=bool)
    for start, end in _runs(high):  # runs of the loose condition: in contact from its first strict frame
        hits = np.flatnonzero(low[start:end])
        if len(hits):
            out[start + hits[0]:end] = True
    return out


def foot_contacts(motion: Motion, height: float = 0.03, speed: float = 0.4, min_frames: int = 3,
                  rise: float = 0.15) -> np.ndarray:
    """(T, 4) bool contacts of ``CONTACT_POINTS`` (see the module docstring).

    Args:
        height: metres above the point's standing height (the floor is y = 0).
        speed: metres per second, horizontal.
        min_frames: shortest contact kept.
        rise: metres per second upward to the next frame, where a contact ends.
    """
    P = motion.joint_positions()[:, list(_JOINTS)]  # (T, 4, 3)
    lift = P[..., 1] - _standing_heights(motion)  # (T, 4) metres above standing
    if len(P) > 1:
        step = np.linalg.norm(np.diff(P[..., [0, 2]], axis=0), axis=-1) * motion.fps  # (T-1, 4) m/s
        v = np.minimum(np.concatenate([step[:1], step]), np.concatenate([step, step[-1:]]))
        up = np.diff(P[..., 1], axis=0) * motion.fps
        up = np.concatenate([up, np.zeros((1, 4))])  # (T, 4) m/s toward the next frame
    else:
        v = up = np.zeros((1, 4))
    loose = (lift < 1.5 * height) & (v < 1.5 * speed) & (up < rise)
    strict = loose & (lift < height) & (v < speed)
    out = np.zeros(lift.shape, dtype=bool)
    for k in range(4):  # over the four points
        c = _hysteresis(strict[:, k], loose[:, k])
        for start, end in _runs(c):
            if end - start < min_frames:
                c[start:end] = False
        out[:, k] = c
    return out


def contact_spans(contacts: np.ndarray, fps: float) -> list[dict]:
    """Contacts as time spans ``{"point", "start", "end"}`` in seconds (they survive resampling)."""
    return [dict(point=CONTACT_POINTS[k], start=round(a / fps, 4), end=round(b / fps, 4))
            for k in range(contacts.shape[1]) for a, b in _runs(contacts[:, k])]


def _smoothstep(u: np.ndarray) -> np.ndarray:
    """3u^2 - 2u^3 of ``u`` in [0, 1]: 0 -> 1 with no rate at either end."""
    return u * u * (3 - 2 * u)


def _correction(planted: np.ndarray, pins: np.ndarray, points: np.ndarray, blend: int) -> np.ndarray:
    """(T, 3) offset that moves a foot's lock point onto its pins: exact on planted frames,
    interpolated across each swing between one plant's offset and the next (no catch-up at
    the lift-off), easing from and to nothing over ``blend`` frames before the first plant
    and after the last."""
    T = len(planted)
    idx = np.flatnonzero(planted)
    if not len(idx):
        return np.zeros((T, 3))
    knots = pins[idx] - points[idx]  # (K, 3)
    frames = np.arange(T)
    c = np.stack([np.interp(frames, idx, knots[:, d]) for d in range(3)], axis=1)
    outside = np.maximum(idx[0] - frames, 0) + np.maximum(frames - idx[-1], 0)
    u = np.clip(1.0 - outside / (blend + 1), 0.0, 1.0)
    return c * _smoothstep(u)[:, None]


_UP = np.array([0.0, 1.0, 0.0])
#: Where a locked leg's reach turns soft, a fraction of its length (see ``_soft_reach``).
SOFT_KNEE = 0.96


def _soft_reach(goal: np.ndarray, hip: np.ndarray, knee: float, limit: np.ndarray, own: np.ndarray) -> np.ndarray:
    """(T, 3) ``goal`` pulled toward ``hip`` (T, 3) where it is nearly out of reach: a hip-goal
    distance d past s = max(``knee``, ``own``) metres eases toward ``limit`` (T,) metres,
    s + (limit - s) (1 - exp(-(d - s) / (limit - s))), its rate continuous; ``own`` (T,) is the
    source's own hip-ankle distance, so a leg is never bent more than the source has it."""
    d = goal - hip
    dist = np.linalg.norm(d, axis=-1)
    start = np.minimum(np.maximum(knee, own), limit)
    soft = np.maximum(limit - start, 1e-9)
    eased = np.where(dist > start, start + soft * (1.0 - np.exp(-(dist - start) / soft)), dist)
    return hip + d * (eased / np.where(dist > 0, dist, 1.0))[:, None]


def _free(planted: np.ndarray, blend: int) -> np.ndarray:
    """(T,) 0 on planted frames, rising smoothly to 1 over ``blend`` + 1 frames away from them."""
    idx = np.flatnonzero(planted)
    if not len(idx):
        return np.ones(len(planted))
    frames = np.arange(len(planted))
    after = np.minimum(np.searchsorted(idx, frames), len(idx) - 1)
    near = np.minimum(np.abs(frames - idx[np.maximum(after - 1, 0)]), np.abs(idx[after] - frames))
    return _smoothstep(np.clip(near / (blend + 1), 0.0, 1.0))


def _keep_straight(goal: np.ndarray, hip: np.ndarray, own: np.ndarray, knee: float, limit: np.ndarray,
                   free: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """(T, 3) ``goal`` moved along the line from ``hip`` (T, 3) so that a leg free of its pin
    (``free`` (T,) 0..1) and straighter in the source than ``knee`` metres keeps the source's
    hip-ankle distance ``own`` (T,) (wholly at ``limit``): near full extension the knee swings
    centimetres per millimetre of reach, as at a jump's take-off. Never lower than ``floor``
    (T,) metres, the height where the foot would touch the floor."""
    d = goal - hip
    dist = np.linalg.norm(d, axis=-1)
    w = free * np.clip((own - knee) / np.maximum(limit - knee, 1e-9), 0.0, 1.0)
    out = hip + d * ((dist + w * (own - dist)) / np.where(dist > 0, dist, 1.0))[:, None]
    out[:, 1] = np.maximum(out[:, 1], np.minimum(floor, goal[:, 1]))
    return out


def _ease(x: np.ndarray, blend: int) -> np.ndarray:
    """(T,) a smooth curve at least ``x`` everywhere: ``x``'s running maximum over 2 * blend + 1
    frames, averaged over blend + 1 frames (so the pelvis eases down, never jumps)."""
    if blend < 1 or not np.any(x > 0):
        return x
    w = blend
    padded = np.pad(x, (2 * w, 2 * w), mode="edge")
    peak = np.lib.stride_tricks.sliding_window_view(padded, 2 * w + 1).max(axis=1)  # (T + 2w,)
    kernel = np.ones(w + 1) / (w + 1)
    smooth = np.convolve(peak, kernel, mode="valid")  # (T + w,)
    return np.maximum(smooth[w // 2: w // 2 + len(x)], x)


def foot_lock(motion: Motion, mode: str = "toes", strength: float = 1.0, blend: int = 4,
              contacts: np.ndarray | None = None) -> Motion:
    """``motion`` with planted feet pinned on the floor (see the module docstring).

    Args:
        mode: "toes" (the ball stays down, the foot turns about it), "feet" (the ankle stays
            where the heel is down), or "off".
        strength: 0..1, how far toward the pin each foot goes.
        blend: frames over which a lock eases in and out.
        contacts: (T, 4) bool, default ``foot_contacts(motion)``.
    Returns:
        The locked motion; ``meta["contacts"]`` holds the contact spans in seconds.
    """
    if mode not in LOCK_MODES:
        raise ValueError(f"foot lock mode {mode!r}: use one of {', '.join(LOCK_MODES)}")
    contacts = foot_contacts(motion) if contacts is None else np.asarray(contacts, dtype=bool)
    out = motion.with_(meta={**motion.meta, "contacts": contact_spans(contacts, motion.fps)})
    if mode == "off" or strength <= 0:
        return out
    P = motion.joint_positions()  # (T, 22, 3)
    standing = _standing_heights(motion)
    goals, frees, floors = [], [], []
    for side, (hip, knee, ankle) in enumerate(LEG_CHAINS):
        heel_k, toe_k = 2 * side, 2 * side + 1
        lock_k = toe_k if mode == "toes" else heel_k
        lock_j = _JOINTS[lock_k]
        planted = contacts[:, lock_k] | (contacts[:, heel_k] if mode == "toes" else False)
        pins = np.zeros((len(P), 3))
        for a, b in _runs(planted):  # over contact spans: each pinned where it stands on average
            pins[a:b] = P[a:b, lock_j].mean(axis=0)
        # on the floor: the lower of heel and toe at its standing height (no floating, no sinking)
        clear = np.minimum(P[:, ankle, 1] - standing[heel_k], P[:, _JOINTS[toe_k], 1] - standing[toe_k])
        pins[:, 1] = P[:, lock_j, 1] - clear
        # the ankle moves with the lock point, the foot keeping its own rotation; a swinging foot
        # is never pushed below the floor
        c = strength * _correction(planted, pins, P[:, lock_j], blend)
        c[:, 1] = np.maximum(c[:, 1], -clear)
        goals.append(P[:, ankle] + c)
        frees.append(_free(planted, blend))
        floors.append(P[:, ankle, 1] - clear)
    return _reach(out, (P, motion.global_rotations()), goals, blend, straight=(frees, floors))


def _reach(motion: Motion, fk: tuple, goals: list, blend: int, hold: np.ndarray | None = None,
           straight: tuple | None = None) -> Motion:
    """``motion`` (``fk``: its joint positions (T, 22, 3), changed here, and global rotations
    (T, 22, 3, 3)) with each leg of ``LEG_CHAINS`` solved by two-bone IK
    so that its ankle reaches ``goals[side]`` (T, 3), the foot keeping its world rotation; the
    pelvis lowered only where a leg cannot reach, eased over ``blend`` frames; a nearly
    straight leg reaches its goal softly (``_soft_reach``). ``hold``: (T,) 0..1, how much
    of the pelvis drop and of the soft reach a frame takes (0: none, so a frame whose goals are
    its own ankles is left as it is). ``straight``: (frees, floors), per leg (T,) each: a leg
    off its pin keeps the source's extension (``_keep_straight``)."""
    offsets = np.asarray(motion.rest_offsets())
    rotations, root = motion.rotations, motion.root_translation.copy()
    P, G = fk
    # the pelvis comes down only where a leg cannot reach its goal: as straight as STRAIGHTEST
    # allows, or as the motion itself has the leg (a leg straight in the source stays so)
    reach = [np.linalg.norm(offsets[knee]) + np.linalg.norm(offsets[ankle]) for _, knee, ankle in LEG_CHAINS]
    own = [np.linalg.norm(P[:, ankle] - P[:, hip], axis=-1) for hip, _, ankle in LEG_CHAINS]  # (T,) each
    limits = [np.maximum(STRAIGHTEST * r, d) for r, d in zip(reach, own)]
    drop = np.zeros(len(P))
    for (hip, _, _), goal, limit in zip(LEG_CHAINS, goals, limits):
        d = goal - P[:, hip]
        horiz2 = d[:, 0] ** 2 + d[:, 2] ** 2
        need = np.sqrt(np.maximum(limit ** 2 - horiz2, 0.0))  # the vertical distance it can span
        drop = np.maximum(drop, -d[:, 1] - need)  # how far the hip is above where it can reach
    lowered = _ease(np.maximum(drop, 0.0), blend)
    if hold is not None:
        lowered = lowered * hold
    # a leg nearly straight reaches its goal softly (short by a few millimetres, not snapping the
    # knee straight as the body pushes off a pinned foot)
    hips = [P[:, hip] - lowered[:, None] * _UP for hip, _, _ in LEG_CHAINS]
    eased = [_soft_reach(goal, h, SOFT_KNEE * r, limit, d) for h, goal, r, limit, d in zip(hips, goals, reach, limits, own)]
    goals = eased if hold is None else [g + hold[:, None] * (e - g) for g, e in zip(goals, eased)]
    if straight is not None:
        goals = [_keep_straight(goal, h, d, SOFT_KNEE * r, limit, w, floor)
                 for h, goal, r, limit, d, w, floor in zip(hips, goals, reach, limits, own, *straight)]
    root[:, 1] -= lowered
    P[..., 1] -= lowered[:, None]  # the source's FK, moved down with the pelvis
    rotations, fk = two_bone_ik(rotations, root, offsets, LEG_CHAINS, np.stack(goals), keep_end_rotation=True,
                                bend_plane="bend", fk=(P, G), return_fk=True)
    return motion.with_(rotations=rotations, root_translation=root, rest=offsets).with_known_fk(*fk)


def _anchored_pins(planted: np.ndarray, points: np.ndarray, land: int = 2) -> np.ndarray:
    """(N, 3) where a lock point (``points`` (N, 3), a window's frames) is held on each of its
    ``planted`` (N,) frames, frames 0 and N - 1 being fixed (the motion before the window and
    the pose after it): a contact that starts within ``land`` frames of the first frame stays
    where the point lands (too few frames before it to move it anywhere else), one that lasts
    until the last frame ends where the point is there (one doing both glides from the one to
    the other at a constant speed), any other is held where it stands on average."""
    N = len(planted)
    pins = points.copy()
    for a, b in _runs(planted):
        first, last = a <= land, b == N
        start = points[a] if first else (points[N - 1] if last else points[a:b].mean(axis=0))
        end = points[N - 1] if last else start
        u = (np.arange(a, b) - a) / max(b - 1 - a, 1)
        pins[a:b] = start + u[:, None] * (end - start)
    return pins


def plant_into_pose(motion: Motion, pose: Motion, frames: int = 15, mode: str = "toes",
                    contacts: np.ndarray | None = None, gap: int = 4) -> Motion:
    """``motion`` whose last ``frames`` frames ease into ``pose``'s first frame, reached exactly
    on the last frame (``body.splice.blend_to_pose``), with the feet that stand on the floor
    held where they stand through the blend instead of sliding with it.

    A foot is planted on a window frame where ``contacts`` (the motion's own, before the blend)
    say its heel or toe is down, and on the last frame where the pose's is (its height alone: a
    pose has no speed); the lock point (the toe for "toes", the ankle for "feet") is pinned as
    ``_anchored_pins`` says, the offset to the pin glides across the swings between plants and
    is nothing on the window's first and last frames, and each leg is solved by two-bone IK
    with the foot's world rotation kept (``_reach``, its pelvis drop and soft reach eased to
    nothing on those two frames, so the frames before the window and the last one
    are the blend's own). A contact that ends within ``gap`` frames of the last frame without
    the pose's foot down ends ``gap`` frames early, so the foot has time to reach the pose.

    Args:
        motion: T frames; pose: its first frame is the target.
        frames: the blend's length; mode: "toes" or "feet" (``LOCK_MODES``; "off": the blend alone).
        contacts: (T, 4) bool of ``CONTACT_POINTS``, default ``foot_contacts(motion)``.
    Returns:
        T frames; ``meta["planted"]``: how many of the window's frames each foot ("left",
        "right") was held on.
    """
    if mode not in LOCK_MODES:
        raise ValueError(f"foot lock mode {mode!r}: use one of {', '.join(LOCK_MODES)}")
    T = motion.num_frames
    B = max(1, min(int(frames), T - 1))
    blended = blend_to_pose(motion, pose, B)
    if mode == "off":
        return blended
    contacts = foot_contacts(motion) if contacts is None else np.asarray(contacts, dtype=bool)
    window = contacts[T - 1 - B:].copy()  # (N, 4), N = B + 1: the unchanged frame, then the blend
    window[-1] = foot_contacts(pose.frames(0, 1), min_frames=1)[0]
    N = len(window)
    sub = blended.frames(T - 1 - B, T)
    P = sub.joint_positions()
    goals, planted_frames = [], {}
    for side, (_, _, ankle) in enumerate(LEG_CHAINS):
        heel_k, toe_k = 2 * side, 2 * side + 1
        lock_j = _JOINTS[toe_k if mode == "toes" else heel_k]
        planted = window[:, toe_k if mode == "toes" else heel_k] | (window[:, heel_k] if mode == "toes" else False)
        if not planted[-1]:  # a contact running into the end without the pose's foot down: released early
            runs = _runs(planted)
            if runs and runs[-1][1] > N - 1 - gap:
                planted[max(runs[-1][0], N - 1 - gap):] = False
        pins = _anchored_pins(planted, P[:, lock_j])
        knots = planted.copy()
        knots[[0, -1]] = True  # nothing to correct where the window meets the motion and the pose
        pins[[0, -1]] = P[[0, -1], lock_j]
        goals.append(P[:, ankle] + _correction(knots, pins, P[:, lock_j], blend=0))
        planted_frames[("left", "right")[side]] = int(planted.sum())
    # no pelvis drop on the first and last frames, eased in over 3
    hold = _smoothstep(np.clip(np.minimum(np.arange(N), N - 1 - np.arange(N)) / 3.0, 0.0, 1.0))
    solved = _reach(sub, (P, sub.global_rotations()), goals, blend=4, hold=hold)
    rotations = np.concatenate([blended.rotations[:T - N], solved.rotations])
    root = np.concatenate([blended.root_translation[:T - N], solved.root_translation])
    return blended.with_(rotations=rotations, root_translation=root,
                         meta={**blended.meta, "planted": planted_frames})
