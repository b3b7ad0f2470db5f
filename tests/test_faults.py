"""The fault suite (issue #13): every way a new or hostile user broke the promise "nothing lost,
nothing duplicated, a clear error instead of a traceback", reproduced from the user's side.

Mostly the real command line in a child process (``python -m motionprompt``); in-process
``cli.main`` where a child would only add seconds. Each case asserts what the user sees (exit
status, a message naming the file or option) and what stays on disk (no ``.part`` file, no
``.incomplete`` folder after ``--resume``, every prompt done exactly once). A full disk is a real
700 KB tmpfs when running as root (else a writer patched to raise ENOSPC); the two Blender
sessions run the add-on through the ``bpy`` module (skipped without it).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from motionprompt.app.cli import main
from motionprompt.body.motion import Motion
from motionprompt.body.rotations import axis_angle_to_matrix

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "core"), str(TESTS), os.environ.get("PYTHONPATH", "")]),
           PYTHONUNBUFFERED="1")
PROMPTS = ["a person walks forward", "a person jumps", "a person waves with the right hand", "a person squats",
           "a person claps", "a person kicks", "a person bows", "a person runs"]


# --------------------------------------------------------------------------------------------- helpers

def _cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "motionprompt", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def _popen(*args, **kw) -> subprocess.Popen:
    # SIGINT as a terminal gives it (a child of a background job may start with it ignored)
    return subprocess.Popen([sys.executable, "-m", "motionprompt", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


def _one_line_error(err: str, *names: str) -> None:
    """A clean message: no traceback, the last line names each of ``names``."""
    assert "Traceback" not in err and "Exception ignored" not in err, err
    last = err.strip().splitlines()[-1]
    for name in names:
        assert name in last, (name, last)


def _parts(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".part" in p.name]


def _prompt_file(folder: Path, prompts, name="prompts.txt") -> Path:
    path = folder / name
    path.write_text("\n".join(prompts) + "\n", encoding="utf-8")
    return path


def _assert_each_done_once(run: Path, prompts) -> None:
    """Every prompt done exactly once, in a folder of its own; no folder left incomplete or unowned;
    no temporary file anywhere."""
    recs = [json.loads(line) for line in (run / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if line]
    done = [r for r in recs if r["status"] == "done"]
    counts = collections.Counter(r["prompt"] for r in done)
    assert counts == collections.Counter(prompts), counts
    folders = sorted(p.name for p in run.iterdir() if p.is_dir())
    assert folders == sorted(r["folder"] for r in done), (folders, [r["folder"] for r in done])
    for r in done:
        assert (run / r["folder"] / "0_predict.npy").is_file()
        assert (run / r["folder"] / "0_text.txt").read_text(encoding="utf-8").strip() == r["prompt"]
    assert not list(run.rglob(".incomplete")) and not _parts(run)


def _long_motion(T: int) -> Motion:
    """A walking-like motion of T frames (30 fps) that any exporter accepts."""
    t = np.linspace(0.0, T / 30.0, T)
    aa = np.zeros((T, 22, 3))
    aa[:, 1, 0], aa[:, 2, 0] = 0.5 * np.sin(3 * t), -0.5 * np.sin(3 * t)
    aa[:, 0, 1] = 0.1 * t
    root = np.stack([np.sin(0.3 * t), np.full(T, 0.9), 0.5 * t], axis=1)
    return Motion(axis_angle_to_matrix(aa), root, fps=30.0, prompt="a long walk")


@contextlib.contextmanager
def _tmpfs(path: Path, size: str, *options: str):
    """A tmpfs of ``size`` mounted at ``path`` (yields it), or None when not root / mount fails."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield None
        return
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join((f"size={size}",) + options), "tmpfs", str(path)],
                       capture_output=True)
    if r.returncode != 0:
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# --------------------------------------------------------------------------------------------- batch bookkeeping

