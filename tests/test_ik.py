"""Two-bone IK (body/ik.py), checked with forward kinematics and plain geometry."""

from __future__ import annotations

import numpy as np
import pytest

from motionprompt.body.ik import rotation_between, two_bone_ik, two_bone_positions
from motionprompt.body.rotations import axis_angle_to_matrix
from motionprompt.body.skeleton import (BODY_PARENTS, DEFAULT_REST_OFFSETS, LEG_CHAINS, forward_kinematics,
                                        full_rest_offsets)

OFFSETS = DEFAULT_REST_OFFSETS
ARM = (16, 18, 20)  # left shoulder, elbow, wrist


def _pose(T=300, seed=0, spread=0.4, J=22):
    rng = np.random.default_rng(seed)
    R = axis_angle_to_matrix(rng.normal(0.0, spread, (T, J, 3)))
    root = rng.normal(0.0, 1.0, (T, 3))
    return rng, R, root


def _lengths(chain, offsets=OFFSETS):
    return np.linalg.norm(offsets[chain[1]]), np.linalg.norm(offsets[chain[2]])


def _targets(rng, hip, lo, hi):
    """Targets at distances uniform in [lo, hi] from the hips, random directions."""
    d = rng.normal(size=hip.shape)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return hip + d * rng.uniform(lo, hi, len(hip))[:, None]


def _descendants(j, parents=BODY_PARENTS):
    out = {j}
    for k in range(len(parents)):  # parents precede children
        if parents[k] in out:
            out.add(k)
    return out


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.mark.parametrize("chain", [LEG_CHAINS[0], LEG_CHAINS[1], ARM])
def test_reachable_targets_are_reached_with_fixed_bones_in_the_bend_plane(chain):
    rng, R, root = _pose(seed=sum(chain))
    P, _ = forward_kinematics(R, root, OFFSETS)
    hip, knee, ankle = chain
    a, b = _lengths(chain)
    tgt = _targets(rng, P[:, hip], abs(a - b) + 1e-3, a + b - 1e-3)
    P2, _ = forward_kinematics(two_bone_ik(R, root, OFFSETS, chain, tgt), root, OFFSETS)
    # FK of the new rotations (independent of the solver) puts the end on the target.
    assert np.abs(P2[:, ankle] - tgt).max() < 1e-9
    # The hip does not move and the bones keep their lengths.
    assert np.abs(P2[:, hip] - P[:, hip]).max() < 1e-12
    assert np.allclose(np.linalg.norm(P2[:, knee] - P2[:, hip], axis=1), a, atol=1e-12)
    assert np.allclose(np.linalg.norm(P2[:, ankle] - P2[:, knee], axis=1), b, atol=1e-12)
    # The knee angle is the law-of-cosines one for the hip-target distance.
    dist = np.linalg.norm(tgt - P[:, hip], axis=1)
    cos_knee = np.sum(_unit(P2[:, hip] - P2[:, knee]) * _unit(P2[:, ankle] - P2[:, knee]), axis=1)
    assert np.allclose(cos_knee, (a * a + b * b - dist * dist) / (2 * a * b), atol=1e-9)
    # The knee stays in the plane of hip, target and the original knee, on the original side.
    normal = _unit(np.cross(tgt - P[:, hip], P[:, knee] - P[:, hip]))
    assert np.abs(np.sum((P2[:, knee] - P[:, hip]) * normal, axis=1)).max() < 1e-9
    line = _unit(tgt - P[:, hip])

    def off_line(p):
        v = p - P[:, hip]
        return v - np.sum(v * line, axis=1, keepdims=True) * line

    assert np.all(np.sum(off_line(P2[:, knee]) * off_line(P[:, knee]), axis=1) > 0)


def test_unreachable_targets_give_a_straight_limb_pointing_at_them():
    rng, R, root = _pose(seed=4)
    chain = LEG_CHAINS[0]
    hip, knee, ankle = chain
    a, b = _lengths(chain)
    P, _ = forward_kinematics(R, root, OFFSETS)
    tgt = _targets(rng, P[:, hip], a + b + 0.01, a + b + 2.0)
    P2, _ = forward_kinematics(two_bone_ik(R, root, OFFSETS, chain, tgt), root, OFFSETS)
    aim = _unit(tgt - P[:, hip])
    assert np.abs(P2[:, knee] - (P[:, hip] + a * aim)).max() < 1e-9
    assert np.abs(P2[:, ankle] - (P[:, hip] + (a + b) * aim)).max() < 1e-9
    # Too close: the limb folds fully along the hip -> target line.
    near = _targets(rng, P[:, hip], 0.0, abs(a - b) - 0.01)
    P3, _ = forward_kinematics(two_bone_ik(R, root, OFFSETS, chain, near), root, OFFSETS)
    aim = _unit(near - P[:, hip])
    assert np.abs(P3[:, ankle] - (P[:, hip] + abs(a - b) * aim)).max() < 1e-9
    assert np.allclose(np.linalg.norm(P3[:, knee] - P3[:, hip], axis=1), a, atol=1e-12)


