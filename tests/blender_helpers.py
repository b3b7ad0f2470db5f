"""Shared pieces of the Blender tests (real Blender through the ``bpy`` module)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="Blender tests need the bpy module (pip install bpy==5.0.1)")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from motionprompt.body.motion import Motion  # noqa: E402
from motionprompt.body.rotations import axis_angle_to_matrix  # noqa: E402

#: SMPL-X (x, y, z) -> Blender (x, -z, y), written out independently of the add-on.
SMPLX_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def reset() -> None:
    """An empty factory scene."""
    bpy.ops.wm.read_factory_settings(use_empty=True)


def world_heads(obj, bone_names, frame: int) -> np.ndarray:
    """(B, 3) evaluated world head positions of ``bone_names`` at ``frame``."""
    bpy.context.scene.frame_set(frame)
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mw = ev.matrix_world
    return np.array([tuple(mw @ ev.pose.bones[n].head) for n in bone_names])


def synthetic_motion(T: int = 40, seed: int = 0, fps: float = 30.0) -> Motion:
    """Smooth random SMPL-X motion: rotations up to ~70 degrees, a wandering pelvis, full turns."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, T)[:, None, None]
    amp = rng.normal(0.0, 0.5, (1, 22, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, 22, 3))
    aa = amp * np.sin(2 * np.pi * t + phase)  # (T, 22, 3)
    aa[:, 0, 1] += np.linspace(0.0, 2.5 * np.pi, T)  # root turns past 360 degrees: sign continuity
    rots = axis_angle_to_matrix(aa)
    root = np.stack([np.sin(3 * t[:, 0, 0]), 0.9 + 0.1 * np.cos(5 * t[:, 0, 0]), 2.0 * t[:, 0, 0]], axis=1)
    return Motion(rots, root, fps=fps, prompt=f"synthetic {seed}")
