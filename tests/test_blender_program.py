"""tools/bake.py inside the Blender PROGRAM (`blender -b -P`), when one is on PATH.

CI has only the bpy module (skipped there); a developer machine with Debian's Blender 3.4
exercises the legacy animation API (`Action.fcurves`) for real, and the result is checked with
the bpy module against the core's forward kinematics."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from blender_helpers import REPO, bpy, reset
from motionprompt.files.formats import export, load_motion
from motionprompt.body.motion import Motion
from motionprompt.body.skeleton import BODY_JOINT_NAMES

from test_rep272 import synthetic_motion

BLENDER = shutil.which("blender")


@pytest.mark.skipif(BLENDER is None, reason="no Blender program on PATH (the bpy module tests cover the add-on)")
def test_blender_program_bakes_motion_files(tmp_path):
    local, root, pos = synthetic_motion(T=30, seed=2)
    src = tmp_path / "m.npy"
    export(Motion(local, root, joints=pos), "npy", src)
    out = tmp_path / "baked"
    p = subprocess.run([BLENDER, "-b", "--factory-startup", "--python-exit-code", "1", "-P", str(REPO / "tools" / "bake.py"),
                        "--", "--motion", str(src), "--out-dir", str(out), "--blend", "--no-previews"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    blend = next(out.glob("*/*.blend"))
    assert next(out.glob("*/*.fbx")).stat().st_size > 10_000
    joints = load_motion(src).joint_positions()
    reset()
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1, 30)
    for f in (0, 17, 29):
        scene.frame_set(1 + f)
        got = np.array([list(arm.matrix_world @ arm.pose.bones[n].head) for n in BODY_JOINT_NAMES])
        np.testing.assert_allclose(got, joints[f][:, [0, 2, 1]] * [1, -1, 1], atol=1e-4)
    reset()
