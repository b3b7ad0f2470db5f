"""The post-processing stage: its steps, and ONE ``postprocess.apply`` called by every front end
(the CLI's generate and export, the worker, tools/bake.py and the Blender add-on)."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
from pathlib import Path

import numpy as np
import pytest
from test_rep272 import synthetic_motion

from motionprompt import postprocess
from motionprompt.body.motion import Motion
from motionprompt.files.formats import export, load_motion

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _motion(T=31):
    local, root, pos = synthetic_motion(T=T)
    return Motion(local, root, joints=pos, prompt="p")


def test_steps_run_in_order_and_identity_is_free():
    m = _motion()
    assert postprocess.apply(m, None) is m and postprocess.apply(m, postprocess.PostProcess()) is m
    out = postprocess.apply(m, postprocess.PostProcess(fps=24, root="in_place"))
    assert out.fps == 24 and out.num_frames == 25
    np.testing.assert_allclose(out.root_translation[:, [0, 2]], np.broadcast_to(m.root_translation[0, [0, 2]], (25, 2)))
    want = postprocess.resample(postprocess.in_place(m), 24)
    np.testing.assert_allclose(out.rotations, want.rotations)
    np.testing.assert_allclose(out.root_translation, want.root_translation)
    np.testing.assert_allclose(out.rest_offsets(), m.rest_offsets())  # the skeleton survives every step
    with pytest.raises(postprocess.PostProcessError, match="fps"):
        postprocess.PostProcess(fps=float("nan")).validate()
    with pytest.raises(postprocess.PostProcessError, match="root"):
        postprocess.PostProcess(root="drift").validate()


def test_lerp_resample_matches_numpy_interp():
    a = np.random.default_rng(1).normal(size=(17, 4, 3))
    got = postprocess.timing.lerp_resample(a, 30, 24)
    t = np.arange(got.shape[0]) * 30 / 24
    want = np.stack([np.interp(t, np.arange(17), a[:, i, k]) for i in range(4) for k in range(3)], 1).reshape(-1, 4, 3)
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.fixture
def spy(monkeypatch):
    """Records which file called ``postprocess.apply`` (and still runs it)."""
    real = postprocess.apply
    callers: list[str] = []

    def apply(motion, post=None):
        callers.append(Path(inspect.stack()[1].filename).name)
        return real(motion, post)

    monkeypatch.setattr(postprocess, "apply", apply)
    return callers


def test_cli_generate_and_export_go_through_the_stage(spy, model_toml, tmp_path):
    from motionprompt.app.cli import main

    assert main(["generate", "a person waves", "--model", str(model_toml), "--seconds", "1", "--seed", "1",
                 "--fps", "24", "--out-dir", str(tmp_path), "--exp-name", "g", "--no-preview"]) == 0
    assert spy == ["batch.py"]
    rec = json.loads((tmp_path / "g" / "manifest.jsonl").read_text())
    x = np.load(tmp_path / "g" / rec["folder"] / "0_predict.npy")
    assert rec["frames"] == x.shape[0]
    src = tmp_path / "m.npy"
    export(_motion(), "npy", src)
    assert main(["export", str(src), "--to", "bvh", "--out-fps", "24", "--in-place", "-o", str(tmp_path / "m.bvh")]) == 0
    assert spy == ["batch.py", "cli.py"]
    assert "Frame Time: 0.041667" in (tmp_path / "m.bvh").read_text()


def test_worker_goes_through_the_stage(spy, tmp_path):
    from fake_generator import make_generator

    from motionprompt.app.worker import Worker

    worker = Worker(make_generator("demo", "cpu"), send=lambda msg: None)
    reply = worker.run_job({"cmd": "generate", "id": "w1", "prompts": ["walk"], "seconds": 1.0, "fps": 24,
                            "out_dir": str(tmp_path)})
    assert reply["type"] == "result" and spy == ["worker.py"]
    item = reply["motions"][0]
    assert item["fps"] == 24 and load_motion(item["path"], fps=24).num_frames == item["frames"] == 24  # 30 frames at 30 fps


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs the bpy module")
def test_bake_and_the_addon_go_through_the_stage(spy, tmp_path, monkeypatch):
    import sys

    import bpy

    monkeypatch.setenv("MOTIONPROMPT_GENERATOR_FACTORY", "fake_generator:make_generator")
    monkeypatch.syspath_prepend(str(REPO / "tools"))
    import bake

    prompts = tmp_path / "p.txt"
    prompts.write_text("a person walks\n", encoding="utf-8")
    rc = bake.main(["--prompts", str(prompts), "--out-dir", str(tmp_path / "baked"), "--seconds", "0.4",
                    "--no-previews", "--backend", "IN_PROCESS", "--root-motion", "none"])
    assert rc == 0
    assert "batch.py" in spy and "worker.py" in spy  # bake's job loop, and the in-process worker
    spy.clear()

    import blender_addon
    from blender_addon import preferences

    monkeypatch.setattr(preferences._Defaults, "results_dir", str(tmp_path / "results"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        src = tmp_path / "clip.npy"
        export(_motion(), "npy", src)
        bpy.context.scene.motionprompt.fps_mode = "RESAMPLE"
        bpy.context.scene.render.fps = 24
        assert bpy.ops.motionprompt.load_motion(filepath=str(src)) == {"FINISHED"}
        assert spy == ["results.py"]
        assert tuple(bpy.context.active_object.animation_data.action.frame_range) == (1.0, 25.0)
    finally:
        blender_addon.unregister()
    sys.modules.pop("bake", None)


def test_loop_and_path_through_the_cli(model_toml, tmp_path, capsys):
    from motionprompt.app.cli import main

    path = tmp_path / "line.json"
    path.write_text(json.dumps([[0, 0], [0.5, 1.0]]))
    assert main(["generate", "a person walks", "--model", str(model_toml), "--seconds", "3", "--seed", "2",
                 "--loop", "--path", str(path), "--out-dir", str(tmp_path), "--exp-name", "lp", "--no-preview"]) == 0
    rec = json.loads((tmp_path / "lp" / "manifest.jsonl").read_text())
    assert rec["settings"]["loop"] == 0.0 and rec["settings"]["path"] == str(path)
    bad = tmp_path / "bad.csv"
    bad.write_text("0,0\n")
    assert main(["generate", "a person walks", "--path", str(bad), "--out-dir", str(tmp_path / "x")]) == 2
    assert "--path" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["generate", "a person walks", "--loop", "-1", "--out-dir", str(tmp_path / "x")]) == 2


def test_lock_strength_scales_the_correction(model_toml, tmp_path, capsys):
    """--lock-strength: half strength moves the planted feet about half way to their pins (the
    median ankle offset from the unlocked motion halves); out of [0, 1] exits 2 naming it."""
    from motionprompt.app.cli import main
    from motionprompt_demo import synth

    R, root, joints = synth.render(synth.make_action("walk_forward", {"duration": 3.0, "speed": "slow"}))
    t = np.arange(len(R)) / 30.0
    m = Motion(R, root + np.stack([0.05 * np.sin(4 * t), 0 * t, 0 * t], axis=1), joints=None)
    ankles = lambda x: x.joint_positions()[:, [7, 8]]  # noqa: E731
    full = postprocess.apply(m, postprocess.PostProcess(foot_lock="toes"))
    half = postprocess.apply(m, postprocess.PostProcess(foot_lock="toes", lock_strength=0.5))
    d_full = np.linalg.norm(ankles(full) - ankles(m), axis=-1)
    d_half = np.linalg.norm(ankles(half) - ankles(m), axis=-1)
    moved = d_full > 0.01
    assert moved.any() and abs(np.median(d_half[moved] / d_full[moved]) - 0.5) < 0.1
    assert main(["generate", "a person walks", "--foot-lock", "toes", "--lock-strength", "2",
                 "--out-dir", str(tmp_path / "x")]) == 2
    assert "--lock-strength" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["generate", "a person walks", "--model", str(model_toml), "--seconds", "2", "--seed", "1",
                 "--foot-lock", "toes", "--lock-strength", "0.5", "--out-dir", str(tmp_path), "--exp-name", "s",
                 "--no-preview"]) == 0
    assert json.loads((tmp_path / "s" / "manifest.jsonl").read_text())["settings"]["lock_strength"] == 0.5
