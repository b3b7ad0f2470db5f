"""The JSON-lines generation worker as a real child process (fake generator injected by env var)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from motionprompt.files.formats import load_motion

TESTS = Path(__file__).resolve().parent


def _env(step_seconds: float = 0.002) -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
                MOTIONPROMPT_GENERATOR_FACTORY="fake_generator:make_generator",
                FAKE_STEP_SECONDS=str(step_seconds))


class Proc:
    def __init__(self, step_seconds=0.002):
        self.p = subprocess.Popen([sys.executable, "-m", "motionprompt.app.worker", "--model", "demo"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, bufsize=1, env=_env(step_seconds))

    def send(self, **msg):
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()

    def read(self, until, limit=400):
        got = []
        for _ in range(limit):
            line = self.p.stdout.readline()
            assert line, f"worker closed stdout; stderr: {self.p.stderr.read()[-800:]}"
            msg = json.loads(line)  # every stdout line is JSON
            got.append(msg)
            if until(msg):
                return got
        raise AssertionError(f"no matching reply in {limit} lines: {got[-3:]}")

    def close(self):
        if self.p.poll() is None:
            self.send(cmd="quit")
            self.p.stdin.close()
            self.p.wait(10)


@pytest.fixture
def worker():
    w = Proc()
    yield w
    w.close()


def test_ready_progress_result_files(worker, tmp_path):
    ready = worker.read(lambda m: m["type"] == "ready")[-1]
    assert ready["model"] == "demo" and ready["pid"] == worker.p.pid
    worker.send(cmd="generate", id="j1", prompts=["walk", "wave"], seconds=0.4, seeds=[5, 6], out_dir=str(tmp_path))
    msgs = worker.read(lambda m: m["type"] in ("result", "error"))
    steps = [(m["step"], m["total"]) for m in msgs if m["type"] == "progress"]
    assert steps == [(i, 6) for i in range(1, 7)]
    result = msgs[-1]
    assert result["type"] == "result" and result["id"] == "j1"
    assert [m["seed"] for m in result["motions"]] == [5, 6]
    for item in result["motions"]:
        m = load_motion(item["path"])
        assert m.num_frames == item["frames"] == 12 and Path(item["path"]).parent == tmp_path
    assert not list(tmp_path.glob(".*"))  # atomic writes leave no temporary files


def test_busy_refused_cancel_keeps_worker_alive(tmp_path):
    w = Proc(step_seconds=0.05)
    try:
        w.read(lambda m: m["type"] == "ready")
        w.send(cmd="generate", id="long", prompts=["walk"], seconds=4.0, out_dir=str(tmp_path))
        w.read(lambda m: m["type"] == "progress")
        w.send(cmd="generate", id="second", prompts=["run"], seconds=0.2)
        busy = w.read(lambda m: m.get("id") == "second")[-1]
        assert busy["type"] == "error" and "busy" in busy["message"]
        t0 = time.monotonic()
        w.send(cmd="cancel", id="long")
        end = w.read(lambda m: m.get("id") == "long" and m["type"] != "progress")[-1]
        assert end["type"] == "cancelled" and time.monotonic() - t0 < 2.0
        w.send(cmd="generate", id="after", prompts=["run"], seconds=0.2, out_dir=str(tmp_path))
        assert w.read(lambda m: m.get("id") == "after" and m["type"] != "progress")[-1]["type"] == "result"
    finally:
        w.close()


def test_failing_prompt_is_an_error_not_a_crash(worker, tmp_path):
    worker.send(cmd="generate", id="bad", prompts=["fail"], seconds=0.2, out_dir=str(tmp_path))
    err = worker.read(lambda m: m.get("id") == "bad")[-1]
    assert err["type"] == "error" and "fake failure" in err["message"]
    worker.send(cmd="ping")
    assert worker.read(lambda m: m["type"] == "pong")[-1]["busy"] is False
    worker.send(cmd="nonsense")
    assert "unknown command" in worker.read(lambda m: m["type"] == "error")[-1]["message"]


def test_model_that_cannot_load_reports_fatal_error():
    env = dict(os.environ)
    env.pop("MOTIONPROMPT_GENERATOR_FACTORY", None)
    p = subprocess.run([sys.executable, "-m", "motionprompt.app.worker", "--model", "/nonexistent/model.toml"],
                       input="", capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 1
    msg = json.loads(p.stdout.strip().splitlines()[-1])
    assert msg["type"] == "error" and msg["fatal"] and "model.toml" in msg["message"]


def test_demo_model_end_to_end(tmp_path):
    from motionprompt.models import model_spec

    if not model_spec.DEMO_SPEC.is_file():
        pytest.skip("demo model not installed")
    env = dict(os.environ)
    env.pop("MOTIONPROMPT_GENERATOR_FACTORY", None)
    p = subprocess.Popen([sys.executable, "-m", "motionprompt.app.worker", "--model", "demo"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
    try:
        req = {"cmd": "generate", "id": "d", "prompts": ["a person walks forward"], "seconds": 2.0, "seeds": [1],
               "out_dir": str(tmp_path)}
        p.stdin.write(json.dumps(req) + "\n")
        p.stdin.flush()
        result = None
        for line in p.stdout:
            msg = json.loads(line)
            if msg.get("id") == "d" and msg["type"] != "progress":
                result = msg
                break
        assert result is not None and result["type"] == "result", result
        m = load_motion(result["motions"][0]["path"])
        assert 2 <= m.num_frames <= 60 and np.all(np.isfinite(m.root_translation))
    finally:
        p.stdin.close()
        p.wait(30)


def test_real_generator_on_a_tiny_model(model_toml, tmp_path):
    """The worker around the real ``Generator`` (tiny random weights): progress, result files."""
    env = dict(os.environ)
    env.pop("MOTIONPROMPT_GENERATOR_FACTORY", None)
    p = subprocess.Popen([sys.executable, "-m", "motionprompt.app.worker", "--model", str(model_toml)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                         env=env)
    w = Proc.__new__(Proc)
    w.p = p
    try:
        assert w.read(lambda m: m["type"] in ("ready", "error"))[-1]["type"] == "ready"
        w.send(cmd="generate", id="t", prompts=["a person waves", "a person jumps, then claps", "一个人向前走"],
               seconds=1.0, seeds=[1, 2, 3], temperature=1.0, top_k=20, compose=True, out_dir=str(tmp_path))
        msgs = w.read(lambda m: m.get("id") == "t" and m["type"] != "progress")
        assert msgs[-1]["type"] == "result", msgs[-1]
        assert any(m["type"] == "progress" for m in msgs)
        items = msgs[-1]["motions"]
        assert [i["seed"] for i in items] == [1, 2, 3] and items[0]["source"] == "tiny-test"
        # what the motion will likely not show comes with its entry
        assert any("not in English (CJK characters)" in w for w in items[2]["warnings"])
        assert not any("English" in w for w in items[0].get("warnings", []))
        for item in items:
            m = load_motion(item["path"])
            assert m.num_frames == item["frames"] and np.all(np.isfinite(m.rotations))
        # the request's compose: the two actions of the second prompt are segments of its motion
        assert "segments" not in items[0]
        segs = items[1]["segments"]
        assert [s["text"] for s in segs] == ["a person jumps", "claps"]
        assert segs[0]["start"] == 0 and segs[0]["end"] == segs[1]["start"]
        assert abs(segs[1]["end"] - items[1]["frames"] / 30) < 1e-3
    finally:
        w.close()


def test_jobs_with_the_same_id_never_overwrite_each_others_files(worker, tmp_path):
    """Request ids restart with every client (each Blender session counts g1, g2, ...): two jobs
    "g1" of one worker and a "g1" of a second worker (a later session) sharing the results folder
    keep three files, each the motion of its own take."""
    def take(w, seed):
        w.send(cmd="generate", id="g1", prompts=["walk"], seconds=0.4, seeds=[seed], out_dir=str(tmp_path))
        result = w.read(lambda m: m.get("id") == "g1" and m["type"] != "progress")[-1]
        assert result["type"] == "result", result
        return result["motions"][0]["path"]

    first = take(worker, 1)
    before = np.load(first)
    second = take(worker, 2)
    other = Proc()
    try:
        third = take(other, 3)
    finally:
        other.close()
    paths = [first, second, third]
    assert len(set(paths)) == 3 and all(Path(p).parent == tmp_path and Path(p).name.startswith("g1_") for p in paths)
    assert sorted(tmp_path.glob("*.npy")) == sorted(Path(p) for p in paths)
    assert np.array_equal(np.load(first), before)  # untouched by the later takes
    frames = [np.load(p) for p in paths]
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[0], frames[2])


def test_run_job_in_process_returns_motions_and_writes_nothing(tmp_path):
    """``write_files=False`` (the add-on's in-process backend): the entries carry the Motion
    objects, post-processed like the files would be, and nothing reaches the disk."""
    from fake_generator import FakeGenerator

    from motionprompt.app.worker import Worker
    from motionprompt.body.motion import Motion

    sent = []
    worker = Worker(FakeGenerator("demo", "cpu"), sent.append, model_name="demo")
    req = {"cmd": "generate", "id": "g1", "prompts": ["walk", "wave"], "seconds": 0.4, "seeds": [5, 6],
           "out_dir": str(tmp_path / "out"), "fps": 20.0}
    reply = worker.run_job(req, write_files=False)
    assert reply["type"] == "result" and [p["type"] for p in sent] == ["progress"] * 6
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())
    items = reply["motions"]
    assert [i["seed"] for i in items] == [5, 6] and all("path" not in i for i in items)
    for item in items:
        m = item["motion"]
        assert isinstance(m, Motion) and m.fps == item["fps"] == 20.0 and m.num_frames == item["frames"] == 8
    # the same request through the file protocol: the same frames, in uniquely named files
    on_disk = worker.run_job(req)["motions"]
    for item, mem in zip(on_disk, items):
        path = Path(item["path"])
        assert path.parent == tmp_path / "out" and path.name.startswith("g1_")
        assert np.array_equal(np.load(path), mem["motion"].to_272().astype(np.float32))


def test_a_cancel_sent_before_its_job_does_not_stop_it(tmp_path):
    """A cancel for an id that is not running is ignored: a later job reusing the id runs."""
    from fake_generator import make_generator

    from motionprompt.app.worker import Worker

    replies = []
    worker = Worker(make_generator("demo", "cpu"), replies.append)
    worker.feed(iter([json.dumps({"cmd": "cancel", "id": "r1"}),
                      json.dumps({"cmd": "generate", "id": "r1", "prompts": ["walk"], "seconds": 0.5,
                                  "out_dir": str(tmp_path)})]))
    worker.serve()
    assert replies[-1]["type"] == "result", replies[-1]


def test_a_damaged_checkpoint_fails_by_name(model_toml, tmp_path):
    """NaN weights: the load fails with the checkpoint's path, not a 2-frame motion."""
    import torch
    from safetensors.torch import load_file, save_file

    from motionprompt.models.checkpoints import CheckpointError
    from motionprompt.models.model_spec import ModelSpec
    from motionprompt.generation.generator import Generator

    spec = ModelSpec.load(model_toml)
    state = load_file(str(spec.lm_checkpoint))
    key = next(k for k, t in state.items() if t.is_floating_point())
    state[key] = torch.full_like(state[key], float("nan"))
    bad = tmp_path / "lm_nan.safetensors"
    save_file(state, str(bad))
    with pytest.raises(CheckpointError, match="lm_nan.safetensors.*NaN"):
        Generator.from_spec(spec.replace(lm_checkpoint=bad))


def test_sigterm_mid_job_ends_the_worker_cleanly(tmp_path):
    """Blender closing (or ``kill``) sends SIGTERM: the worker stops at once with exit
    143, mid-job, leaving no file of the job behind, and says nothing on stdout that is not JSON."""
    import signal

    w = Proc(step_seconds=0.05)
    try:
        w.read(lambda m: m["type"] == "ready")
        w.send(cmd="generate", id="long", prompts=["walk"], seconds=8.0, out_dir=str(tmp_path))
        w.read(lambda m: m["type"] == "progress")
        t0 = time.monotonic()
        w.p.send_signal(signal.SIGTERM)
        assert w.p.wait(5) == 143 and time.monotonic() - t0 < 3.0  # the job alone had 6 s to go
        rest = w.p.stdout.read()
        for line in rest.splitlines():
            json.loads(line)
        assert "Traceback" not in w.p.stderr.read()
        assert not list(tmp_path.iterdir())
    finally:
        if w.p.poll() is None:
            w.p.kill()
