"""Previews rendered in worker processes while the next group generates (``app.previews``):
the same GIF bytes as in-process, a small GIF beside the 960 px MP4, the manifest line only once
the previews are on disk, a failing preview recorded with its folder kept for --resume, pending
previews of an interrupted run redone by --resume, a bounded number of jobs in flight."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from motionprompt.app.batch import Job, run_jobs
from motionprompt.app.cli import main
from motionprompt.app.previews import PreviewPool, render_previews
from motionprompt.app.rundir import MARKER, RunDir
from motionprompt.body.motion import Motion
from motionprompt.files.layout import preview_names


def _motion(text, seed, T=6):
    rng = np.random.default_rng(seed)
    root = np.cumsum(rng.normal(0, 0.02, (T, 3)), 0) + [0, 0.9, 0]
    return Motion(rotations=np.tile(np.eye(3), (T, 22, 1, 1)), root_translation=root, prompt=text, seed=seed)


def _generate(texts, seeds):
    return [_motion(t, s) for t, s in zip(texts, seeds)]


def _jobs(names):
    return [Job(line=i + 1, prompt=t, seed=i, texts={0: t}) for i, t in enumerate(names)]


def _mp4_size(path):
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    return tuple(meta["size"])


@pytest.fixture(scope="module")
def pool():
    with PreviewPool(2) as p:
        yield p


def test_pooled_previews_match_in_process_ones_and_the_gif_is_small(tmp_path, pool):
    jobs = _jobs(["walk", "run", "jump", "sit", "wave"])
    inline = run_jobs(jobs, RunDir(tmp_path, "inline"), _generate, {}, batch_size=2, log=lambda s: None,
                      preview_size=128)
    pooled = run_jobs(jobs, RunDir(tmp_path, "pooled"), _generate, {}, batch_size=2, log=lambda s: None,
                      preview_workers=2, preview_size=128)
    assert [r["key"] for r in pooled] == [j.key for j in jobs] and all(r["status"] == "done" for r in pooled)
    for a, b in zip(inline, pooled):
        gif, mp4 = preview_names(_motion(b["prompt"], 0), 0)
        fa, fb = tmp_path / "inline" / a["folder"], tmp_path / "pooled" / b["folder"]
        assert sorted(a["files"]) == sorted(b["files"]) and gif in b["files"] and mp4 in b["files"]
        assert (fa / gif).read_bytes() == (fb / gif).read_bytes()
        assert Image.open(fb / gif).size == (128, 128) and _mp4_size(fb / mp4) == (960, 960)
        assert b["timings"]["preview_s"] > 0 and b["timings"]["preview_cpu_s"] > 0 and not (fb / MARKER).exists()
    lines = [json.loads(s) for s in (tmp_path / "pooled" / "manifest.jsonl").read_text().splitlines()]
    assert [r["key"] for r in lines] == [j.key for j in jobs]


def test_a_failing_preview_is_recorded_and_its_folder_kept_for_resume(tmp_path):
    jobs = _jobs(["walk", "boom", "run"])
    run = RunDir(tmp_path, "exp")
    folder = run.claim(jobs[1])  # a killed run's folder for "boom", where its GIF's name is taken
    (folder / preview_names(_motion("boom", 0), 0)[0]).mkdir()
    recs = run_jobs(jobs, run, _generate, {}, batch_size=8, log=lambda s: None, resume=True, preview_workers=1)
    assert [(r["prompt"], r["status"]) for r in recs] == [("walk", "done"), ("boom", "failed"), ("run", "done")]
    assert (folder / MARKER).exists() and list(run.incomplete().values()) == [folder]
    assert "Error" in recs[1]["error"]


def test_an_interrupted_run_leaves_pending_previews_to_resume(tmp_path):
    jobs = _jobs([f"p{i}" for i in range(6)])
    calls = []

    def stop_on_second_group(texts, seeds):
        calls.append(texts)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return _generate(texts, seeds)

    run = RunDir(tmp_path, "exp")
    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, run, stop_on_second_group, {}, batch_size=3, log=lambda s: None, preview_workers=1)
    done = run.done_keys()
    first = {j.key for j in jobs if j.prompt in calls[0]}
    assert first - done == set(run.incomplete()) - done  # written or left incomplete, never lost
    again = run_jobs(jobs, run, _generate, {}, batch_size=3, log=lambda s: None, resume=True, preview_workers=1)
    keys = [r["key"] for r in run.records() if r["status"] == "done"]
    assert sorted(keys) == sorted(j.key for j in jobs) and len(again) == len(jobs) - len(done)
    assert len([p for p in (tmp_path / "exp").iterdir() if p.is_dir()]) == 6 and not run.incomplete()


def test_the_pool_keeps_at_most_depth_jobs_in_flight(tmp_path, pool):
    seen, order = [], []
    for i in range(7):
        folder = tmp_path / str(i)
        folder.mkdir()
        pool.submit([(_motion(f"m{i}", i, T=2), folder, 0)], 64, lambda r, e, i=i: order.append((i, e)))
        seen.append(len(pool))
    pool.drain()
    assert max(seen) <= pool.depth == 4 and order == [(i, None) for i in range(7)]
    res = render_previews([(_motion("x", 1, T=2), tmp_path / "0", 1)], 64)
    assert res["files"] == list(preview_names(_motion("x", 1), 1)) and res["cpu_s"] >= 0


@pytest.mark.parametrize("flag, value, message", [("--preview-size", "32", "--preview-size: 32 is out of range"),
                                                  ("--preview-workers", "-1", "--preview-workers: -1 is out of range")])
def test_bad_preview_options_exit_2_before_anything(tmp_path, capsys, flag, value, message):
    assert main(["generate", "a man walks", "--out-dir", str(tmp_path / "o"), flag, value]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_a_killed_worker_fails_only_the_jobs_in_flight(tmp_path):
    import os
    import signal

    results = []
    with PreviewPool(1, depth=2) as p:
        (tmp_path / "a").mkdir()
        p.submit([(_motion("a", 0, T=2), tmp_path / "a", 0)], 64, lambda r, e: results.append(e))
        p.drain()
        for pid in list(p._pool._processes):
            os.kill(pid, signal.SIGKILL)
        (tmp_path / "b").mkdir()
        p.submit([(_motion("b", 1, T=2), tmp_path / "b", 0)], 64, lambda r, e: results.append(e))
        p.drain()
        (tmp_path / "c").mkdir()
        p.submit([(_motion("c", 2, T=2), tmp_path / "c", 0)], 64, lambda r, e: results.append(e))
        p.drain()
    assert results[0] is None and results[-1] is None  # the pool works again after the loss


def test_while_previews_render_generation_leaves_the_workers_their_cores(tmp_path, monkeypatch):
    """The generating process's torch threads drop to the cores the workers leave (at least one)
    and come back after; the pool holds a whole group beside two jobs per worker, so handing a
    group over never waits for the group before it; the first groups are small."""
    import torch

    from motionprompt.app import previews

    depths, threads, sizes = [], [], []

    class Recording(previews.PreviewPool):
        def __init__(self, workers, depth=None):
            super().__init__(workers, depth)
            depths.append(self.depth)

    def generate(texts, seeds):
        threads.append(torch.get_num_threads())
        sizes.append(len(texts))
        return _generate(texts, seeds)

    monkeypatch.setattr(previews, "PreviewPool", Recording)
    monkeypatch.setattr(previews, "available_cores", lambda: 4)
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        recs = run_jobs(_jobs(["walk", "run", "jump"]), RunDir(tmp_path, "exp"), generate, {}, batch_size=2,
                        log=lambda s: None, preview_workers=3, preview_size=64)
        assert threads == [1, 1] and torch.get_num_threads() == 4 and depths == [2 + 2 * 3]
        with previews.leave_cores(1):
            assert torch.get_num_threads() == 3
        assert torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)
    assert [r["status"] for r in recs] == ["done"] * 3
    # groups grow from one text per worker to the batch size, doubling
    sizes.clear()
    recs = run_jobs(_jobs([f"p{i}" for i in range(20)]), RunDir(tmp_path, "ramp"), generate, {}, batch_size=8,
                    log=lambda s: None, preview_workers=1, preview_size=64)
    assert sizes == [1, 2, 4, 8, 5] and [r["line"] for r in recs] == list(range(1, 21))
    sizes.clear()
    run_jobs(_jobs([f"p{i}" for i in range(20)]), RunDir(tmp_path, "inline"), generate, {}, batch_size=8,
             log=lambda s: None, previews=False, preview_workers=1)
    assert sizes == [8, 8, 4]  # no pool: whole batches