def test_disk_full_mid_batch_then_resume_does_every_prompt_once(tmp_path, monkeypatch, capsys):
    """700 KB: the jobs that fit are done once, the first that does not is failed (exit 2: free
    space, then --resume); no partial file; after more space --resume finishes the rest."""
    prompts = PROMPTS[:4]
    pf = _prompt_file(tmp_path, prompts)
    with _tmpfs(tmp_path / "disk", "700k") as disk:
        args = ["batch", pf, "--model", "demo", "--seconds", "2", "--seed", "1", "--no-preview"]
        mounted = disk is not None
        if mounted:
            first = _cli(*args, "--out-dir", disk)
            rc, err = first.returncode, first.stderr
        else:  # not root: the same batch with its npz writer out of space from the third job on
            from motionprompt.files import formats

            real, calls = formats._save_npz, []

            def full_after_two(path, arrays):
                calls.append(path)
                if len(calls) > 2:
                    _enospc()
                real(path, arrays)

            disk = tmp_path / "disk"
            monkeypatch.setattr(formats, "_save_npz", full_after_two)
            rc = main([str(a) for a in args] + ["--out-dir", str(disk)])
            err = capsys.readouterr().err
            monkeypatch.setattr(formats, "_save_npz", real)
        run = disk / "prompts"
        assert rc == 2
        _one_line_error(err, f"--out-dir {disk}", "no space left", "--resume")
        recs = [json.loads(x) for x in (run / "manifest.jsonl").read_text().splitlines()]
        done = [r["prompt"] for r in recs if r["status"] == "done"]
        assert 1 <= len(done) < 4 and len(set(done)) == len(done) and not _parts(disk)
        if mounted:  # more space, then the same command with --resume
            assert subprocess.run(["mount", "-o", "remount,size=8m", str(disk)]).returncode == 0
            again = _cli(*args, "--out-dir", disk, "--resume")
            assert again.returncode == 0, again.stderr
        else:
            assert main([str(a) for a in args] + ["--out-dir", str(disk), "--resume"]) == 0
        _assert_each_done_once(run, prompts)


def test_a_manifest_that_cannot_be_written_is_one_line(model_toml, tmp_path, monkeypatch, capsys):
    """The disk full at the manifest line itself (the job's own record and its failure record)."""
    from motionprompt.app.rundir import RunDir

    monkeypatch.setattr(RunDir, "finish", _enospc)
    pf = _prompt_file(tmp_path, PROMPTS[:2], "p.txt")
    assert main(["batch", str(pf), "--model", str(model_toml), "--seconds", "1", "--no-preview",
                 "--out-dir", str(tmp_path / "out")]) == 2
    _one_line_error(capsys.readouterr().err, "manifest.jsonl", "No space left", "--resume")
    assert not _parts(tmp_path / "out")


@pytest.mark.parametrize("sig, resumers", [(signal.SIGKILL, 2), (signal.SIGTERM, 1)],
                         ids=["SIGKILL-2-resumes", "SIGTERM"])
def test_batch_killed_midway_then_resume_does_every_prompt_once(tmp_path, sig, resumers):
    """A batch killed after two prompts; then ``--resume`` (two of them at once after SIGKILL:
    one works, the other exits 2 naming the holder, or finds it all done): every prompt once."""
    prompts = PROMPTS[:5]
    pf = _prompt_file(tmp_path, prompts)
    args = ["batch", pf, "--model", "demo", "--seconds", "1", "--seed", "3", "--batch-size", "1", "--no-preview",
            "--out-dir", tmp_path / "out"]
    run = tmp_path / "out" / "prompts"
    p = _popen(*args)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and p.poll() is None:
        manifest = run / "manifest.jsonl"
        if manifest.is_file() and manifest.read_text().count('"done"') >= 2:
            break
        time.sleep(0.02)
    assert p.poll() is None, "the batch ended before it could be killed"
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == -sig or p.returncode == 128 + sig, (p.returncode, err)
    if sig == signal.SIGTERM:  # a clean stop: nothing half-written, the way to finish named
        assert p.returncode == 143 and not _parts(run)
        _one_line_error(err, "SIGTERM", "--resume")
    done_before = [json.loads(x)["prompt"] for x in (run / "manifest.jsonl").read_text().splitlines()
                   if '"done"' in x]
    assert 2 <= len(done_before) < 5

    procs = [_popen(*args, "--resume") for _ in range(resumers)]
    outs = [q.communicate(timeout=120) for q in procs]
    codes = [q.returncode for q in procs]
    assert 0 in codes and set(codes) <= {0, 2}, (codes, [e for _, e in outs])
    for q, (_, e) in zip(procs, outs):
        if q.returncode == 2:
            _one_line_error(e, "--resume", "being resumed by pid")
    _assert_each_done_once(run, prompts)


