"""tools/bake.py: headless batch bake through the bpy module (fake generator injected by env var)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from blender_helpers import REPO, bpy, reset, synthetic_motion

from motionprompt.files.formats import export, load_motion

TESTS = REPO / "tests"


def _env():
    return dict(os.environ, MOTIONPROMPT_GENERATOR_FACTORY="fake_generator:make_generator",
                PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))


def test_bake_prompts_and_motion_files_resumable_bad_prompt_recorded(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# a comment\na person walks\nfail\n\na person waves\na person walks. Next, she waves\n",
                       encoding="utf-8")
    clip = tmp_path / "clip.npy"
    export(synthetic_motion(T=20, seed=3), "npy", clip)
    out = tmp_path / "baked"
    cmd = [sys.executable, str(REPO / "tools" / "bake.py"), "--", "--prompts", str(prompts), "--out-dir", str(out),
           "--motion", str(clip), "--fbx-preset", "unreal", "--blend", "--no-previews", "--seconds", "0.4",
           "--seed", "7", "--backend", "WORKER", "--compose"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert p.returncode == 1, p.stderr[-2000:]  # one prompt failed, the others were baked
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    status = {r["prompt"]: r["status"] for r in records}
    assert status["a person walks"] == status["a person waves"] == "done" and status["fail"] == "failed"
    assert status[f"motion:{clip.resolve()}"] == "done"
    walk = next(r for r in records if r["prompt"] == "a person walks")
    assert walk["seed"] == 7
    folder = out / walk["folder"]
    names = sorted(f.name for f in folder.iterdir())
    assert names == sorted(["0_predict.npy", "0_text.txt", "0_smplx.npz", "0_a person walks.fbx",
                            "0_a person walks.blend"])
    assert load_motion(folder / "0_predict.npy").num_frames == 12

    # the FBX holds every frame, in centimetres (Unreal)
    reset()
    bpy.context.scene.render.fps = 30
    bpy.ops.import_scene.fbx(filepath=str(folder / "0_a person walks.fbx"))
    arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    assert tuple(arm.animation_data.action.frame_range) == (2.0, 13.0)
    assert abs(arm.scale[0] - 0.01) < 1e-6

    # a composed prompt: its actions in the manifest, and as pose markers in the .blend
    two = next(r for r in records if r["prompt"] == "a person walks. Next, she waves")
    assert [g["text"] for g in two["segments"]] == ["a person walks", "she waves"] and "segments" not in walk
    blend = next((out / two["folder"]).glob("*.blend"))
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    marks = sorted((m.frame, m.name) for a in bpy.data.actions for m in a.pose_markers)
    assert marks == [(1, "a person walks"), (1 + round(two["segments"][1]["start"] * 30), "she waves")]

    # resume: nothing done is redone; the failed prompt is tried again (and fails again)
    p2 = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=_env(), timeout=300)
    assert p2.returncode == 1
    assert p2.stdout.count("skip (done)") == 4
    assert len([line for line in (out / "manifest.jsonl").read_text().splitlines()]) == len(records) + 1
