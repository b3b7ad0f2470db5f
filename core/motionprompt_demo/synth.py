"""Procedural SMPL-X motions: the training corpus of the shipped demo model.

Every clip is built as SMPL-X local rotations (T, 22, 3, 3) on the default rest skeleton
(``skeleton.DEFAULT_REST_OFFSETS``) plus a root trajectory that is SOLVED, not animated:

- the pelvis height puts the lowest point of the feet in contact on the floor (y = 0),
  plus a ballistic arc during flight phases (jumps, hops, running);
- the horizontal pelvis motion keeps every stance foot where it was planted, so stance
  feet do not slide; in flight the body keeps the take-off velocity.

Angles follow SMPL-X space (metres, +Y up, the body faces +Z, left is +X). Sign conventions
used below (checked by the tests against forward kinematics):
- x-rotations are sagittal: a NEGATIVE hip angle flexes the thigh forward, a POSITIVE knee
  angle bends the shank backward, a positive spine / pelvis angle leans forward;
- z-rotations and y-rotations are mirrored between the sides (``side`` = +1 left, -1 right);
- a positive yaw turns the body to its left.

Actions (``ACTIONS``) each take parameters (speed, count, side, duration...) and return a
``Segment``; ``sequence`` blends segments; ``render`` turns one into world rotations and
pelvis positions; ``to_272`` converts them with the core's forward transform.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from motionprompt.body.contacts import DEFAULT_FPS, solve_root
from motionprompt.body.rep272 import motion_to_272
from motionprompt.body.rotations import axis_angle_to_matrix, axis_rotation, matrix_to_axis_angle, yaw_matrix
from motionprompt.body.skeleton import DEFAULT_REST_OFFSETS, forward_kinematics

__all__ = [
    "FPS",
    "ACTIONS",
    "Segment",
    "make_action",
    "sequence",
    "render",
    "to_272",
    "sample_params",
]

FPS = DEFAULT_FPS  # frames per second of every clip
GRAVITY = 9.81

(PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3, L_FOOT, R_FOOT,
 NECK, L_COLLAR, R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST) = range(22)

HIP = {1: L_HIP, -1: R_HIP}
KNEE = {1: L_KNEE, -1: R_KNEE}
ANKLE = {1: L_ANKLE, -1: R_ANKLE}
SHOULDER = {1: L_SHOULDER, -1: R_SHOULDER}
ELBOW = {1: L_ELBOW, -1: R_ELBOW}
SIDE_INDEX = {1: 0, -1: 1}  # column of the (T, 2) contact array: left, right

#: Resting arm elevation (radians about z): arms hang down beside the body.
ARM_DOWN = -1.3


# --------------------------------------------------------------------------- small maths

def _smoothstep(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _bump(t, start, end):
    """0 -> 1 -> 0 smooth bump (T,) over [start, end] seconds (raised cosine)."""
    u = np.clip((t - start) / max(end - start, 1e-6), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * u)


def _envelope(t, duration, ramp=0.4):
    """Amplitude envelope (T,): 0 at both ends, 1 in the middle, smooth ramps of ``ramp`` s."""
    ramp = min(ramp, duration / 3.0)
    return _smoothstep(t / ramp) * _smoothstep((duration - t) / ramp)


def _hold_profile(t, t0, rise, hold, fall):
    """0 -> 1 (rise s), stays 1 (hold s), -> 0 (fall s), starting at t0: (T,)."""
    up = _smoothstep((t - t0) / max(rise, 1e-6))
    down = _smoothstep((t - t0 - rise - hold) / max(fall, 1e-6))
    return up * (1.0 - down)


# --------------------------------------------------------------------------- segments

@dataclass
class Segment:
    """One procedural action, before the root is solved.

    Attributes:
        local: (T, 22, 3, 3) local rotations; joint 0 holds the pelvis tilt WITHOUT yaw.
        yaw: (T,) body heading relative to the start, radians (positive turns left).
        air: (T,) ballistic pelvis lift in flight, metres (0 on the ground).
        contact: (T, 2) bool, left / right foot planted.
        air_vel: (T, 2) body-frame (x, z) pelvis velocity in flight, metres per frame.
        seat: (T,) bool, sitting on the floor (the seat carries the weight).
        labels: action names in order; spans: (start, end) frame of each label.
    """

    local: np.ndarray
    yaw: np.ndarray
    air: np.ndarray
    contact: np.ndarray
    air_vel: np.ndarray
    seat: np.ndarray
    labels: list = field(default_factory=list)
    spans: list = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return len(self.yaw)


class _Pose:
    """Builder of local rotations over T frames: ``set(joint, matrices)`` composes on the right."""

    def __init__(self, T: int):
        self.T = T
        self.R = np.tile(np.eye(3), (T, 22, 1, 1))

    def apply(self, joint: int, M: np.ndarray) -> None:
        self.R[:, joint] = self.R[:, joint] @ M

    def rx(self, joint, a):
        self.apply(joint, axis_rotation(0, np.broadcast_to(a, (self.T,))))

    def ry(self, joint, a):
        self.apply(joint, axis_rotation(1, np.broadcast_to(a, (self.T,))))

    def rz(self, joint, a):
        self.apply(joint, axis_rotation(2, np.broadcast_to(a, (self.T,))))

    def arm(self, side, elev=ARM_DOWN, fwd=0.0, swing=0.0, elbow=0.15, elbow_up=0.0):
        """Shoulder and elbow of one arm (radians, (T,) or scalars).

        elev: raise in the frontal plane (ARM_DOWN hangs, 0 horizontal, ~1.4 overhead);
        fwd: bring the (raised) arm forward about the vertical axis (pi/2 points ahead);
        swing: sagittal swing of the whole arm (negative forward);
        elbow: flexion bringing the forearm forward; elbow_up: flexion bringing it upward.
        """
        s = side
        self.rx(SHOULDER[s], swing)
        self.ry(SHOULDER[s], -s * np.asarray(fwd))
        self.rz(SHOULDER[s], s * np.asarray(elev))
        self.ry(ELBOW[s], -s * np.asarray(elbow))
        self.rz(ELBOW[s], s * np.asarray(elbow_up))

    def leg(self, side, hip=0.0, knee=0.0, abduct=0.0, tilt=0.0, ankle_extra=0.0):
        """Hip, knee and an ankle that keeps the foot flat (global pitch 0) plus ``ankle_extra``.

        tilt: the pelvis pitch (T,) the hip hangs from, needed to keep the foot flat.
        """
        s = side
        self.rz(HIP[s], s * np.asarray(abduct))
        self.rx(HIP[s], hip)
        self.rx(KNEE[s], knee)
        self.rx(ANKLE[s], -(np.asarray(tilt) + np.asarray(hip) + np.asarray(knee)) + np.asarray(ankle_extra))
        self.rz(ANKLE[s], -s * np.asarray(abduct))

    def spine(self, bend=0.0, twist=0.0, side_bend=0.0, head=0.0):
        for j, w in ((SPINE1, 0.3), (SPINE2, 0.35), (SPINE3, 0.35)):
            self.rx(j, w * np.asarray(bend))
            self.ry(j, w * np.asarray(twist))
            self.rz(j, w * np.asarray(side_bend))
        self.rx(NECK, 0.5 * np.asarray(head))
        self.rx(HEAD, 0.5 * np.asarray(head))


def _segment(pose: _Pose, tilt, yaw=None, air=None, contact=None, air_vel=None, seat=None,
             label="") -> Segment:
    T = pose.T
    pose.R[:, PELVIS] = axis_rotation(0, np.broadcast_to(tilt, (T,))) @ pose.R[:, PELVIS]
    seg = Segment(
        local=pose.R,
        yaw=np.zeros(T) if yaw is None else np.asarray(yaw, dtype=np.float64),
        air=np.zeros(T) if air is None else air,
        contact=np.ones((T, 2), bool) if contact is None else contact,
        air_vel=np.zeros((T, 2)) if air_vel is None else air_vel,
        seat=np.zeros(T, bool) if seat is None else seat,
        labels=[label],
        spans=[(0, T)],
    )
    return seg


def _frames(duration: float) -> tuple[int, np.ndarray]:
    T = max(int(round(duration * FPS)), 8)
    return T, np.arange(T) / FPS


def _idle_body(pose: _Pose, t, rng_phase=0.0, amount=1.0):
    """Breathing and slight sway on top of whatever the pose holds."""
    br = np.sin(2 * np.pi * 0.25 * t + rng_phase)
    pose.spine(bend=0.02 * amount * br, side_bend=0.02 * amount * np.sin(2 * np.pi * 0.13 * t + rng_phase))


# --------------------------------------------------------------------------- gaits

def _gait_phase(t, cadence, reverse=False):
    """Per-leg gait phase in [0, 1): (T, 2) for left and right; cadence = steps per second."""
    phi = (t * cadence / 2.0) % 1.0
    if reverse:
        phi = (1.0 - phi) % 1.0
    return np.stack([phi, (phi + 0.5) % 1.0], axis=1)


def _leg_cycle(phi, stance, front, back, knee_swing, knee_stance, lift=0.0, heel=0.0):
    """Sagittal hip and knee angles (T,) of one leg over its phase (T,) in [0, 1).

    Stance (phi < stance): hip sweeps from -front (flexed ahead) to +back (behind);
    swing: it returns with the knee lifting ``knee_swing`` and the thigh raised ``lift``.
    """
    in_stance = phi < stance
    u_st = phi / stance
    u_sw = np.clip((phi - stance) / (1.0 - stance), 0, 1)
    hip_st = -front + (front + back) * u_st
    hip_sw = back - (front + back) * _smoothstep(u_sw) - lift * np.sin(np.pi * u_sw)
    knee_st = knee_stance * np.sin(np.pi * u_st)
    knee_sw = knee_swing * np.sin(np.pi * u_sw) * (1.8 - 0.8 * u_sw) / 1.42  # peaks early, smooth ends
    # Heel rise late in stance (the toe stays planted), back to a flat foot early in swing: it
    # lengthens the trailing leg so the swing foot clears the floor.
    heel_st = heel * _smoothstep((u_st - 0.5) / 0.5)
    heel_sw = heel * (1.0 - _smoothstep(u_sw / 0.35))
    return (np.where(in_stance, hip_st, hip_sw), np.where(in_stance, knee_st, knee_sw),
            np.where(in_stance, heel_st, heel_sw), in_stance)


def _locomotion(duration, cadence, stance, front, back, knee_swing, knee_stance=0.15, lift=0.0, heel=0.0,
                reverse=False, lean=0.0, arm_swing=0.3, elbow=0.2, lateral=0.0, yaw_total=0.0,
                flight_height=0.0, label=""):
    """Walk / run / step-in-place / side-step / turn: a gait cycle with an amplitude envelope.

    lateral: hip abduction sweep (radians) for side steps (+ moves left);
    yaw_total: heading change over the segment (turns).
    """
    T, t = _frames(duration)
    env = _envelope(t, duration, ramp=min(0.5, 1.0 / cadence + 0.1))
    phi = _gait_phase(t, cadence, reverse)
    pose = _Pose(T)
    tilt = lean * env
    contact = np.ones((T, 2), bool)
    sag = {}
    for side in (1, -1):
        k = SIDE_INDEX[side]
        hip, knee, rise, st = _leg_cycle(phi[:, k], stance, front, back, knee_swing, knee_stance, lift, heel)
        if lateral:
            # Side step: the foot passes from one side to the other in stance, returns in swing.
            u = np.where(st, phi[:, k] / stance, 1.0 - (phi[:, k] - stance) / (1.0 - stance))
            abduct = side * lateral * (1.0 - 2.0 * _smoothstep(u)) * env
        else:
            abduct = 0.0
        hip, knee, rise = hip * env, knee * env, rise * env
        sag[side] = hip
        pose.leg(side, hip=hip - tilt, knee=knee, abduct=abduct, tilt=tilt,  # hip: thigh pitch in the world
                 ankle_extra=rise)
        contact[:, k] = st | (env < 0.05)
    # Arms swing opposite to the legs.
    for side in (1, -1):
        pose.arm(side, swing=arm_swing * sag[-side] / max(np.abs(sag[-side]).max(), 1e-3), elbow=elbow)
    pose.spine(bend=0.3 * lean * env, twist=0.08 * env * np.sin(2 * np.pi * phi[:, 0]))
    pose.ry(PELVIS, -0.06 * env * np.sin(2 * np.pi * phi[:, 0]))
    air = np.zeros(T)
    flight = ~contact.any(axis=1)
    if flight_height > 0 and flight.any():
        # A parabola over every run of flight frames.
        edges = np.flatnonzero(np.diff(np.r_[0, flight.astype(int), 0]))
        for a, b in zip(edges[::2], edges[1::2]):  # over flight phases, not frames
            n = b - a + 1
            u = (np.arange(a, b) - a + 1) / n
            air[a:b] = flight_height * 4.0 * u * (1.0 - u)
    yaw = yaw_total * _smoothstep((t - 0.2) / max(duration - 0.4, 1e-3))
    return _segment(pose, tilt, yaw=yaw, air=air, contact=contact, label=label)


def walk(duration=4.0, speed=1.0, backward=False):
    """Walk forward (or backwards); speed ~0.6 slow .. 1.4 brisk scales cadence and stride."""
    return _locomotion(duration, cadence=1.8 * speed ** 0.5, stance=0.52, front=0.32 * speed ** 0.5,
                       back=0.28 * speed ** 0.5, knee_swing=1.0, reverse=backward, heel=0.25,
                       arm_swing=0.25 * speed, label="walk_backward" if backward else "walk_forward")


def run(duration=4.0, speed=1.0):
    # Stance 0.5: one foot always planted (a flight phase would need the landing solved).
    return _locomotion(duration, cadence=2.7 * speed ** 0.3, stance=0.5, front=0.45 * speed ** 0.5,
                       back=0.45 * speed ** 0.5, knee_swing=1.7, knee_stance=0.35, lean=0.15, heel=0.5,
                       arm_swing=0.5, elbow=1.4, flight_height=0.04, label="run")


def jog_in_place(duration=4.0, speed=1.0):
    return _locomotion(duration, cadence=2.6 * speed ** 0.3, stance=0.42, front=0.0, back=0.0,
                       knee_swing=1.8, knee_stance=0.25, lift=0.35, arm_swing=0.4, elbow=1.4,
                       flight_height=0.05, label="jog_in_place")


def march(duration=4.0, speed=1.0):
    return _locomotion(duration, cadence=1.6 * speed ** 0.5, stance=0.55, front=0.0, back=0.0,
                       knee_swing=1.6, knee_stance=0.05, lift=1.2, arm_swing=0.45, elbow=0.1, label="march")


def side_step(duration=4.0, speed=1.0, side=1):
    return _locomotion(duration, cadence=1.6 * speed ** 0.5, stance=0.52, front=0.0, back=0.0,
                       knee_swing=0.6, lateral=0.16 * speed ** 0.3 * side, arm_swing=0.0,
                       label="sidestep_left" if side > 0 else "sidestep_right")


def turn(duration=2.5, angle=np.pi / 2):
    """Turn on the spot by ``angle`` radians (positive left) with small steps."""
    label = "turn_around" if abs(angle) > 2.4 else ("turn_left" if angle > 0 else "turn_right")
    return _locomotion(duration, cadence=1.8, stance=0.6, front=0.0, back=0.0, knee_swing=0.7,
                       arm_swing=0.0, yaw_total=angle, label=label)


# --------------------------------------------------------------------------- standing actions

def idle(duration=3.0, variant=0.0):
    T, t = _frames(duration)
    pose = _Pose(T)
    _idle_body(pose, t, rng_phase=variant * 6.0, amount=1.5)
    shift = 0.05 * np.sin(2 * np.pi * 0.2 * t + variant)
    pose.rz(PELVIS, shift)
    pose.ry(HEAD, 0.25 * np.sin(2 * np.pi * 0.1 * t + 3 * variant))
    for side in (1, -1):
        pose.leg(side, abduct=-side * shift, hip=0.0)
        pose.arm(side, elbow=0.15 + 0.05 * np.sin(2 * np.pi * 0.25 * t))
    return _segment(pose, 0.0, label="idle")


def _standing_legs(pose: _Pose, tilt=0.0, hip=0.0, knee=0.0):
    for side in (1, -1):
        pose.leg(side, hip=hip, knee=knee, tilt=tilt)


def wave(count=3, side=1, both=False, speed=1.0):
    """Wave the hand ``count`` times: arm raised to the side, forearm up, swinging."""
    period = 0.55 / speed
    rise = 0.5
    dur = rise * 2 + count * period + 0.4
    T, t = _frames(dur)
    pose = _Pose(T)
    up = _hold_profile(t, 0.2, rise, count * period, rise)
    osc = np.sin(2 * np.pi * (t - 0.2 - rise) / period) * (t > 0.2 + rise) * (t < 0.2 + rise + count * period)
    sides = (1, -1) if both else (side,)
    for s in (1, -1):
        if s in sides:
            pose.arm(s, elev=ARM_DOWN + (ARM_DOWN * -1 + 0.25) * up, fwd=0.25 * up, elbow=0.0,
                     elbow_up=1.5 * up + 0.4 * osc * up)
        else:
            pose.arm(s)
    _standing_legs(pose)
    _idle_body(pose, t)
    label = "wave_both" if both else ("wave_left" if side > 0 else "wave_right")
    return _segment(pose, 0.0, label=label)


def raise_arms(hold=1.0, speed=1.0):
    rise = 0.7 / speed
    dur = 0.2 + 2 * rise + hold + 0.3
    T, t = _frames(dur)
    pose = _Pose(T)
    up = _hold_profile(t, 0.2, rise, hold, rise)
    for s in (1, -1):
        pose.arm(s, elev=ARM_DOWN + (1.45 - ARM_DOWN) * up, elbow=0.1)
    _standing_legs(pose)
    pose.spine(bend=-0.08 * up, head=-0.2 * up)
    return _segment(pose, 0.0, label="raise_arms")


def clap(count=3, speed=1.0):
    period = 0.45 / speed
    rise = 0.45
    dur = 0.2 + 2 * rise + count * period + 0.2
    T, t = _frames(dur)
    pose = _Pose(T)
    up = _hold_profile(t, 0.2, rise, count * period, rise)
    ph = np.clip((t - 0.2 - rise) / period, 0, count)
    # Hands apart (0) -> together (1) once per period.
    close = 0.5 - 0.5 * np.cos(2 * np.pi * ph)
    for s in (1, -1):
        pose.arm(s, elev=ARM_DOWN + (ARM_DOWN * -1 - 0.45) * up, fwd=(1.1 + 0.45 * close) * up,
                 elbow=0.9 * up + 0.15)
    _standing_legs(pose)
    _idle_body(pose, t)
    return _segment(pose, 0.0, label="clap")


def punch(count=2, side=1, speed=1.0):
    """Boxing guard (fists at the chin), then ``count`` straight punches with one arm, each
    held at full reach for a moment: a jab, not the clap-like brush of the guard."""
    period = 0.7 / speed
    rise = 0.4
    dur = 0.2 + 2 * rise + count * period + 0.2
    T, t = _frames(dur)
    pose = _Pose(T)
    guard = _hold_profile(t, 0.1, rise, count * period + 0.1, rise)
    ph = (t - 0.2 - rise) / period
    u = np.clip(ph % 1.0, 0, 1)
    # out in the first quarter, held to 0.6, back by 0.85 of each period
    out = np.clip(u / 0.25, 0, 1)
    back = np.clip((u - 0.6) / 0.25, 0, 1)
    prof = (3 * out ** 2 - 2 * out ** 3) * (1 - (3 * back ** 2 - 2 * back ** 3))
    strike = np.where((ph > 0) & (ph < count), prof, 0.0)
    for s in (1, -1):
        hit = strike if s == side else 0.0
        pose.arm(s, elev=ARM_DOWN + (-ARM_DOWN - 0.75) * guard + 0.6 * hit,
                 fwd=0.7 * guard + 0.65 * hit, elbow=0.15 + 2.1 * guard * (1 - hit))
    pose.spine(twist=-side * 0.4 * strike, bend=0.05 * guard)
    _standing_legs(pose, hip=-0.1 * guard, knee=0.2 * guard)
    return _segment(pose, 0.0, label="punch_left" if side > 0 else "punch_right")


def kick(count=1, side=1, speed=1.0, height=1.0):
    """Front kick(s) with one leg; the other foot stays planted."""
    period = 0.9 / speed
    dur = 0.3 + count * period + 0.3
    T, t = _frames(dur)
    pose = _Pose(T)
    ph = (t - 0.3) / period
    act = (ph > 0) & (ph < count)
    u = np.clip(ph % 1.0, 0, 1)
    # Chamber (knee up), extend, retract.
    lift = np.where(act, np.sin(np.pi * u), 0.0)
    ext = np.where(act, np.sin(np.pi * np.clip((u - 0.2) / 0.6, 0, 1)), 0.0)
    contact = np.ones((T, 2), bool)
    kicking = act & (lift > 0.05)
    contact[kicking, SIDE_INDEX[side]] = False
    pose.leg(side, hip=-1.5 * height * lift, knee=1.6 * lift * (1 - ext) + 0.1 * lift, ankle_extra=0.5 * ext)
    pose.leg(-side, knee=0.15 * lift, hip=-0.05 * lift)
    for s in (1, -1):
        pose.arm(s, elev=ARM_DOWN + 0.5 * lift, swing=0.3 * lift * s * side, elbow=0.6 * lift + 0.15)
    pose.spine(bend=-0.15 * lift)
    return _segment(pose, 0.1 * lift, contact=contact,
                    label="kick_left" if side > 0 else "kick_right")


def bow(depth=1.0, hold=0.8, speed=1.0):
    rise = 0.8 / speed
    dur = 0.2 + 2 * rise + hold + 0.3
    T, t = _frames(dur)
    pose = _Pose(T)
    b = _hold_profile(t, 0.2, rise, hold, rise) * depth
    tilt = 0.55 * b
    _standing_legs(pose, tilt=tilt, hip=-tilt)
    pose.spine(bend=0.6 * b, head=0.2 * b)
    for s in (1, -1):
        pose.arm(s, swing=-0.5 * b, elbow=0.1)
    return _segment(pose, tilt, label="bow")


def squat(count=1, depth=1.0, speed=1.0):
    period = 1.8 / speed
    dur = 0.3 + count * period + 0.3
    T, t = _frames(dur)
    pose = _Pose(T)
    ph = np.clip((t - 0.3) / period, 0, count)
    d = depth * (0.5 - 0.5 * np.cos(2 * np.pi * ph))
    tilt = 0.45 * d
    hip = -1.5 * d
    knee = 2.0 * d
    _standing_legs(pose, tilt=tilt, hip=hip, knee=knee)
    for s in (1, -1):
        pose.arm(s, elev=ARM_DOWN + (-ARM_DOWN - 0.2) * d, fwd=1.3 * d, elbow=0.1)
    pose.spine(bend=0.1 * d)
    return _segment(pose, tilt, label="squat")


def sit_down(sit_time=1.5, speed=1.0):
    """Sit down on the floor (through a squat), stay, and stand up again."""
    down = 1.6 / speed
    dur = 0.3 + 2 * down + sit_time + 0.3
    T, t = _frames(dur)
    pose = _Pose(T)
    s = _hold_profile(t, 0.3, down, sit_time, down)  # 0 standing .. 1 sitting
    # First half of the way: squat; second half: legs forward, sitting back.
    a = np.clip(2 * s, 0, 1)  # squat depth
    b = np.clip(2 * s - 1, 0, 1)  # legs out
    tilt = 0.45 * a * (1 - b) - 0.35 * b
    hip = -1.5 * a * (1 - b) - 1.25 * b
    knee = 2.1 * a * (1 - b) + 0.25 * b
    _standing_legs(pose, tilt=tilt, hip=hip, knee=knee)
    for side in (1, -1):
        pose.arm(side, elev=ARM_DOWN + 0.4 * b, swing=0.6 * b - 0.5 * a * (1 - b), elbow=0.2)
    pose.spine(bend=0.3 * b)
    seat = b > 0.85
    return _segment(pose, tilt, seat=seat, label="sit_down")


def _jumps(count, height, distance, tuck, single_leg=0, label=""):
    """``count`` jumps (distance metres forward each, 0 in place); single_leg = +1/-1 hops."""
    flight = 2.0 * np.sqrt(2.0 * height / GRAVITY)
    crouch = 0.35 if not single_leg else 0.18
    period = crouch + flight + crouch
    dur = 0.3 + count * period + 0.4
    T, t = _frames(dur)
    pose = _Pose(T)
    ph = (t - 0.3) / period
    act = (ph >= 0) & (ph < count)
    u = np.clip(ph % 1.0, 0, 1) * period  # seconds into the current jump
    in_air = act & (u >= crouch) & (u < crouch + flight)
    # Crouch before take-off and after landing, extended in the air.
    dip = np.where(act & (u < crouch), np.sin(np.pi * u / crouch), 0.0)
    dip += np.where(act & (u >= crouch + flight), np.sin(np.pi * (u - crouch - flight) / crouch), 0.0)
    fl = np.where(in_air, np.sin(np.pi * (u - crouch) / flight), 0.0)
    k = 0.6 if not single_leg else 0.35
    tilt = 0.3 * dip
    contact = np.ones((T, 2), bool)
    contact[in_air] = False
    for side in (1, -1):
        if single_leg and side != single_leg:
            # The lifted leg stays bent behind.
            pose.leg(side, hip=-0.3, knee=1.4, tilt=tilt)
            contact[:, SIDE_INDEX[side]] = False
        else:
            pose.leg(side, hip=-1.0 * k * dip - tuck * fl, knee=2.0 * k * dip + 2 * tuck * fl, tilt=tilt,
                     ankle_extra=0.3 * fl)
    for side in (1, -1):
        pose.arm(side, swing=0.6 * dip - 1.0 * fl * (0.5 if single_leg else 1.0), elbow=0.3)
    air = np.where(in_air, height * 4 * ((u - crouch) / flight) * (1 - (u - crouch) / flight), 0.0)
    air_vel = np.zeros((T, 2))
    air_vel[in_air, 1] = distance / (flight * FPS)
    return _segment(pose, tilt, air=air, contact=contact, air_vel=air_vel, label=label)


def jump(count=1, height=0.3, forward=0.0):
    label = "jump_forward" if forward > 0 else "jump_in_place"
    return _jumps(count, height, forward, tuck=0.25, label=label)


def hop(count=3, side=1, height=0.12):
    return _jumps(count, height, 0.0, tuck=0.05, single_leg=side,
                  label="hop_left" if side > 0 else "hop_right")


# --------------------------------------------------------------------------- blending & solving

def _blend_rots(A: np.ndarray, B: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Geodesic blend of rotation stacks A, B (T, J, 3, 3) with weights w (T,) from A to B."""
    rel = np.swapaxes(A, -1, -2) @ B
    aa = matrix_to_axis_angle(rel) * w[:, None, None]
    return A @ axis_angle_to_matrix(aa)


