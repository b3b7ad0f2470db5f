"""tools/bake.py: headless batch bake through the bpy module (fake generator injected by env var)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

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


def _bake_in_process(argv):
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import bake
    finally:
        sys.path.remove(str(REPO / "tools"))
    return bake.main(argv)


def test_bake_onto_a_users_rig_from_blend_and_fbx(tmp_path):
    """--rig: a Mixamo-style rig saved as a .blend and as a character .fbx; every take keyed on
    it and exported; the FBX re-imports with the rig's own bones moving as the source does."""
    import rig_builders
    from test_blender_retarget import _measure, _walk

    from motionprompt.body.motion import Motion

    reset()
    rig = rig_builders.build_mixamo()
    blend = tmp_path / "hero.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    bpy.ops.export_scene.fbx(filepath=str(tmp_path / "hero.fbx"), object_types={"ARMATURE"}, add_leaf_bones=False)
    props = {p: rig[p] for p in ("rig_kind", "rig_bone_prefix", "rig_world_units_per_metre")}
    clip = tmp_path / "clip.npy"
    export(_walk(), "npy", clip)
    for src in (blend, tmp_path / "hero.fbx"):
        out = tmp_path / f"baked_{src.suffix[1:]}"
        assert _bake_in_process(["--motion", str(clip), "--out-dir", str(out), "--rig", str(src),
                                 "--fbx-preset", "blender", "--no-previews"]) == 0
        rec = json.loads((out / "manifest.jsonl").read_text())
        assert rec["status"] == "done" and rec["settings"]["rig"] == str(src.resolve())
        reset()
        bpy.context.scene.render.fps = 30
        bpy.ops.import_scene.fbx(filepath=str(out / rec["folder"] / "0_clip.fbx"))
        arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
        assert any(b.name == "mixamorig:LeftForeArm" for b in arm.data.bones)
        for prop, value in props.items():
            arm[prop] = value
        keyed = load_motion(clip)  # what was keyed: the 272 frames, as the file holds them
        m = _measure(arm, Motion(keyed.rotations, keyed.root_translation, rest=keyed.rest_offsets()), frame0=2)
        assert max(v for k, v in m.items() if k not in ("clearance", "slide")) <= 2.0, m
        assert m["clearance"] < 0.01 and m["slide"] <= 0.005, (src.suffix, m)


def test_bake_rig_errors_name_the_file_and_exit_2(tmp_path, capsys):
    import rig_builders

    clip = tmp_path / "clip.npy"
    export(synthetic_motion(T=8, seed=1), "npy", clip)
    base = ["--motion", str(clip), "--out-dir", str(tmp_path / "out")]
    assert _bake_in_process(base + ["--rig", str(tmp_path / "missing.blend")]) == 2
    assert "missing.blend" in capsys.readouterr().err
    reset()
    rig_builders.build_mixamo()
    rig_builders.build_vrm()
    two = tmp_path / "two.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(two), copy=True)
    assert _bake_in_process(base + ["--rig", str(two)]) == 2
    err = capsys.readouterr().err
    assert "2 armatures" in err and "--rig-object" in err
    assert _bake_in_process(base + ["--rig", str(two), "--rig-object", "Nope"]) == 2
    assert "Nope" in capsys.readouterr().err
    assert _bake_in_process(base + ["--rig", str(two), "--rig-object", "Mixamo", "--bone-map", "klingon"]) == 2
    assert "klingon" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads child processes from /proc")
def test_bake_stopped_by_sigterm_leaves_nothing_half_done_and_resume_finishes(tmp_path):
    """SIGTERM mid-bake (a render farm's job limit, ``kill``): exit 143 with one line naming
    --resume, its worker ended with it, no .part file and no folder left marked incomplete
    beside the done ones; --resume then bakes each prompt exactly once."""
    prompts = ["a person walks", "a person waves", "a person jumps", "a person sits down"]
    pf = tmp_path / "prompts.txt"
    pf.write_text("\n".join(prompts) + "\n", encoding="utf-8")
    out = tmp_path / "baked"
    cmd = [sys.executable, str(REPO / "tools" / "bake.py"), "--", "--prompts", str(pf), "--out-dir", str(out),
           "--no-previews", "--seconds", "1", "--seed", "7", "--backend", "WORKER", "--batch-size", "1"]
    env = dict(_env(), FAKE_STEP_SECONDS="0.06")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if manifest.is_file() and manifest.read_text().count('"done"') >= 1:
            break
        time.sleep(0.02)
    assert p.poll() is None, "the bake ended before it could be stopped"
    workers = _children(p.pid)
    assert workers, "the bake runs no worker process"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, (p.returncode, err[-2000:])
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "SIGTERM" in last and "--resume" in last, last
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "the worker outlived the bake"
    assert not [f for f in out.rglob("*") if ".part" in f.name]
    done = [json.loads(x) for x in manifest.read_text().splitlines() if '"done"' in x]
    assert 1 <= len(done) < len(prompts)

    again = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=_env(), timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    recs = [json.loads(x) for x in manifest.read_text().splitlines()]
    finished = [r["prompt"] for r in recs if r["status"] == "done"]
    assert sorted(finished) == sorted(prompts)
    folders = sorted(f.name for f in out.iterdir() if f.is_dir())
    assert folders == sorted(r["folder"] for r in recs if r["status"] == "done")
    assert not list(out.rglob(".incomplete")) and not [f for f in out.rglob("*") if ".part" in f.name]


