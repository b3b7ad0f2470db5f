"""A batch over several ranks (torchrun): jobs claimed once per launch, one manifest part per
rank read as one manifest, a killed rank loses only its in-flight jobs, ``--resume`` across
ranks redoes them in their own folders, a second resume at the same time is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from motionprompt.app.batch import Job, run_jobs
from motionprompt.app.ranks import JobClaims, Ranks
from motionprompt.app.rundir import MARKER, RunDir
from motionprompt.body.motion import Motion
from motionprompt.files.manifest import read_manifest

CORE = Path(__file__).resolve().parents[1] / "core"


def _fake(texts, seeds):
    return [Motion(rotations=np.tile(np.eye(3), (4, 22, 1, 1)), root_translation=np.zeros((4, 3)), prompt=t, seed=s)
            for t, s in zip(texts, seeds)]


def test_ranks_from_the_environment(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert Ranks.from_env() == Ranks(0, 1, 0) and not Ranks.from_env().several
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "1")
    r = Ranks.from_env()
    assert (r.rank, r.world, r.local_rank) == (5, 8, 1)
    assert r.device("auto", True) == "cuda:1" and r.device("cuda", True) == "cuda:1"
    assert r.device("auto", False) == "cpu" and r.device("cuda:3", True) == "cuda:3" and r.device("cpu", True) == "cpu"
    assert Ranks(0, 1, 0).device("auto", True) == "auto"
    monkeypatch.setenv("RANK", "8")
    with pytest.raises(ValueError, match="do not fit"):
        Ranks.from_env()


def test_ranks_share_the_jobs_and_their_parts_read_as_one_manifest(tmp_path):
    jobs = [Job(line=i + 1, prompt=f"p{i}", seed=i, texts={0: f"p{i}"}) for i in range(24)]
    made = {}

    def rank(r):
        ranks = Ranks(r, 3, r)
        claims = JobClaims(tmp_path / "exp", "launch1", ranks)
        made[r] = run_jobs(jobs, RunDir(tmp_path, "exp", rank=r), _fake, {}, batch_size=2, previews=False,
                           claim=claims.claim, extra={"rank": r}, log=lambda s: None)

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [rec["key"] for recs in made.values() for rec in recs]
    assert sorted(keys) == sorted(j.key for j in jobs)  # each job once, over all ranks
    root = tmp_path / "exp"
    assert sorted(p.name for p in root.glob("manifest*.jsonl")) == [f"manifest.rank{r}.jsonl" for r in range(3)]
    recs = RunDir(tmp_path, "exp").records()
    assert sorted(r["key"] for r in recs) == sorted(keys) and recs == read_manifest(root)
    assert all(r["rank"] == int(json.loads(JobClaims(root, "launch1", Ranks()).path(r["key"]).read_text())["rank"])
               for r in recs)
    assert len({r["folder"] for r in recs}) == 24 and not list(root.glob(f"*/{MARKER}"))
    # a new launch claims afresh; the old launch's claims are its own
    assert JobClaims(root, "launch2", Ranks()).claim(jobs[0])
    assert not JobClaims(root, "launch1", Ranks()).claim(jobs[0])


def _torchrun(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(CORE), OMP_NUM_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "motionprompt", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_torchrun_two_ranks_killed_one_resumed_every_prompt_done_once(model_toml, tmp_path):
    n = 40
    prompts = tmp_path / "p.txt"
    prompts.write_text("".join(f"a person walks forward {i} steps\n" for i in range(n)), encoding="utf-8")
    args = ["batch", str(prompts), "--model", str(model_toml), "--seconds", "2", "--seed", "1",
            "--out-dir", str(tmp_path / "out"), "--no-preview", "--batch-size", "4"]
    root = tmp_path / "out" / "p"
    first = _torchrun(args)
    part1 = root / "manifest.rank1.jsonl"
    deadline = time.time() + 120
    while not (part1.is_file() and part1.read_text().count("\n") >= 1):
        assert first.poll() is None and time.time() < deadline, first.communicate()
        time.sleep(0.001)
    claims = [json.loads(p.read_text() or "{}") for p in root.glob(".claims/*/*")]
    pid = next(c["pid"] for c in claims if c.get("rank") == 1)
    os.kill(pid, signal.SIGKILL)  # rank 1 dies mid-way; torchrun then stops rank 0
    _, err = first.communicate(timeout=120)
    assert first.returncode != 0
    done = {r["key"] for r in read_manifest(root) if r["status"] == "done"}
    assert 0 < len(done) < n
    # what was lost: claimed jobs never finished (at most a group per rank), their folders incomplete
    assert len(list(root.glob(f"*/{MARKER}"))) <= 8

    from motionprompt.app.rundir import RunDir as _R
    with _R(tmp_path / "out", "p").resume_lock():  # another run resuming it: both ranks refuse, nothing written
        before = sorted(p.name for p in root.iterdir())
        busy = _torchrun(args + ["--resume"])
        _, err = busy.communicate(timeout=120)
        assert busy.returncode != 0 and err.count("being resumed by pid") == 1, err
        assert sorted(p.name for p in root.iterdir()) == before

    again = _torchrun(args + ["--resume"])
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    recs = [r for r in read_manifest(root) if r["status"] == "done"]
    keys = [r["key"] for r in recs]
    assert len(keys) == n and len(set(keys)) == n  # every prompt done, and once
    folders = [p for p in root.iterdir() if p.is_dir() and p.name.isdigit()]
    assert len(folders) == n == len({r["folder"] for r in recs})  # the lost jobs' folders were reused
    assert not list(root.glob(f"*/{MARKER}")) and not (root / ".claims").exists()
    assert {r["rank"] for r in recs} == {0, 1} and all(r["settings"]["device"] == "cpu" for r in recs)
    assert (root / "index.html").read_text(encoding="utf-8").count("<div class=\"card\"") == n


def test_a_process_killed_inside_finish_leaves_no_marker_after_resume(tmp_path):
    """Killed between its manifest line and dropping the marker: the job is done (not redone)
    and a resume drops the stale marker."""
    jobs = [Job(line=1, prompt="walk", seed=1, texts={0: "walk"}), Job(line=2, prompt="run", seed=2, texts={0: "run"})]
    run = RunDir(tmp_path, "exp")
    recs = run_jobs(jobs, run, _fake, {}, previews=False)
    folder = tmp_path / "exp" / recs[0]["folder"]
    (folder / MARKER).write_text(json.dumps({"key": jobs[0].key}))
    calls = []
    again = run_jobs(jobs, run, lambda t, s: calls.append(t) or _fake(t, s), {}, previews=False, resume=True,
                     log=lambda s: None)
    assert again == [] and calls == [] and not (folder / MARKER).exists()


def test_under_torchrun_each_prompt_is_rewritten_once_and_every_rank_has_every_rewrite(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(CORE), str(Path(__file__).parent)]), OMP_NUM_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(Path(__file__).parent / "rewrite_ranks_helper.py"), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    got = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    distinct = [f"walk {i}" for i in range(7)] + ["boom"]
    asked = [p for g in got for p in g["asked"]]
    assert sorted(asked) == sorted(distinct) and all(g["asked"] for g in got)  # once each, both ranks working
    assert got[0]["texts"] == got[1]["texts"] and got[0]["status"] == got[1]["status"] == "used"
    texts = dict((k, t) for k, t in got[0]["texts"])
    assert len(texts) == 18 and all(t == {"0": k.split(":", 2)[2], "1": k.split(":", 2)[2].upper()}
                                    for k, t in texts.items() if "boom" not in k)
    assert all(t == {"0": "boom"} for k, t in texts.items() if "boom" in k)
