"""Rotation conversions agree with scipy and with the spec's formulas."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motionprompt.body import rotations as rot


@pytest.fixture
def random_rotations():
    return Rotation.random(500, random_state=7)


def test_6d_is_first_two_rows_and_round_trips(random_rotations):
    R = random_rotations.as_matrix().reshape(50, 10, 3, 3)
    d6 = rot.matrix_to_6d(R)
    assert d6.shape == (50, 10, 6)
    np.testing.assert_array_equal(d6[..., :3], R[..., 0, :])
    np.testing.assert_array_equal(d6[..., 3:], R[..., 1, :])
    np.testing.assert_allclose(rot.sixd_to_matrix(d6), R, atol=1e-12)


def test_6d_gram_schmidt_on_noisy_input(random_rotations):
    R = random_rotations.as_matrix()
    noisy = rot.matrix_to_6d(R) * 3.0 + np.random.default_rng(0).normal(0, 1e-3, (500, 6))
    M = rot.sixd_to_matrix(noisy)
    np.testing.assert_allclose(M @ np.swapaxes(M, -1, -2), np.broadcast_to(np.eye(3), M.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(M), 1.0, atol=1e-12)
    # b1 is the normalised first row, exactly
    np.testing.assert_allclose(M[:, 0], noisy[:, :3] / np.linalg.norm(noisy[:, :3], axis=1, keepdims=True))
    np.testing.assert_allclose(M, R, atol=5e-3)


def test_axis_angle_matches_scipy(random_rotations):
    aa = random_rotations.as_rotvec()
    np.testing.assert_allclose(rot.axis_angle_to_matrix(aa), random_rotations.as_matrix(), atol=1e-12)
    back = rot.matrix_to_axis_angle(random_rotations.as_matrix())
    np.testing.assert_allclose(Rotation.from_rotvec(back).as_matrix(), random_rotations.as_matrix(), atol=1e-12)


def test_quaternion_is_w_first(random_rotations):
    q = rot.matrix_to_quaternion(random_rotations.as_matrix())
    xyzw = random_rotations.as_quat()
    # same rotation up to sign, w first
    same = np.abs(np.sum(q * np.roll(xyzw, 1, axis=1), axis=1))
    np.testing.assert_allclose(same, 1.0, atol=1e-12)
    assert np.all(q[:, 0] >= 0)
    np.testing.assert_allclose(rot.quaternion_to_matrix(q), random_rotations.as_matrix(), atol=1e-12)
    # a 90 degree turn about +Z is (cos 45, 0, 0, sin 45)
    qz = rot.matrix_to_quaternion(Rotation.from_euler("z", 90, degrees=True).as_matrix())
    np.testing.assert_allclose(qz, [np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-12)


def test_quaternion_continuity_removes_sign_flips():
    angles = np.linspace(0, 4 * np.pi, 200)  # two full turns: canonical w>=0 flips sign midway
    R = Rotation.from_euler("y", angles[:, None]).as_matrix()
    q = rot.matrix_to_quaternion(R)
    assert np.any(np.sum(q[1:] * q[:-1], axis=1) < 0)
    qc = rot.quaternion_continuity(q[:, None])[:, 0]
    assert np.all(np.sum(qc[1:] * qc[:-1], axis=1) > 0)
    np.testing.assert_allclose(rot.quaternion_to_matrix(qc), R, atol=1e-12)


def test_yaw_matrix_and_heading():
    theta = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(rot.yaw_matrix(theta), Rotation.from_euler("y", theta[:, None]).as_matrix(), atol=1e-12)
    # heading h of R_y(a) @ tilt is -a (so that R_y(h) R removes the yaw)
    tilt = Rotation.from_euler("x", 0.3).as_matrix()
    R = rot.yaw_matrix(theta) @ tilt
    np.testing.assert_allclose(rot.heading_angle(R), -theta, atol=1e-12)


def test_slerp_resample_halfway():
    R = Rotation.from_euler("z", [[0.0], [90.0]], degrees=True).as_matrix()
    out = rot.slerp_resample(R, 30, 60)
    assert out.shape == (3, 3, 3)
    np.testing.assert_allclose(out[1], Rotation.from_euler("z", 45, degrees=True).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(out[2], R[1], atol=1e-12)


def test_edge_angles_match_scipy():
    """Tiny angles, angles at pi, and 180-degree turns about each axis (the hard cases for
    matrix -> quaternion / axis-angle)."""
    rng = np.random.default_rng(1)
    axes = rng.normal(size=(60, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([np.full(20, 1e-9), np.full(20, np.pi), np.full(20, np.pi - 1e-7)])
    aa = np.concatenate([axes * angles[:, None], np.diag([np.pi] * 3), np.zeros((1, 3))])
    ref = Rotation.from_rotvec(aa)
    R = rot.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(R, ref.as_matrix(), atol=1e-12)
    q = rot.matrix_to_quaternion(R)
    np.testing.assert_allclose(np.abs(np.sum(q * np.roll(ref.as_quat(), 1, axis=1), axis=1)), 1.0, atol=1e-12)
    back = rot.matrix_to_axis_angle(R)
    np.testing.assert_allclose(Rotation.from_rotvec(back).as_matrix(), ref.as_matrix(), atol=1e-9)
    assert np.all(np.linalg.norm(back, axis=1) <= np.pi + 1e-9)


def test_euler_zyx_matches_scipy_intrinsic(random_rotations):
    R = random_rotations.as_matrix()
    np.testing.assert_allclose(rot.matrix_to_euler_zyx(R), random_rotations.as_euler("ZYX"), atol=1e-9)
    # gimbal lock: y = +-90 degrees still reproduces the matrix
    locked = Rotation.from_euler("ZYX", [[0.4, np.pi / 2, 0.3], [-1.0, -np.pi / 2, 0.2]])
    e = rot.matrix_to_euler_zyx(locked.as_matrix())
    # arcsin near +-1 keeps only ~sqrt(eps) of y: 1e-7 is the conditioning, not slack
    np.testing.assert_allclose(Rotation.from_euler("ZYX", e).as_matrix(), locked.as_matrix(), atol=1e-7)


def test_rotations_module_does_not_need_scipy():
    """The add-on runs this module inside a stock Blender, which has numpy but not scipy."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(rot))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "scipy" not in imported


def test_axis_rotation_matches_scipy():
    theta = np.linspace(-3, 3, 7)
    for axis, name in enumerate("xyz"):
        np.testing.assert_allclose(rot.axis_rotation(axis, theta), Rotation.from_euler(name, theta[:, None]).as_matrix(),
                                   atol=1e-12)