def test_bake_gives_its_batch_size_and_offload_to_the_backend(tmp_path, monkeypatch):
    """--batch-size and --offload-text-encoder (as motionprompt batch) reach the generator: groups
    of that many prompts, from a model loaded with its text encoder offloaded; a bad size is
    exit 2 naming the option, with nothing written."""
    from blender_addon import backend

    monkeypatch.setenv("MOTIONPROMPT_GENERATOR_FACTORY", "fake_generator:make_generator")
    seen = []
    real = backend.get_backend

    def spy(*args, **kw):
        be = real(*args, **kw)
        run_sync = be.run_sync

        def recorded(request, *a, **k):
            reply = run_sync(request, *a, **k)
            seen.append((len(request.prompts), request.batch_size, be.offload,
                         {item["source"] for item in reply["motions"]}))
            return reply

        be.run_sync = recorded
        return be

    monkeypatch.setattr(backend, "get_backend", spy)
    pf = tmp_path / "prompts.txt"
    pf.write_text("a person walks\na person waves\na person jumps\n", encoding="utf-8")
    base = ["--prompts", str(pf), "--no-previews", "--seconds", "0.4", "--backend", "IN_PROCESS"]
    assert _bake_in_process(base + ["--out-dir", str(tmp_path / "out"), "--batch-size", "2",
                                    "--offload-text-encoder"]) == 0
    assert seen == [(2, 2, True, {"fake-demo+offload"}), (1, 2, True, {"fake-demo+offload"})]
    bad = tmp_path / "bad"
    assert _bake_in_process(base + ["--out-dir", str(bad), "--batch-size", "0"]) == 2
    assert not bad.exists()


def _joint_angles(motion, frames: int) -> np.ndarray:
    """(frames, 6) degrees at the knees, elbows and hips (between each joint's two segments):
    the pose, whatever way the body faces."""
    P = motion.joint_positions()[:frames]
    out = []
    for a, b, c in ((1, 4, 7), (2, 5, 8), (16, 18, 20), (17, 19, 21), (0, 1, 4), (0, 2, 5)):
        u, v = P[:, a] - P[:, b], P[:, c] - P[:, b]
        cos = np.einsum("ti,ti->t", u, v) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, axis=1)


def test_bake_continues_an_animation_from_a_blend_or_an_fbx(tmp_path, monkeypatch, capsys):
    """--continue-from ANIMATION.blend|.fbx:FRAME, an animator's own clip (a walk keyed on a
    Mixamo rig): every baked take is that clip, read back in Blender up to FRAME (knees, elbows
    and hips within 1 degree), then the new motion; the clip read is kept beside the manifest;
    a FRAME past the clip's end, or a file with no animation, exits 2 naming it, leaving no file; the command line refuses such a file, naming
    tools/bake.py."""
    import rig_builders
    from test_blender_retarget import _walk

    from blender_addon import keys
    from motionprompt.app.cli import main as cli

    monkeypatch.setenv("MOTIONPROMPT_GENERATOR_FACTORY", "fake_generator:make_generator")
    walk = _walk()
    reset()
    obj = rig_builders.build_mixamo()
    bpy.context.view_layer.objects.active = obj
    keys.apply_motion(obj, walk, name="my walk")
    blend, fbx = tmp_path / "hero.blend", tmp_path / "hero.fbx"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    bpy.ops.export_scene.fbx(filepath=str(fbx), object_types={"ARMATURE"}, add_leaf_bones=False)
    pf = tmp_path / "prompts.txt"
    pf.write_text("a person waves\n", encoding="utf-8")
    want = _joint_angles(walk, 40)
    for src in (blend, fbx):
        out = tmp_path / f"out_{src.suffix[1:]}"
        assert _bake_in_process(["--prompts", str(pf), "--out-dir", str(out), "--continue-from", f"{src}:40",
                                 "--no-previews", "--seconds", "1", "--backend", "IN_PROCESS"]) == 0
        rec = json.loads((out / "manifest.jsonl").read_text())
        assert rec["status"] == "done"
        kept = list(out.glob("continue_hero_*.npz"))
        assert len(kept) == 1 and rec["settings"]["continue_from"] == f"{kept[0].resolve()}:40"
        baked = load_motion(out / rec["folder"] / "0_predict.npy")
        assert baked.num_frames == 40 + 30
        assert np.abs(_joint_angles(baked, 40) - want).max() < 1.0, src.suffix

    late = tmp_path / "late"  # the clip has 90 frames at 30 fps
    assert _bake_in_process(["--prompts", str(pf), "--out-dir", str(late), "--continue-from", f"{fbx}:95"]) == 2
    assert "95" in capsys.readouterr().err and not late.exists()
    reset()
    bare = tmp_path / "bare.blend"
    rig_builders.build_mixamo()
    bpy.ops.wm.save_as_mainfile(filepath=str(bare), copy=True)
    capsys.readouterr()
    assert _bake_in_process(["--prompts", str(pf), "--out-dir", str(tmp_path / "bad"), "--continue-from",
                             str(bare)]) == 2
    assert "bare.blend" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert cli(["generate", "a person waves", "--continue-from", f"{fbx}:40", "--out-dir", str(tmp_path / "c")]) == 2
    assert "tools/bake.py" in capsys.readouterr().err and not (tmp_path / "c").exists()
