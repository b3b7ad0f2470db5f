"""Retarget keying speed in real Blender (bpy module): 300 frames of SMPL-X motion keyed onto
each third-party rig the tests build (Mixamo-, UE5-, VRM-named, a generated Rigify rig): the
retarget maths (``rig.pose_channels``, numpy) and the bulk key writing, per rig. Prints figures
(target: <= 50 ms in all for a 60-bone rig), never fails.

    .venv/bin/python bench/retarget_keying.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import bpy  # noqa: E402,F401

import rig_builders  # noqa: E402
from blender_addon import armature, keys  # noqa: E402
from motionprompt.body import rig  # noqa: E402
from motionprompt.body.motion import Motion  # noqa: E402
from motionprompt.body.rotations import axis_angle_to_matrix  # noqa: E402


def _motion(T: int) -> Motion:
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, T)[:, None, None]
    aa = rng.normal(0, 0.3, (1, 22, 3)) * np.sin(2 * np.pi * t + rng.uniform(0, 6, (1, 22, 3)))
    root = np.stack([np.zeros(T), 0.95 + 0.02 * np.sin(np.linspace(0, 9, T)), np.linspace(0, 3, T)], axis=1)
    return Motion(axis_angle_to_matrix(aa), root)


def main(T: int = 300, repeats: int = 5) -> None:
    motion = _motion(T)
    for kind in ("mixamo", "ue5", "vrm", "rigify"):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        obj = getattr(rig_builders, f"build_{kind}")()
        bone_map = armature.bone_map_for(obj)
        armature.prepare_rig(obj, bone_map)
        target = armature.target_from_armature(obj, bone_map=bone_map)
        maths, write = float("inf"), float("inf")
        for r in range(repeats):
            t0 = time.perf_counter()
            channels = rig.pose_channels(motion, target)
            t1 = time.perf_counter()
            keys.write_keys(obj, keys.new_action(obj, f"bench{r}"), channels)
            t2 = time.perf_counter()
            maths, write = min(maths, t1 - t0), min(write, t2 - t1)
        print(f"{kind:7s}: {len(target.bones):3d} keyed bones of {len(obj.data.bones):3d}, {T} frames: "
              f"maths {maths * 1000:6.1f} ms + keys {write * 1000:6.1f} ms = {(maths + write) * 1000:6.1f} ms "
              f"(best of {repeats}; target <= 50 ms for 60 bones)")


if __name__ == "__main__":
    main()
