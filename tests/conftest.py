"""Shared fixtures: the ../shared reference data (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE = SHARED / "reference"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder beside the repository (a developer's machine only)."""
    if not SHARED.is_dir():
        pytest.skip("../shared reference data not present (only on a developer's machine)")
    return SHARED


@pytest.fixture(scope="session")
def reference_dir(shared_dir) -> Path:
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference not present")
    return REFERENCE


@pytest.fixture(scope="session")
def real_clip(reference_dir):
    """The real mocap clip: dict with x272 (T, 272), smplx85 (T, 85), joints55 (T, 55, 3)."""
    names = {"x272": "clip000000_272.npy", "smplx85": "clip000000_smplx85.npy", "joints55": "clip000000_joints55.npy"}
    out = {}
    for key, name in names.items():
        path = reference_dir / name
        if not path.is_file():
            pytest.skip(f"{path} not present")
        out[key] = np.load(path).astype(np.float64)
    return out