def test_resume_with_changed_settings_and_an_unusable_rewrite_model(model_toml, tmp_path, capsys):
    pf = _prompt_file(tmp_path, PROMPTS[:1], "p.txt")
    base = ["batch", str(pf), "--model", str(model_toml), "--seed", "1", "--out-dir", str(tmp_path), "--no-preview"]
    assert main(base + ["--seconds", "1"]) == 0
    capsys.readouterr()
    assert main(base + ["--seconds", "2", "--resume"]) == 2
    _one_line_error(capsys.readouterr().err, "--resume", "seconds: 1.0 -> 2.0", "--allow-changed-settings")
    _assert_each_done_once(tmp_path / "p", PROMPTS[:1])
    assert main(["generate", "a man walks", "--model", str(model_toml), "--seconds", "1", "--no-preview",
                 "--use-rewrite-model", "--rewrite-model-path", str(tmp_path / "no_model"),
                 "--out-dir", str(tmp_path / "rw")]) == 0
    err = capsys.readouterr().err
    assert "rewrite model not available" in err and "no_model" in err
    rec = json.loads((tmp_path / "rw" / "generate" / "manifest.jsonl").read_text())
    assert rec["settings"]["rewrite"].startswith("not used")


# --------------------------------------------------------------------------------------------- silent wrong data

