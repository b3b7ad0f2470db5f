"""SMPL-X rest joints from a model file, in numpy (no torch, no smplx package)."""

import numpy as np
import pytest

from motionprompt.body.skeleton import PARENTS
from motionprompt.body.smplx_body import model_file, rest_joints


def _fake_model(path, V=60, S=20, seed=0):
    """A model file with SMPL-X's keys: a template, shape directions and a joint regressor
    whose rows are convex weights over vertices (as the real one's)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(V, 3))
    dirs = rng.normal(size=(V, 3, S)) * 0.01
    reg = rng.random((55, V))
    reg /= reg.sum(1, keepdims=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, v_template=v, shapedirs=dirs, J_regressor=reg, f=np.zeros((1, 3), dtype=np.int64))
    return v, dirs, reg


def test_rest_joints_regress_the_shaped_template(tmp_path):
    v, dirs, reg = _fake_model(tmp_path / "smplx" / "SMPLX_MALE.npz")
    betas = np.linspace(-1, 1, 10)
    J = rest_joints(tmp_path, betas=betas, gender="male")
    assert J.shape == (len(PARENTS), 3)
    shaped = v + np.einsum("vcs,s->vc", dirs[:, :, :10], betas)  # written out per vertex
    want = np.stack([(reg[j][:, None] * shaped).sum(0) for j in range(55)])
    np.testing.assert_allclose(J, want, atol=1e-12)
    np.testing.assert_allclose(rest_joints(tmp_path / "smplx" / "SMPLX_MALE.npz", betas=betas), J)  # the file itself


def test_missing_or_wrong_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="SMPLX_NEUTRAL.npz"):
        rest_joints(tmp_path)
    np.savez(tmp_path / "SMPLX_NEUTRAL.npz", something=np.zeros(3))
    assert model_file(tmp_path) == tmp_path / "SMPLX_NEUTRAL.npz"
    with pytest.raises(ValueError, match="not an SMPL-X model"):
        rest_joints(tmp_path)
    with pytest.raises(ValueError, match="gender"):
        model_file(tmp_path, gender="other")