def sequence(segments: list[Segment], blend: int = 10) -> Segment:
    """Concatenate segments, cross-fading ``blend`` frames between neighbours."""
    out = segments[0]
    for seg in segments[1:]:
        k = min(blend, out.num_frames // 2, seg.num_frames // 2)
        Ta = out.num_frames
        w = _smoothstep((np.arange(k) + 1) / (k + 1))
        mid = _blend_rots(out.local[Ta - k:], seg.local[:k], w)
        yaw_b = seg.yaw + out.yaw[-1]
        yaw_mid = (1 - w) * out.yaw[Ta - k:] + w * yaw_b[:k]
        half = k // 2

        def cat(a, b, m=None):
            mm = np.concatenate([a[Ta - k:Ta - k + half], b[half:k]]) if m is None else m
            return np.concatenate([a[:Ta - k], mm, b[k:]])

        spans = list(out.spans) + [(s + Ta - k, e + Ta - k) for s, e in seg.spans]
        out = Segment(
            local=cat(out.local, seg.local, mid),
            yaw=cat(out.yaw, yaw_b, yaw_mid),
            air=cat(out.air, seg.air, (1 - w) * out.air[Ta - k:] + w * seg.air[:k]),
            contact=cat(out.contact, seg.contact),
            air_vel=cat(out.air_vel, seg.air_vel),
            seat=cat(out.seat, seg.seat),
            labels=list(out.labels) + list(seg.labels),
            spans=spans,
        )
    return out


def render(seg: Segment, heading: float = 0.0, offsets: np.ndarray = DEFAULT_REST_OFFSETS
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the root of a segment: feet on the floor, stance feet fixed (``contacts.solve_root``).

    Args:
        seg: the segment.
        heading: initial yaw of the body, radians.
        offsets: (22, 3) rest skeleton.
    Returns:
        local rotations (T, 22, 3, 3) with joint 0 the world root orientation,
        pelvis positions (T, 3) metres, joint positions (T, 22, 3) metres.
    """
    T = seg.num_frames
    R = seg.local.copy()
    Y = yaw_matrix(seg.yaw + heading)  # (T, 3, 3)
    R[:, 0] = Y @ R[:, 0]
    P, _ = forward_kinematics(R, np.zeros((T, 3)), offsets)  # pelvis at the origin
    seat_h = P[:, PELVIS, 1] - 0.1
    # Flight keeps the take-off velocity, given in the body frame: turn it into the world.
    fly = np.einsum("tij,tj->ti", Y[:, [0, 2]][:, :, [0, 2]], seg.air_vel)
    root = solve_root(P, seg.contact, lift=seg.air, seat=seg.seat, seat_height=seat_h, flight_velocity=fly)
    return R, root, P + root[:, None]


def to_272(seg: Segment, heading: float = 0.0) -> np.ndarray:
    """Render a segment and convert it to 272-dim frames (T, 272)."""
    R, _, joints = render(seg, heading)
    return motion_to_272(R, joints)


# --------------------------------------------------------------------------- the catalogue

def _speed(rng, lo=0.6, hi=1.4):
    return float(rng.uniform(lo, hi))


#: Action name -> (builder(rng, params) -> Segment, parameter sampler(rng) -> dict).
ACTIONS: dict = {}


def _register(name, build, sample):
    ACTIONS[name] = (build, sample)


def _DUR(rng, lo=2.5, hi=5.0):
    """A duration in seconds: whole seconds mostly (prompts can say "for 3 seconds"), else halves."""
    d = rng.uniform(lo, hi)
    return float(np.round(d) if rng.random() < 0.7 else np.round(d * 2) / 2)


_SPEED = lambda rng: str(rng.choice(["slow", "normal", "normal", "fast"]))  # noqa: E731
_SPEED_VALUE = {"slow": 0.65, "normal": 1.0, "fast": 1.35}
_COUNT = lambda rng, hi=3: int(rng.integers(1, hi + 1))  # noqa: E731

_register("idle", lambda p: idle(p["duration"], p["variant"]),
          lambda rng: dict(duration=_DUR(rng, 2.0, 5.0), variant=float(rng.uniform(0, 1))))
_register("walk_forward", lambda p: walk(p["duration"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(duration=_DUR(rng), speed=_SPEED(rng)))
_register("walk_backward", lambda p: walk(p["duration"], 0.8 * _SPEED_VALUE[p["speed"]], backward=True),
          lambda rng: dict(duration=_DUR(rng), speed=_SPEED(rng)))
_register("sidestep_left", lambda p: side_step(p["duration"], _SPEED_VALUE[p["speed"]], 1),
          lambda rng: dict(duration=_DUR(rng, 2.0, 4.0), speed=_SPEED(rng)))
_register("sidestep_right", lambda p: side_step(p["duration"], _SPEED_VALUE[p["speed"]], -1),
          lambda rng: dict(duration=_DUR(rng, 2.0, 4.0), speed=_SPEED(rng)))
_register("run", lambda p: run(p["duration"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(duration=_DUR(rng), speed=_SPEED(rng)))
_register("jog_in_place", lambda p: jog_in_place(p["duration"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(duration=_DUR(rng, 2.0, 4.0), speed=_SPEED(rng)))
_register("march", lambda p: march(p["duration"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(duration=_DUR(rng, 2.0, 4.0), speed=_SPEED(rng)))
_register("jump_in_place", lambda p: jump(p["count"], p["height"]),
          lambda rng: dict(count=_COUNT(rng), height=float(rng.uniform(0.2, 0.4))))
_register("jump_forward", lambda p: jump(p["count"], p["height"], p["distance"]),
          lambda rng: dict(count=_COUNT(rng, 2), height=float(rng.uniform(0.25, 0.4)),
                           distance=float(rng.uniform(0.6, 1.1))))
_register("hop_left", lambda p: hop(p["count"], 1), lambda rng: dict(count=int(rng.integers(2, 6))))
_register("hop_right", lambda p: hop(p["count"], -1), lambda rng: dict(count=int(rng.integers(2, 6))))
_register("squat", lambda p: squat(p["count"], p["depth"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=_COUNT(rng), depth=float(rng.uniform(0.75, 1.0)), speed=_SPEED(rng)))
_register("sit_down", lambda p: sit_down(p["sit_time"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(sit_time=float(rng.uniform(0.8, 2.0)), speed=_SPEED(rng)))
_register("turn_left", lambda p: turn(p["duration"], p["angle"]),
          lambda rng: dict(duration=float(rng.uniform(1.8, 2.8)), angle=float(rng.uniform(1.3, 1.8))))
_register("turn_right", lambda p: turn(p["duration"], -p["angle"]),
          lambda rng: dict(duration=float(rng.uniform(1.8, 2.8)), angle=float(rng.uniform(1.3, 1.8))))
_register("turn_around", lambda p: turn(p["duration"], p["angle"]),
          lambda rng: dict(duration=float(rng.uniform(2.3, 3.3)),
                           angle=float(rng.choice([-1, 1]) * rng.uniform(2.9, 3.3))))
_register("wave_left", lambda p: wave(p["count"], 1, speed=_SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=_COUNT(rng, 4), speed=_SPEED(rng)))
_register("wave_right", lambda p: wave(p["count"], -1, speed=_SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=_COUNT(rng, 4), speed=_SPEED(rng)))
_register("wave_both", lambda p: wave(p["count"], 1, both=True, speed=_SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=_COUNT(rng, 4), speed=_SPEED(rng)))
_register("raise_arms", lambda p: raise_arms(p["hold"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(hold=float(rng.uniform(0.5, 1.5)), speed=_SPEED(rng)))
_register("clap", lambda p: clap(p["count"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=int(rng.integers(2, 6)), speed=_SPEED(rng)))
_register("punch_left", lambda p: punch(p["count"], 1, _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=_COUNT(rng), speed=_SPEED(rng)))
_register("punch_right", lambda p: punch(p["count"], -1, _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=_COUNT(rng), speed=_SPEED(rng)))
_register("kick_left", lambda p: kick(p["count"], 1, _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=_COUNT(rng, 2), speed=_SPEED(rng)))
_register("kick_right", lambda p: kick(p["count"], -1, _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(count=_COUNT(rng, 2), speed=_SPEED(rng)))
_register("bow", lambda p: bow(p["depth"], p["hold"], _SPEED_VALUE[p["speed"]]),
          lambda rng: dict(depth=float(rng.uniform(0.7, 1.0)), hold=float(rng.uniform(0.4, 1.2)),
                           speed=_SPEED(rng)))


def sample_params(name: str, rng: np.random.Generator) -> dict:
    """Random parameters for one action (a dict the text templates read)."""
    return ACTIONS[name][1](rng)


def make_action(name: str, params: dict) -> Segment:
    """Build one action's segment from its parameters."""
    if name not in ACTIONS:
        raise KeyError(f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
    return ACTIONS[name][0](params)


# --------------------------------------------------------------------------- the corpus

@dataclass
class Clip:
    """One corpus entry: the actions with their parameters, the solved motion and its labels."""

    items: list  # [(action, params), ...]
    rotations: np.ndarray  # (T, 22, 3, 3) local, joint 0 world root orientation
    root: np.ndarray  # (T, 3) pelvis, metres
    joints: np.ndarray  # (T, 22, 3) metres
    spans: list  # [(start, end), ...] frames of each action

    @property
    def labels(self) -> list:
        return [a for a, _ in self.items]

    def to_272(self) -> np.ndarray:
        return motion_to_272(self.rotations, self.joints)


def sample_clip(rng: np.random.Generator, max_seconds: float = 9.0, n_actions: int | None = None,
                actions: list | None = None) -> Clip:
    """One random clip of one to three blended actions, at most ``max_seconds`` long."""
    names = list(ACTIONS)
    for _ in range(100):  # redraw until the clip fits
        k = n_actions or int(rng.choice([1, 2, 3], p=[0.45, 0.43, 0.12]))
        chosen = actions or [names[i] for i in rng.integers(len(names), size=k)]
        items = [(a, sample_params(a, rng)) for a in chosen]
        seg = sequence([make_action(a, p) for a, p in items])
        if seg.num_frames <= max_seconds * FPS or actions:
            break
    R, root, joints = render(seg, heading=float(rng.uniform(-np.pi, np.pi)))
    return Clip(items, R, root, joints, list(seg.spans))