@pytest.mark.parametrize("keep_end_rotation", [False, True])
def test_untouched_joints_are_unchanged(keep_end_rotation):
    rng, R, root = _pose(seed=7)
    chain = LEG_CHAINS[1]
    hip, knee, ankle = chain
    a, b = _lengths(chain)
    P, G = forward_kinematics(R, root, OFFSETS)
    tgt = _targets(rng, P[:, hip], 0.3, 1.2)  # reachable or not
    R2 = two_bone_ik(R, root, OFFSETS, chain, tgt, keep_end_rotation=keep_end_rotation)
    P2, G2 = forward_kinematics(R2, root, OFFSETS)
    changed = {hip, knee} | ({ankle} if keep_end_rotation else set())
    others = [j for j in range(22) if j not in changed]
    assert np.array_equal(R2[:, others], R[:, others])  # bit for bit
    outside = [j for j in range(22) if j not in _descendants(hip)]
    assert np.array_equal(P2[:, outside], P[:, outside])
    assert np.abs(P2[:, hip] - P[:, hip]).max() < 1e-12
    # Below the ankle the foot is rigid: it follows the ankle's world rotation.
    foot = ankle + 3  # right_foot hangs from right_ankle
    assert BODY_PARENTS[foot] == ankle
    assert np.allclose(P2[:, foot] - P2[:, ankle], np.einsum("tij,j->ti", G2[:, ankle], OFFSETS[foot]), atol=1e-12)
    if keep_end_rotation:
        assert np.abs(G2[:, ankle] - G[:, ankle]).max() < 1e-12
        assert np.abs((P2[:, foot] - P2[:, ankle]) - (P[:, foot] - P[:, ankle])).max() < 1e-12
    # Proper rotations.
    assert np.abs(R2 @ np.swapaxes(R2, -1, -2) - np.eye(3)).max() < 1e-12
    assert np.allclose(np.linalg.det(R2), 1.0, atol=1e-12)


def test_identity_target_returns_the_input_rotations():
    _, R, root = _pose(seed=9)
    for chain in (*LEG_CHAINS, ARM):
        P, _ = forward_kinematics(R, root, OFFSETS)
        R2 = two_bone_ik(R, root, OFFSETS, chain, P[:, chain[2]])
        assert np.abs(R2 - R).max() < 1e-9
    # Also at rest, where the thigh's bend is tiny.
    T = 5
    R0 = np.tile(np.eye(3), (T, 22, 1, 1))
    P0, _ = forward_kinematics(R0, np.zeros((T, 3)), OFFSETS)
    assert np.abs(two_bone_ik(R0, np.zeros((T, 3)), OFFSETS, LEG_CHAINS[0], P0[:, 7]) - R0).max() < 1e-9


def test_full_skeleton_and_small_steps_track_targets():
    # 55 joints (jaw, eyes, fingers), the ankle pulled up towards the hip by up to 30 cm.
    rng, R, root = _pose(T=120, seed=3, spread=0.2, J=55)
    off = full_rest_offsets(OFFSETS)
    hip, knee, ankle = LEG_CHAINS[0]
    P, _ = forward_kinematics(R, root, off)
    s = np.linspace(0.0, 0.3, len(R))[:, None]
    tgt = P[:, ankle] + s * _unit(P[:, hip] - P[:, ankle])
    R2 = two_bone_ik(R, root, off, (hip, knee, ankle), tgt)
    P2, _ = forward_kinematics(R2, root, off)
    assert np.abs(P2[:, ankle] - tgt).max() < 1e-9
    assert np.array_equal(P2[:, 22:], P[:, 22:])  # head and hands do not hang from the leg


def test_positions_hand_case():
    # Hip at the origin, unit bones, target straight down at distance 1, old knee forward:
    # an equilateral triangle, knee at (0, -1/2, sqrt(3)/2).
    H = np.zeros((1, 3))
    K = np.array([[0.0, -0.7, 0.7]])
    X = np.array([[0.0, -1.0, 0.0]])
    K2, E2 = two_bone_positions(H, K, X, 1.0, 1.0)
    assert np.allclose(K2, [[0.0, -0.5, np.sqrt(3) / 2]], atol=1e-15)
    assert np.allclose(E2, X, atol=1e-15)
    # Old knee behind: the knee bends backwards; straight old leg: the pole (default +Z) decides.
    assert np.allclose(two_bone_positions(H, K * [1, 1, -1], X, 1.0, 1.0)[0], [[0.0, -0.5, -np.sqrt(3) / 2]])
    K3, _ = two_bone_positions(H, np.array([[0.0, -1.0, 0.0]]), X, 1.0, 1.0)
    assert np.allclose(K3, [[0.0, -0.5, np.sqrt(3) / 2]])
    K4, _ = two_bone_positions(H, np.array([[0.0, -1.0, 0.0]]), X, 1.0, 1.0, pole=[1.0, 0.0, 0.0])
    assert np.allclose(K4, [[np.sqrt(3) / 2, -0.5, 0.0]])
    # Per-frame bone lengths; a 3-4-5 triangle.
    K5, E5 = two_bone_positions(np.zeros((2, 3)), np.array([[0.0, 0.0, 1.0]] * 2), np.array([[5.0, 0, 0]] * 2),
                                np.array([3.0, 4.0]), np.array([4.0, 3.0]))
    assert np.allclose(K5, [[1.8, 0.0, 2.4], [3.2, 0.0, 2.4]])
    assert np.allclose(E5, [[5.0, 0, 0]] * 2)
    # Degenerate: target on the hip (folds along the old thigh), old knee on the hip -> target line.
    K6, E6 = two_bone_positions(H, K, H, 1.0, 0.6)
    assert np.allclose(K6, _unit(K), atol=1e-15) and np.allclose(E6, 0.4 * _unit(K), atol=1e-15)
    K7, E7 = two_bone_positions(H, np.array([[0.0, 0.0, 0.5]]), np.array([[0.0, 0.0, 3.0]]), 1.0, 1.0)
    assert np.allclose(K7, [[0.0, 0.0, 1.0]]) and np.allclose(E7, [[0.0, 0.0, 2.0]])
    with pytest.raises(ValueError):
        two_bone_positions(H, K, X, 0.0, 1.0)


