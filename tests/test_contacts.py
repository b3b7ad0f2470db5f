"""Foot-contact maths (body/contacts.py) against motions whose contacts are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from motionprompt.body import contacts as C
from motionprompt.body.skeleton import ANKLE_JOINTS, DEFAULT_REST_OFFSETS, TOE_JOINTS, rest_positions

ROOT_Y = 0.9  # the toes sit this far below the root in the stepping motion
STEP = 0.03  # metres per frame the stance toe slides back relative to the root


def _stepping(T=96, period=32, stance=20, lift=0.15):
    """A walk in place relative to the root (pelvis at the origin): each stance toe slides back
    at STEP m/frame on y = -ROOT_Y, each swing toe arcs forward ``lift`` m high; the right leg is
    half a cycle behind the left. Returns positions (T, 22, 3) and the contacts (T, 2)."""
    t = np.arange(T)
    P = np.tile(rest_positions(DEFAULT_REST_OFFSETS), (T, 1, 1))
    contact = np.zeros((T, 2), bool)
    half = STEP * stance / 2
    for foot, shift in ((0, 0), (1, period // 2)):
        k = (t + shift) % period
        down = k < stance
        u = (k - stance + 1) / (period - stance + 1)  # in (0, 1) over the swing
        z = np.where(down, half - STEP * k, -half + 2 * half * (3 * u ** 2 - 2 * u ** 3))
        y = np.where(down, 0.0, lift * np.sin(np.pi * u)) - ROOT_Y
        toe = np.stack([np.full(T, 0.1 - 0.2 * foot), y, z], axis=1)
        P[:, TOE_JOINTS[foot]] = toe
        P[:, ANKLE_JOINTS[foot]] = toe + [0.0, 0.06, -0.13]  # ankle above and behind the toe
        contact[:, foot] = down
    return P, contact


def test_solve_root_grounds_the_motion_and_pins_the_stance_feet():
    P, contact = _stepping()
    root = C.solve_root(P, contact)
    world = P + root[:, None]
    # Every frame has a stance foot: the root stays at the toes' depth and advances STEP a frame.
    assert np.allclose(root[:, 1], ROOT_Y, atol=1e-12)
    assert np.allclose(np.diff(root[:, 2]), STEP, atol=1e-12) and np.allclose(root[:, 0], 0.0)
    assert np.allclose(C.lowest_foot_height(world).min(axis=1), 0.0, atol=1e-12)
    # Each foot planted on two frames stays put in the world (both slide alike relative to the root).
    toe = world[:, list(TOE_JOINTS)][..., [0, 2]]
    held = contact[1:] & contact[:-1]
    assert held.sum() > 100
    assert np.abs(np.diff(toe, axis=0)[held]).max() < 1e-12
    assert C.foot_skating(world) == (pytest.approx(0.0, abs=1e-12), int(held.sum()))


def test_estimate_contacts_recovers_the_steps():
    P, contact = _stepping()
    world = P + C.solve_root(P, contact)[:, None]
    assert np.array_equal(C.estimate_contacts(world), contact)
    # Height alone: the swing toe is above 2.5 cm on every swing frame of this motion.
    assert np.array_equal(C.estimate_contacts(world, speed=None), contact)
    # Relative to the root the stance toes slide at STEP * fps = 0.9 m/s: no contact at 0.3 m/s,
    # contact once the threshold is above it; fps scales the speed.
    assert not C.estimate_contacts(P, floor=-ROOT_Y).any()
    assert np.array_equal(C.estimate_contacts(P, speed=1.0, floor=-ROOT_Y), contact)
    assert np.array_equal(C.estimate_contacts(P, fps=9.0, floor=-ROOT_Y), contact)
    # At 60 fps (1.8 m/s) only the landing frames stay: the swing ends slowly and a frame's
    # speed is the slower of its two steps.
    landing = contact & ~np.r_[contact[:1], contact[:-1]]
    assert landing.sum() == 5
    assert np.array_equal(C.estimate_contacts(P, fps=60.0, speed=1.0, floor=-ROOT_Y), landing)


def _hand_skating(joints, height):
    floor = min(p[1] for frame in joints for p in frame)
    slides = []
    for t in range(len(joints) - 1):
        for toe in (10, 11):
            a, b = joints[t][toe], joints[t + 1][toe]
            if a[1] - floor < height and b[1] - floor < height:
                slides.append(((b[0] - a[0]) ** 2 + (b[2] - a[2]) ** 2) ** 0.5)
    return (sum(slides) / len(slides) if slides else 0.0), len(slides)


@pytest.mark.parametrize("seed", range(4))
def test_foot_skating_matches_a_hand_computation(seed):
    rng = np.random.default_rng(seed)
    T = 40
    joints = rng.uniform(0.0, 1.0, (T, 22, 3))
    joints[:, [10, 11], 1] = rng.uniform(-0.01, 0.06, (T, 2))  # toes near the floor, some above 2.5 cm
    joints[:, [10, 11]] += np.cumsum(rng.normal(0, 0.01, (T, 2, 3)), axis=0) * [1, 0, 1]
    for height in (0.025, 0.04):
        mean, n = C.foot_skating(joints, height)
        want_mean, want_n = _hand_skating(joints.tolist(), height)
        assert n == want_n and mean == pytest.approx(want_mean, rel=1e-12)
    # A planted toe sliding 1 cm a frame along x skates 1 cm a frame; nothing near the floor: (0, 0).
    j = np.zeros((10, 22, 3))
    j[:, :, 1] = 1.0
    j[:, 10, 1] = 0.0
    j[:, 10, 0] = 0.01 * np.arange(10)
    assert C.foot_skating(j) == (pytest.approx(0.01, rel=1e-12), 9)
    j[:, 10, 1] = 1.0
    j[0, 3, 1] = 0.0  # the clip's lowest joint, 1 m below the toes
    assert C.foot_skating(j) == (0.0, 0)
    # Against a floor just below them both toes are in stance on all 9 pairs.
    assert C.foot_skating(j, floor=0.99) == (pytest.approx(0.005, rel=1e-12), 18)


def test_locking_feet_prefers_the_foot_planted_last():
    contact = np.array([[1, 0], [1, 1], [1, 1], [0, 1], [1, 1], [1, 0]], bool)
    # Frame 0 -> 1 only the left is down on both; then the right, planted later, pins
    # (also after the left comes down again on frame 4); on 4 -> 5 only the left remains.
    want = np.array([[1, 0], [0, 1], [0, 1], [0, 1], [1, 0]], bool)
    assert np.array_equal(C.locking_feet(contact), want)
    # Both put down on the same frame: both pin.
    assert np.array_equal(C.locking_feet(np.ones((3, 2), bool)), np.ones((2, 2), bool))


def test_fill_gaps_and_root_height():
    assert np.array_equal(C.fill_gaps(np.array([np.nan, 1.0, np.nan, 3.0, np.nan])), [1.0, 1.0, 2.0, 3.0, 3.0])
    assert np.array_equal(C.fill_gaps(np.full(3, np.nan)), np.zeros(3))
    low = np.array([[-0.9, -0.8], [-0.9, -0.85], [-1.2, -1.0], [-0.6, -0.9], [-0.9, -0.9]])
    contact = np.array([[1, 0], [0, 1], [0, 0], [0, 1], [1, 1]], bool)
    # The lowest foot of a supported frame goes to the floor (on frame 1 the free left one).
    assert np.allclose(C.root_height(low, contact), [0.9, 0.9, 1.2, 0.9, 0.9])
    # Flight: interpolated and lifted, but never a foot below the floor.
    assert np.allclose(C.root_height(low, contact, lift=np.array([0, 0, 0.2, 0, 0.1])), [0.9, 0.9, 1.2, 0.9, 1.0])
    assert np.allclose(C.root_height(low, contact, lift=np.array([0, 0, 0.4, 0, 0])), [0.9, 0.9, 1.3, 0.9, 0.9])
    # A seat lower than the feet carries the body; a seat alone is support too.
    seat = np.array([0, 1, 1, 0, 0], bool)
    got = C.root_height(low, contact, seat=seat, seat_height=np.full(5, -1.0))
    assert np.allclose(got, [0.9, 1.0, 1.2, 0.9, 0.9])


def test_root_horizontal_pins_flies_and_holds():
    T = 6
    lock = np.zeros((T, 2, 3))
    lock[:, 0, 0] = -0.1 * np.arange(T)  # the left toe slides back along x relative to the root
    lock[:, 1, 2] = -0.05 * np.arange(T)  # the right one along z
    contact = np.array([[1, 0], [1, 0], [0, 0], [0, 0], [0, 1], [0, 1]], bool)
    fly = np.zeros((T, 2))
    fly[:, 0] = 0.1 * np.arange(T)  # a flight velocity of 0.1 * t m/frame along x
    # Step 0->1 pinned by the left, 1->2 and 2->3 in flight, 3->4 a landing (repeats), 4->5 pinned by the right.
    got = C.root_horizontal(lock, contact, flight_velocity=fly)
    assert np.allclose(got, [[0, 0], [0.1, 0], [0.3, 0], [0.6, 0], [0.9, 0], [0.9, 0.05]])
    # Without a flight velocity the body keeps its last step.
    got = C.root_horizontal(lock, contact)
    assert np.allclose(got, [[0, 0], [0.1, 0], [0.2, 0], [0.3, 0], [0.4, 0], [0.4, 0.05]])
    # Seated steps hold; nothing known at all: the root stays.
    seat = np.array([0, 1, 1, 1, 0, 0], bool)
    got = C.root_horizontal(lock, contact, seat=seat)
    assert np.allclose(got, [[0, 0], [0.1, 0], [0.1, 0], [0.1, 0], [0.1, 0], [0.1, 0.05]])
    assert np.array_equal(C.root_horizontal(lock, np.zeros((T, 2), bool)), np.zeros((T, 2)))


def test_the_demo_uses_these_functions():
    from motionprompt_demo import recognise, synth

    assert recognise.foot_skating is C.foot_skating
    assert synth.FPS == recognise.FPS == C.DEFAULT_FPS
    # The corpus's root is solve_root of its contacts (and its joints FK on that root).
    seg = synth.make_action("walk_forward", dict(duration=2.0, speed="normal"))
    R, root, joints = synth.render(seg)
    local = joints - root[:, None]
    assert np.allclose(C.solve_root(local, seg.contact, lift=seg.air, seat=seg.seat,
                                    seat_height=np.full(len(root), -0.1)), root, atol=1e-12)
