"""Looping (postprocess.loop): the cycle found is the motion's period, the seam is closed, and a
loop played twice in a row shows no jump. Measured against independent computations: the
root-relative pose here takes its heading from the hips (not from the root rotation the loop
works with), the period is the one the synthetic motion was built with."""

from __future__ import annotations

import numpy as np
import pytest

from motionprompt.body.motion import Motion
from motionprompt.body.rotations import axis_angle_to_matrix, yaw_matrix
from motionprompt.postprocess.loop import loop, repeat

FPS = 30.0


def _smoothstep(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def walk_like(T=240, period=36.0, speed=1.2, turn_rate=0.0, noise_deg=0.3, noise_m=0.001, seed=0) -> Motion:
    """A periodic walk-like motion: legs, knees, ankles, arms and spine swing sinusoidally with
    ``period`` frames, the root moves forward (+Z of the body) at ``speed`` m/s turning at
    ``turn_rate`` rad/s, with a sway and a bob; embedded between a 1.5 s start from standing and
    a 1 s stop, with Gaussian noise on every joint angle (degrees) and on the root (metres)."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    ph = 2 * np.pi * t / period
    a = _smoothstep(t / 45.0) * _smoothstep((T - 1 - t) / 30.0)  # amplitude: 0 -> 1 -> 0
    aa = np.zeros((T, 22, 3))
    aa[:, 1, 0], aa[:, 2, 0] = -0.45 * a * np.sin(ph), 0.45 * a * np.sin(ph)  # hips
    aa[:, 4, 0] = 0.6 * a * np.maximum(np.sin(ph + 1.2), 0)  # knees
    aa[:, 5, 0] = 0.6 * a * np.maximum(np.sin(ph + 1.2 + np.pi), 0)
    aa[:, 7, 0], aa[:, 8, 0] = 0.15 * a * np.cos(ph), -0.15 * a * np.cos(ph)  # ankles
    aa[:, 16, 2], aa[:, 17, 2] = -1.2, 1.2  # arms down
    aa[:, 16, 1] = aa[:, 17, 1] = 0.35 * a * np.sin(ph)  # arm swing
    aa[:, 18, 1], aa[:, 19, 1] = 0.3, -0.3
    aa[:, 3, 1] = 0.08 * a * np.sin(ph)  # spine twist
    aa[:, 0, 2] = 0.04 * a * np.sin(ph)  # pelvis roll
    aa += np.radians(noise_deg) * rng.normal(size=aa.shape)
    R = axis_angle_to_matrix(aa)
    yaw = turn_rate * t / FPS
    R[:, 0] = yaw_matrix(yaw) @ R[:, 0]
    v = speed * a / FPS
    xz = np.cumsum(np.stack([np.sin(yaw) * v, np.cos(yaw) * v], 1), 0)
    sway = 0.02 * a * np.sin(ph)
    root = np.stack([xz[:, 0] + sway * np.cos(yaw), 0.93 + 0.02 * a * np.cos(2 * ph), xz[:, 1] - sway * np.sin(yaw)], 1)
    return Motion(R, root + noise_m * rng.normal(size=(T, 3)), fps=FPS)


def root_relative(m: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Joints (T, 22, 3) relative to the pelvis, turned so the hips face +Z (heading from the
    left-hip minus right-hip vector, independent of the root rotation); and world joints."""
    P = m.joint_positions()
    left = P[:, 1] - P[:, 2]
    facing = np.arctan2(-left[:, 2], left[:, 0])  # facing = (-left_z, left_x)
    c, s = np.cos(facing)[:, None], np.sin(facing)[:, None]
    d = P - P[:, :1]
    return np.stack([c * d[..., 0] - s * d[..., 2], d[..., 1], s * d[..., 0] + c * d[..., 2]], -1), P


def steps(P: np.ndarray) -> np.ndarray:
    """(T-1,) mean joint displacement from frame to frame, metres."""
    return np.linalg.norm(np.diff(P, axis=0), axis=-1).mean(axis=1)


def check_seams(source: Motion, looped: Motion, label: str) -> None:
    """The seam bounds: first and closing frame within 5 mm (root-relative), the seam's step and
    the join of two copies no more than twice the source's median step (root-relative and
    world), the join's acceleration no more than 1.5 times the source's 95th percentile."""
    rel, _ = root_relative(looped)
    rel_src, P_src = root_relative(source)
    ends = np.linalg.norm(rel[-1] - rel[0], axis=-1).max()
    median_rel, median_world = np.median(steps(rel_src)), np.median(steps(P_src))
    seam = steps(rel)[-1]
    twice = repeat(looped, 2)
    L = looped.num_frames - 1
    rel2, P2 = root_relative(twice)
    join_rel, join_world = steps(rel2)[L - 1:L + 1].max(), steps(P2)[L - 1:L + 1].max()
    acc = np.linalg.norm(np.diff(P2, 2, axis=0), axis=-1).mean(axis=1)[L - 2:L + 1].max()
    acc_src = np.percentile(np.linalg.norm(np.diff(P_src, 2, axis=0), axis=-1).mean(axis=1), 95)
    print(f"{label}: cycle {L} frames, ends {ends * 1000:.2f} mm, seam {seam * 1000:.2f} mm, "
          f"join {join_rel * 1000:.2f} mm root-relative / {join_world * 1000:.1f} mm world "
          f"(source median {median_rel * 1000:.2f} / {median_world * 1000:.1f}), "
          f"join acceleration {acc * 1000:.2f} (source p95 {acc_src * 1000:.2f}) mm/frame^2")
    assert ends <= 0.005
    assert seam <= 2 * median_rel
    assert join_rel <= 2 * median_rel and join_world <= 2 * median_world
    assert acc <= 1.5 * acc_src


@pytest.mark.parametrize("period,turn_rate", [(36.0, 0.0), (33.0, 0.2), (40.0, -0.3), (37.5, 0.0)])
def test_loop_finds_the_period_and_closes_the_seam(period, turn_rate):
    m = walk_like(period=period, turn_rate=turn_rate)
    out = loop(m)
    info = out.meta["loop"]
    L = out.num_frames - 1
    assert abs(L - period) <= 1.0
    assert info["frames"] == L
    assert info["end"] - info["start"] == pytest.approx(L / FPS, abs=1e-3)
    assert 1.5 <= info["start"] and info["end"] <= (m.num_frames - 30) / FPS  # inside the steady walk
    # the turn and the travel per cycle are the built ones (the noise moves them a little)
    assert info["turn"] == pytest.approx(turn_rate * L / FPS, abs=0.03)
    assert np.hypot(*info["offset"]) == pytest.approx(1.2 * L / FPS, rel=0.05)
    check_seams(m, out, f"period {period} turn {turn_rate}")


def test_repeat_moves_each_cycle_by_the_offset_and_turn():
    m = walk_like(period=36.0, turn_rate=0.25)
    out = loop(m)
    L, info = out.num_frames - 1, out.meta["loop"]
    three = repeat(out, 3)
    assert three.num_frames == 3 * L + 1 and three.meta["loop"]["repeats"] == 3
    # cycle 2 is cycle 1 turned by the turn about +Y and shifted by the offset
    turn = info["turn"]
    c, s = np.cos(turn), np.sin(turn)
    d = out.root_translation[:, [0, 2]] - out.root_translation[0, [0, 2]]
    want = out.root_translation[0, [0, 2]] + np.array(info["offset"]) + np.stack([c * d[:, 0] + s * d[:, 1],
                                                                                  -s * d[:, 0] + c * d[:, 1]], 1)
    np.testing.assert_allclose(three.root_translation[L:2 * L + 1, [0, 2]], want, atol=1e-6)
    rel1, _ = root_relative(out)
    rel3, _ = root_relative(three)
    np.testing.assert_allclose(rel3[2 * L:], rel1, atol=1e-6)  # the pose repeats exactly
    with pytest.raises(ValueError, match="times"):
        repeat(out, 0)


def test_in_place_loop_has_no_floor_travel():
    m = walk_like(period=36.0)
    out = loop(m, in_place=True)
    assert out.meta["loop"]["offset"] == [0.0, 0.0] and out.meta["loop"]["in_place"]
    twice = repeat(out, 4)
    xz = twice.root_translation[:, [0, 2]]
    assert np.abs(xz - xz[0]).max() < 1e-9
    moving = loop(m)  # the same cycle, with its travel
    np.testing.assert_allclose(out.rotations, moving.rotations)
    np.testing.assert_allclose(out.root_translation[:, 1], moving.root_translation[:, 1])


@pytest.mark.parametrize("seconds", [1.0, 2.4, 1.55])
def test_requested_length_is_honoured(seconds):
    m = walk_like(period=36.0)
    out = loop(m, seconds=seconds)
    L = int(round(seconds * FPS))
    assert out.num_frames - 1 == L and out.meta["loop"]["frames"] == L
    rel, _ = root_relative(out)
    assert np.linalg.norm(rel[-1] - rel[0], axis=-1).max() <= 0.005
    if seconds == 2.4:  # two periods: a good seam too
        check_seams(m, out, "two periods asked")


def test_too_short_a_motion_names_the_lengths():
    m = walk_like(T=25)
    with pytest.raises(ValueError, match=r"25 frames \(0\.83 s.*at least 1 s needs 31 frames"):
        loop(m)
    with pytest.raises(ValueError, match=r"25 frames.*a 3 s cycle needs 91 frames"):
        loop(walk_like(T=25), seconds=3.0)
    assert loop(m, min_seconds=0.5).num_frames - 1 >= 15


def test_real_clip_loops_within_the_seam_bounds(real_clip):
    m = Motion.from_272(real_clip["x272"][:300])
    out = loop(m)
    assert out.num_frames - 1 >= FPS
    check_seams(m, out, "real clip, first 300 frames")
