"""Exact SMPL-X rest joints from the user's SMPL-X model files (optional ``smplx`` package).

The model files (SMPLX_NEUTRAL.npz etc.) are licensed per user and never shipped: the user
points at their folder. Without them motionprompt uses ``skeleton.DEFAULT_REST_PELVIS`` and
``DEFAULT_REST_OFFSETS`` (one real subject, whose betas ``DEFAULT_BETAS`` files carry).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .skeleton import DEFAULT_BETAS, PARENTS

__all__ = ["rest_joints"]


def rest_joints(model_dir, betas=DEFAULT_BETAS, gender: str = "neutral") -> np.ndarray:
    """Rest joint positions (55, 3) metres, SMPL-X axes, for ``betas``, relative to ``transl`` = 0.

    Row 0 is J0(betas), the pelvis: SMPL-X ``transl`` = pelvis - J0. Offsets child - parent are
    ``J[j] - J[PARENTS[j]]``.

    Args:
        model_dir: folder holding ``smplx/SMPLX_<GENDER>.npz`` (or the file itself).
        betas: (10,) or more shape coefficients.
        gender: "neutral", "male" or "female".
    Raises:
        ImportError with the install command when ``smplx`` is missing; FileNotFoundError when
        the model file is not there.
    """
    try:
        import smplx  # noqa: PLC0415 - optional dependency
        import torch  # noqa: PLC0415
    except ImportError as e:
        raise ImportError("exact SMPL-X rest joints need the smplx package: "
                          ".venv/bin/pip install -e '.[smplx]'") from e
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise FileNotFoundError(f"{model_dir}: SMPL-X model folder not found (download SMPL-X from "
                                "https://smpl-x.is.tue.mpg.de and point at the folder holding smplx/)")
    betas = np.asarray(betas, dtype=np.float32).reshape(1, -1)
    model = smplx.create(str(model_dir), model_type="smplx", gender=gender, num_betas=betas.shape[1],
                         use_pca=False)
    with torch.no_grad():
        out = model(betas=torch.from_numpy(betas), return_verts=False)
    joints = out.joints[0, : len(PARENTS)].double().numpy()
    return joints