def test_a_nan_checkpoint_fails_by_name_and_writes_nothing(model_toml, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    from motionprompt.models.model_spec import ModelSpec

    spec = ModelSpec.load(model_toml)
    state = load_file(str(spec.lm_checkpoint))
    key = next(k for k, t in state.items() if t.is_floating_point())
    state[key] = torch.full_like(state[key], float("nan"))
    save_file(state, str(tmp_path / "lm_nan.safetensors"))
    bad = spec.replace(lm_checkpoint=tmp_path / "lm_nan.safetensors").write(tmp_path / "nan.toml")
    r = _cli("generate", "a person waves", "--model", bad, "--seconds", "1", "--out-dir", tmp_path / "out")
    assert r.returncode == 2
    _one_line_error(r.stderr, "lm_nan.safetensors", "NaN")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.npy"))


class _Worker:
    """``python -m motionprompt.app.worker`` as the add-on runs it (the fake generator injected)."""

    def __init__(self):
        env = dict(ENV, MOTIONPROMPT_GENERATOR_FACTORY="fake_generator:make_generator")
        self.p = subprocess.Popen([sys.executable, "-m", "motionprompt.app.worker", "--model", "demo"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  bufsize=1, env=env)

    def ask(self, until, **msg):
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()
        while True:
            line = self.p.stdout.readline()
            assert line, self.p.stderr.read()
            reply = json.loads(line)
            if until(reply):
                return reply

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)


def test_worker_same_id_twice_and_a_cancel_before_the_job(tmp_path):
    """Two sessions' "g1" and a repeated id keep their own files; a cancel for an id that is not
    running does not cancel the job that later takes that id."""
    paths = []
    for session in range(2):
        w = _Worker()
        try:
            for seed in (1, 2):
                r = w.ask(lambda m: m.get("id") == "g1" and m["type"] not in ("progress", "ready"), cmd="generate",
                          id="g1", prompts=["walk"], seconds=0.4, seeds=[seed + 10 * session], out_dir=str(tmp_path))
                assert r["type"] == "result", r
                paths.append(r["motions"][0]["path"])
            w.p.stdin.write(json.dumps({"cmd": "cancel", "id": "g9"}) + "\n")
            r = w.ask(lambda m: m.get("id") == "g9" and m["type"] not in ("progress", "ready"), cmd="generate",
                      id="g9", prompts=["walk"], seconds=0.4, out_dir=str(tmp_path))
            assert r["type"] == "result", r
            paths.append(r["motions"][0]["path"])
        finally:
            w.close()
    assert len(set(paths)) == 6 and sorted(tmp_path.glob("*.npy")) == sorted(map(Path, paths))
    frames = [np.load(p) for p in paths]
    assert len({f.tobytes() for f in frames[:2] + frames[3:5]}) == 4  # four seeds, four motions


def test_two_blender_sessions_sharing_a_results_folder(tmp_path, monkeypatch):
    """Session 1 generates and saves its .blend; session 2 (request ids from g1 again, the same
    results folder) generates another motion; the reopened first .blend exports its own motion."""
    bpy = pytest.importorskip("bpy")
    import itertools

    sys.path.insert(0, str(REPO))
    monkeypatch.setenv("MOTIONPROMPT_GENERATOR_FACTORY", "fake_generator:make_generator")
    monkeypatch.setenv("PYTHONPATH", ENV["PYTHONPATH"])
    import blender_addon
    from blender_addon import backend, history, preferences

    results = tmp_path / "results"
    monkeypatch.setattr(preferences._Defaults, "results_dir", str(results))
    monkeypatch.setattr(preferences._Defaults, "backend", "WORKER")

    def session(prompt, seconds, seed):
        backend.shutdown_backend()
        monkeypatch.setattr(backend, "_ids", itertools.count(1))  # a fresh Blender counts from g1
        bpy.ops.wm.read_factory_settings(use_empty=True)
        s = bpy.context.scene.motionprompt
        s.prompt, s.seconds, s.seed = prompt, seconds, seed
        assert bpy.ops.motionprompt.generate() == {"FINISHED"}
        action = bpy.context.active_object.animation_data.action
        return action.name, np.load(action[history.PROPS["file"]])

    blender_addon.register()
    try:
        name1, walk = session("walks forward, then waves", 0.9, 1)
        blend = tmp_path / "session1.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))
        _, squat = session("a person squats", 0.6, 2)
        assert len(list(results.glob("*.npy"))) == 2 and len(walk) != len(squat)
        backend.shutdown_backend()
        bpy.ops.wm.open_mainfile(filepath=str(blend))
        obj = bpy.context.active_object
        assert obj.animation_data.action.name == name1
        out = tmp_path / "from_session1.npy"
        assert bpy.ops.motionprompt.export(filepath=str(out), format="NPY") == {"FINISHED"}
        got = np.load(out)
        assert got.shape == walk.shape and np.array_equal(got, walk)  # the walk, not the squat
    finally:
        backend.shutdown_backend()
        blender_addon.unregister()


# --------------------------------------------------------------------------------------------- clear errors

@pytest.fixture
def motion_file(tmp_path) -> Path:
    path = tmp_path / "walk.npy"
    np.save(path, _long_motion(60).to_272().astype(np.float32))
    return path


def _bad_inputs(d: Path) -> dict:
    np.save(d / "zeros.npy", np.zeros((30, 272), np.float32))
    np.save(d / "ints.npy", np.zeros((30, 272), np.int64))
    np.save(d / "complex.npy", np.ones((30, 272), np.complex64))
    good = dict(poses=np.zeros((10, 165)), trans=np.zeros((10, 3)))
    np.savez(d / "fps0.npz", mocap_frame_rate=np.array(0.0), **good)
    np.savez(d / "fpstext.npz", mocap_frame_rate=np.array("fast"), **good)
    np.savez(d / "pelvis.npz", rest_pelvis=np.zeros(2), **good)
    return {"zeros.npy": "rotation channels are zero", "ints.npy": "rotation channels are zero",
            "complex.npy": "expected real numbers", "fps0.npz": "mocap_frame_rate", "fpstext.npz": "mocap_frame_rate",
            "pelvis.npz": "rest_pelvis"}


def test_export_of_files_that_are_no_motion_and_bad_options(tmp_path, motion_file, capsys):
    for name, words in _bad_inputs(tmp_path).items():
        assert main(["export", str(tmp_path / name), "--to", "bvh", "-o", str(tmp_path / "o.bvh")]) == 2, name
        _one_line_error(capsys.readouterr().err, name, words)
    for fps in ("0", "-5"):
        assert main(["export", str(motion_file), "--to", "bvh", "--fps", fps, "-o", str(tmp_path / "o.bvh")]) == 2
        _one_line_error(capsys.readouterr().err, "--fps")
    # several formats are several files: -o must be a folder
    r = _cli("export", motion_file, "--to", "npy,bvh", "-o", tmp_path / "x.npy")
    assert r.returncode == 2
    _one_line_error(r.stderr, "-o", "x.npy", "folder")
    assert not (tmp_path / "o.bvh").exists() and not (tmp_path / "x.npy").exists()
    r = _cli("export", motion_file, "--to", "npy,bvh", "-o", tmp_path / "both")
    assert r.returncode == 0 and sorted(p.name for p in (tmp_path / "both").iterdir()) == ["walk.bvh", "walk.npy"]


def test_disk_full_during_export_is_one_clean_line(tmp_path, monkeypatch, capsys):
    """npz into a full disk: one line naming the file, no 'Exception ignored in ZipFile.__del__',
    nothing left behind."""
    src = tmp_path / "long.npy"
    np.save(src, _long_motion(2000).to_272().astype(np.float32))  # its npz is 2.8 MB
    with _tmpfs(tmp_path / "disk", "700k") as disk:
        if disk is not None:
            r = _cli("export", src, "--to", "npz", "-o", disk / "x.npz")
            rc, err, where = r.returncode, r.stderr, disk
        else:
            where = tmp_path / "disk"
            monkeypatch.setattr(np.lib.format, "write_array", _enospc)
            rc = main(["export", str(src), "--to", "npz", "-o", str(where / "x.npz")])
            err = capsys.readouterr().err
        assert rc == 2
        _one_line_error(err, "x.npz", "No space left", "-o")
        assert not list(where.iterdir())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_huge_preview_warns_shows_progress_and_leaves_no_part_file_when_stopped(tmp_path, sig):
    src = tmp_path / "huge.npy"
    np.save(src, _long_motion(21_000).to_272().astype(np.float32))
    out = tmp_path / "out"
    out.mkdir()
    p = _popen("export", src, "--to", "gif", "-o", out / "huge.gif", "--preview-size", "320")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None and not _parts(out):
        time.sleep(0.02)
    time.sleep(0.5)  # frames are being written into the .part file
    assert p.poll() is None and _parts(out), "the render ended before it could be stopped"
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, (p.returncode, err)
    assert not list(out.iterdir())  # neither the GIF nor its hidden .part file
    assert "21000 frames" in err and "--preview-size" in err and "--trim" in err  # said before it started
    assert "frame/s" in err or "frame]" in err  # the progress bar
    _one_line_error(err, sig.name, "no partial file")


def test_unwritable_or_file_out_dir_for_generate_batch_and_bake(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    pf = _prompt_file(tmp_path, PROMPTS[:1], "p.txt")
    with _tmpfs(tmp_path / "ro", "64k", "ro") as ro:
        if ro is None and os.geteuid() != 0:
            ro = tmp_path / "ro"
            ro.chmod(0o500)
        targets = [a_file, a_file / "sub"] + ([ro / "out"] if ro is not None else [])  # root writes anywhere else
        for out in targets:
            for cmd in (["generate", "a person waves"], ["batch", str(pf)]):
                assert main(cmd + ["--seconds", "1", "--out-dir", str(out)]) == 2, (cmd, out)
                _one_line_error(capsys.readouterr().err, "--out-dir", str(out))
        if importlib.util.find_spec("bpy") is not None:  # tools/bake.py runs in Blender's Python
            bake = [sys.executable, str(REPO / "tools" / "bake.py")]
            for args, names in ((["--prompts", str(pf), "--out-dir", str(a_file)], ["--out-dir", str(a_file)]),
                                (["--prompts", str(tmp_path / "missing.txt"), "--out-dir", str(tmp_path / "b")],
                                 ["missing.txt"])):
                r = subprocess.run(bake + args, capture_output=True, text=True, env=ENV, timeout=120)
                assert r.returncode == 2, r.stderr
                _one_line_error(r.stderr, *names)
            bad = tmp_path / "latin1.txt"
            bad.write_bytes(b"a man walks\nun caf\xe9\n")
            r = subprocess.run(bake + ["--prompts", str(bad), "--out-dir", str(tmp_path / "b")], capture_output=True,
                               text=True, env=ENV, timeout=120)
            assert r.returncode == 2
            _one_line_error(r.stderr, "latin1.txt", "line 2")
            assert not (tmp_path / "b").exists()


def test_a_5000_character_prompt_is_cut_with_a_warning_on_the_minilm_path(model_toml, tmp_path, capsys):
    assert main(["generate", "a person walks forward and " * 185, "--model", str(model_toml), "--seconds", "1",
                 "--no-preview", "--out-dir", str(tmp_path), "--exp-name", "long"]) == 0
    said = "text cut at the text encoder's limit of 150 tokens"
    assert said in capsys.readouterr().err
    rec = json.loads((tmp_path / "long" / "manifest.jsonl").read_text().splitlines()[0])
    assert any(said in w for w in rec["warnings"])


# --------------------------------------------------------------------------------------------- the add-on's setup

class _Labels:
    """A stand-in ``UILayout`` that records the labels and operators a draw makes."""

    def __init__(self, log):
        self.log = log

    def column(self, *a, **k):
        return self

    row = column

    def prop(self, *a, **k):
        pass

    def label(self, text="", icon="NONE"):
        self.log.append((icon, text))

    def operator(self, idname, **k):
        self.log.append(("operator", idname))


def test_addon_setup_shows_the_backend_and_names_a_bad_interpreter(tmp_path, monkeypatch):
    """Preferences: a worker interpreter that does not exist is an error naming it (panel, Test
    Backend, Generate); an interpreter without motionprompt gets the setup hint; a good one's
    Test Backend reports its versions, device and the model loaded."""
    bpy = pytest.importorskip("bpy")
    import types

    import torch

    import motionprompt

    sys.path.insert(0, str(REPO))
    monkeypatch.setenv("MOTIONPROMPT_GENERATOR_FACTORY", "fake_generator:make_generator")
    monkeypatch.setenv("PYTHONPATH", ENV["PYTHONPATH"])
    monkeypatch.delenv("MOTIONPROMPT_PYTHON", raising=False)
    import blender_addon
    from blender_addon import backend, core, preferences

    monkeypatch.setattr(preferences._Defaults, "results_dir", str(tmp_path / "results"))
    monkeypatch.setattr(preferences._Defaults, "backend", "WORKER")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    try:
        def draw() -> list:
            log = []
            prefs = preferences._Defaults()
            preferences.MotionPromptPreferences.draw(types.SimpleNamespace(
                layout=_Labels(log), **{k: getattr(prefs, k) for k in ("backend", "python_path", "device",
                                                                       "results_dir")}), bpy.context)
            return log

        missing = str(tmp_path / "no_venv" / "bin" / "python")
        monkeypatch.setattr(preferences._Defaults, "python_path", missing)
        assert ("ERROR", f"the Python interpreter {missing!r} set in the add-on preferences does not exist") in draw()
        assert ("operator", "motionprompt.test_backend") in draw()
        for op in (bpy.ops.motionprompt.test_backend, bpy.ops.motionprompt.generate):
            with pytest.raises(RuntimeError, match=re.escape(missing) + ".*does not exist.*--print-interpreter"):
                op()
        assert "does not exist" in preferences.LAST_PROBE["error"]

        bare = tmp_path / "bare_python"  # an interpreter without motionprompt (as Blender's own is)
        bare.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')
        bare.chmod(0o755)
        monkeypatch.setattr(preferences._Defaults, "python_path", str(bare))
        with pytest.raises(RuntimeError, match=r"No module named 'motionprompt'[\s\S]*--print-interpreter"):
            bpy.ops.motionprompt.test_backend()

        monkeypatch.setattr(preferences._Defaults, "python_path", sys.executable)
        assert bpy.ops.motionprompt.test_backend() == {"FINISHED"}
        info = preferences.LAST_PROBE
        assert info["python"] == sys.executable and info["source"] == "the add-on preferences"
        assert info["motionprompt"] == motionprompt.__version__ and info["torch"] == torch.__version__
        assert info["device"] == "cpu" and info["loaded"] and info["model"] == "demo"
        rows = draw()
        assert ("NONE", f"Worker process: {sys.executable} (from the add-on preferences)") in rows
        assert any(icon == "CHECKMARK" and "model demo loaded" in text and "torch" in text for icon, text in rows)

        # "In Blender" where Blender's Python has no generator (the zip's vendored core): said so
        monkeypatch.setattr(preferences._Defaults, "backend", "IN_PROCESS")
        monkeypatch.setattr(core, "has_generator", lambda: False)
        for op in (bpy.ops.motionprompt.test_backend, bpy.ops.motionprompt.generate):
            with pytest.raises(RuntimeError, match="choose 'Worker process'"):
                op()
    finally:
        backend.shutdown_backend()
        blender_addon.unregister()


def test_a_claimed_folder_appears_with_its_marker_or_not_at_all(tmp_path, monkeypatch):
    """RunDir.claim: the numbered folder exists only with its .incomplete marker (a run killed
    while claiming leaves no empty result folder, which a resume would not know and skip past);
    two runs on one root get different folders; a claim stopped halfway leaves nothing."""
    from motionprompt.app.batch import Job
    from motionprompt.app.rundir import MARKER, RunDir

    a, b = RunDir(tmp_path, "run"), RunDir(tmp_path, "run")
    job = Job(line=1, prompt="a person walks", texts={0: "a person walks"})
    seen = []
    real = os.rename

    def watch(src, dst):  # the folder's content at the moment it takes its number
        seen.append(sorted(p.name for p in Path(src).iterdir()))
        return real(src, dst)

    monkeypatch.setattr(os, "rename", watch)
    f1, f2 = a.claim(job), b.claim(job)
    assert f1 != f2 and seen == [[MARKER], [MARKER]] and (f1 / MARKER).is_file() and (f2 / MARKER).is_file()

    def stopped(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", stopped)
    with pytest.raises(KeyboardInterrupt):
        a.claim(job)
    assert sorted(p.name for p in a.root.iterdir() if p.is_dir()) == sorted([f1.name, f2.name])
