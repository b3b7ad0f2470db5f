"""Keying speed in real Blender (bpy module): 55 bones x 300 frames written in bulk, against
Blender's own per-key ``keyframe_insert``. Prints figures, never fails."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy  # noqa: E402

from blender_addon import armature, keys  # noqa: E402
from motionprompt.body.rotations import axis_angle_to_matrix, matrix_to_quaternion, quaternion_continuity  # noqa: E402
from motionprompt.body.skeleton import JOINT_NAMES  # noqa: E402


def main(T: int = 300, repeats: int = 5) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = armature.build_armature("SMPLX")
    rng = np.random.default_rng(0)
    quats = quaternion_continuity(matrix_to_quaternion(axis_angle_to_matrix(rng.normal(0, 0.4, (T, 55, 3)))))
    channels = {(name, "rotation_quaternion"): quats[:, j] for j, name in enumerate(JOINT_NAMES)}
    channels[("pelvis", "location")] = rng.normal(0, 0.1, (T, 3))
    best = float("inf")
    for r in range(repeats):
        action = keys.new_action(obj, f"bench{r}")
        t0 = time.perf_counter()
        n = keys.write_keys(obj, action, channels)
        best = min(best, time.perf_counter() - t0)
    print(f"bulk keys: 55 bones x {T} frames ({n} keyframes, {len(channels) * 4 - 1} f-curves): "
          f"{best * 1000:.1f} ms (best of {repeats}; target <= 30 ms)")

    # Per-key insertion, the official add-on's way, on the same data (one run).
    keys.new_action(obj, "insert")
    t0 = time.perf_counter()
    for f in range(T):
        for j, name in enumerate(JOINT_NAMES):
            pb = obj.pose.bones[name]
            pb.rotation_quaternion = quats[f, j]
            pb.keyframe_insert("rotation_quaternion", frame=f + 1)
    print(f"keyframe_insert: 55 bones x {T} frames: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