def test_rotation_between():
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=(500, 3)), rng.normal(size=(500, 3))
    R = rotation_between(u, v)
    assert np.allclose(np.einsum("tij,tj->ti", R, _unit(u)), _unit(v), atol=1e-14)
    assert np.abs(R @ np.swapaxes(R, -1, -2) - np.eye(3)).max() < 1e-14
    assert np.allclose(np.linalg.det(R), 1.0)
    # The axis is u x v (it is fixed by R), the angle the one between u and v.
    axis = _unit(np.cross(u, v))
    assert np.allclose(np.einsum("tij,tj->ti", R, axis), axis, atol=1e-13)
    assert np.allclose(np.trace(R, axis1=1, axis2=2), 1 + 2 * np.sum(_unit(u) * _unit(v), axis=1))
    assert np.allclose(rotation_between(u, 2.0 * u), np.eye(3), atol=1e-15)
    H = rotation_between(u[:3], -u[:3])
    assert np.allclose(np.einsum("tij,tj->ti", H, u[:3]), -u[:3], atol=1e-14)
    assert np.allclose(np.linalg.det(H), 1.0)


def test_bad_chain_is_refused():
    _, R, root = _pose(T=3)
    with pytest.raises(ValueError, match="parent"):
        two_bone_ik(R, root, OFFSETS, (1, 7, 10), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="targets"):
        two_bone_ik(R, root, OFFSETS, LEG_CHAINS[0], np.zeros((2, 3)))


@pytest.mark.parametrize("bend_plane", ["middle", "bend"])
def test_chains_solved_together_equal_one_at_a_time(bend_plane):
    """Both legs and an arm in one call (one FK, the caller's) give what three calls give."""
    rng, R, root = _pose(seed=5)
    P, G = forward_kinematics(R, root, OFFSETS)
    chains = [LEG_CHAINS[0], LEG_CHAINS[1], ARM]
    tgt = np.stack([_targets(rng, P[:, c[0]], 0.2, 0.7) for c in chains])
    one_by_one = R
    for c, x in zip(chains, tgt):
        one_by_one = two_bone_ik(one_by_one, root, OFFSETS, c, x, keep_end_rotation=True, bend_plane=bend_plane)
    together = two_bone_ik(R, root, OFFSETS, chains, tgt, keep_end_rotation=True, bend_plane=bend_plane, fk=(P, G))
    np.testing.assert_allclose(together, one_by_one, atol=1e-12)
    with pytest.raises(ValueError, match="share a joint"):
        two_bone_ik(R, root, OFFSETS, [LEG_CHAINS[0], (4, 7, 10)], tgt[:2])
    with pytest.raises(ValueError, match=r"expected \(3, 300, 3\)"):
        two_bone_ik(R, root, OFFSETS, chains, tgt[:2])


def test_return_fk_is_the_fk_of_the_solved_pose():
    """The FK two_bone_ik derives (positions, world rotations) equals a fresh FK of its result."""
    rng, R, root = _pose(seed=11)
    P, G = forward_kinematics(R, root, OFFSETS)
    tgt = np.stack([_targets(rng, P[:, c[0]], 0.2, 0.7) for c in LEG_CHAINS])
    R2, (P2, G2) = two_bone_ik(R, root, OFFSETS, LEG_CHAINS, tgt, keep_end_rotation=True, fk=(P, G), return_fk=True)
    P3, G3 = forward_kinematics(R2, root, OFFSETS)
    np.testing.assert_allclose(P2, P3, atol=1e-12)
    np.testing.assert_allclose(G2, G3, atol=1e-12)
    with pytest.raises(ValueError, match="keep_end_rotation"):
        two_bone_ik(R, root, OFFSETS, LEG_CHAINS, tgt, return_fk=True)
