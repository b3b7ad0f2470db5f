"""Exact SMPL-X rest joints from the user's SMPL-X model file, in numpy.

The model files (``SMPLX_NEUTRAL.npz`` etc.) are licensed per user and never shipped: the user
points at their folder. Without them motionprompt uses ``skeleton.DEFAULT_REST_PELVIS`` and
``DEFAULT_REST_OFFSETS`` (one real subject, whose betas ``DEFAULT_BETAS`` files carry).

At zero pose SMPL-X's joints are its joint regressor applied to the shaped template:
``J = J_regressor @ (v_template + shapedirs[..., :n] @ betas)``, which is all this module
computes (the model file's ``v_template`` (V, 3), ``shapedirs`` (V, 3, S) and ``J_regressor``
(55, V)); no torch and no ``smplx`` package are needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .skeleton import DEFAULT_BETAS, PARENTS

__all__ = ["rest_joints", "model_file"]

GENDERS = ("neutral", "male", "female")


def model_file(model_dir, gender: str = "neutral") -> Path:
    """The ``SMPLX_<GENDER>.npz`` for ``model_dir``: the file itself, or ``<dir>/smplx/`` or
    ``<dir>/`` holding it. Raises FileNotFoundError naming every path tried."""
    if gender not in GENDERS:
        raise ValueError(f"SMPL-X gender {gender!r}: choose from {', '.join(GENDERS)}")
    path = Path(model_dir).expanduser()
    if path.is_file():
        return path
    name = f"SMPLX_{gender.upper()}.npz"
    tried = [path / "smplx" / name, path / name]
    for p in tried:
        if p.is_file():
            return p
    raise FileNotFoundError(f"SMPL-X model file not found: tried {', '.join(map(str, tried))} (download SMPL-X "
                            "from https://smpl-x.is.tue.mpg.de and point at the folder holding smplx/)")


def rest_joints(model_dir, betas=DEFAULT_BETAS, gender: str = "neutral") -> np.ndarray:
    """Rest joint positions (55, 3) metres, SMPL-X axes, for ``betas``, relative to ``transl`` = 0.

    Row 0 is J0(betas), the pelvis: SMPL-X ``transl`` = pelvis - J0. Offsets child - parent are
    ``J[j] - J[PARENTS[j]]``.

    Args:
        model_dir: folder holding ``smplx/SMPLX_<GENDER>.npz`` (or the file itself).
        betas: (10,) or more shape coefficients.
        gender: "neutral", "male" or "female".
    Raises:
        FileNotFoundError when the model file is not there; ValueError when it is not an SMPL-X
        model file (the message names it).
    """
    path = model_file(model_dir, gender)
    try:
        with np.load(path, allow_pickle=False) as f:
            v_template = np.asarray(f["v_template"], dtype=np.float64)  # (V, 3)
            shapedirs = np.asarray(f["shapedirs"], dtype=np.float64)  # (V, 3, S)
            regressor = np.asarray(f["J_regressor"], dtype=np.float64)  # (J, V)
    except (KeyError, ValueError, OSError) as e:
        raise ValueError(f"{path}: not an SMPL-X model .npz (needs v_template, shapedirs, J_regressor): {e}") from e
    betas = np.asarray(betas, dtype=np.float64).ravel()
    n = min(len(betas), shapedirs.shape[2])
    shaped = v_template + shapedirs[:, :, :n] @ betas[:n]  # (V, 3)
    return (regressor @ shaped)[: len(PARENTS)]
