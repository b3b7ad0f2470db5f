"""Batch runs: jobs (prompt line x sample, or a motion file), generated in groups, post-processed,
written into numbered result folders with a manifest; resuming; one failing job never stops the
rest. ``motionprompt generate`` / ``batch`` and tools/bake.py all run their jobs through
``run_jobs`` (bake adds its FBX / .blend files through the ``on_motion`` hook).

Layout: ``<out_dir>/<exp_name>/manifest.jsonl`` and ``<k>/`` folders (``rundir``), each with
the files of ``files.layout`` (flag 0: the prompt as written; 1: its rewrite, ``rewrite``).
``--resume`` skips jobs the manifest records as done and reuses the folders of jobs a killed run
left incomplete, so nothing is lost or duplicated.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .. import postprocess
from ..body.motion import Motion
from ..files.formats import load_motion
from ..files.layout import MP4_SIZE, output_files
from ..request import RequestError, motion_ref, sample_seeds
from .rundir import RunDir

__all__ = ["Job", "make_jobs", "run_jobs", "MotionHook", "load_context", "load_pose", "shaping_motions"]

#: ``on_motion(motion, folder, flag) -> names of the extra files it wrote into folder``.
MotionHook = Callable[[Motion, Path, int], list]


@dataclass
class Job:
    """One motion to make: a prompt (and its line), sample number, seed and its texts by result
    flag (0: as written, 1: rewritten); or, with ``source``, a motion file to load instead."""

    line: int
    prompt: str
    sample: int = 0
    seed: int | None = None
    texts: dict = field(default_factory=dict)  # flag -> text
    source: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.line}:{self.sample}:{self.prompt}"


def _referenced(ref: str, option: str) -> tuple[Motion, int]:
    """The motion file and frame a "MOTION[:FRAME]" option names (``motion_ref``; FRAME counts
    from 1, default the last): the loaded motion and the frame, checked against its length.
    Raises RequestError(``option``, ...) naming the file, or the frame."""
    path, frame = motion_ref(ref, option)
    try:
        motion = load_motion(path)
    except (OSError, ValueError) as e:
        raise RequestError(option, f"{path}: {e}") from None
    k = motion.num_frames if frame is None else frame
    if k > motion.num_frames:
        raise RequestError(option, f"{ref!r}: frame {k} is past the motion's end ({motion.num_frames} frames); "
                                   f"give FRAME <= {motion.num_frames}")
    return motion, k


def load_context(ref: str | None) -> Motion | None:
    """The motion a request continues (``GenerateRequest.continue_from``, "MOTION[:FRAME]"):
    the file loaded and cut after FRAME (default: whole); None for None. Raises
    RequestError("continue_from", ...) naming the file, and the frame against its length."""
    if ref is None:
        return None
    motion, k = _referenced(ref, "continue_from")
    return motion if k == motion.num_frames else motion.frames(0, k)


def load_pose(ref: str | None) -> Motion | None:
    """The pose a request ends in (``GenerateRequest.to_pose``, "MOTION[:FRAME]", frames from
    1, default the last) as a one-frame motion in its file's world; None for None. Raises
    RequestError("to_pose", ...) naming the file, and the frame against its length."""
    if ref is None:
        return None
    motion, k = _referenced(ref, "to_pose")
    return motion.frames(k - 1, k)


def shaping_motions(request) -> dict:
    """The motions a request's generation starts from and ends in, loaded once: ``context``
    (``continue_from``) and ``target`` (``to_pose``), each only when asked; the keyword
    arguments of ``Generator.generate``. Raises RequestError naming the option."""
    return {k: v for k, v in (("context", load_context(request.continue_from)),
                              ("target", load_pose(request.to_pose))) if v is not None}


def make_jobs(prompts: list[tuple[int, str]], seed: int | None, num: int = 1) -> list[Job]:
    """``num`` jobs per (line, prompt), seeded by ``request.sample_seeds`` (every line from the
    same ``seed``: a prompt's motions do not depend on where it stands in the file)."""
    jobs = []
    for line, text in prompts:
        for i, s in enumerate(sample_seeds(seed, num)):
            jobs.append(Job(line=line, prompt=text, sample=i, seed=s, texts={0: text}))
    return jobs


def run_jobs(jobs: list[Job], run: RunDir, generate: Callable[[list[str], list[int]], list[Motion]],
             settings: dict, batch_size: int = 16, previews: bool = True, resume: bool = False,
             progress: Iterable | None = None, log: Callable[[str], None] = print,
             post: postprocess.PostProcess | None = None, on_motion: MotionHook | None = None,
             claim: Callable[[Job], bool] | None = None, extra: dict | None = None,
             preview_workers: int = 0, preview_size: int = MP4_SIZE) -> list[dict]:
    """Generate (or load), post-process and write every job; returns the manifest records
    written by this call.

    ``generate(prompts, seeds)`` makes one motion per prompt. Jobs go in groups of
    ``batch_size`` texts; when a group fails, its jobs are retried one by one so a single bad
    prompt is recorded (status "failed", with its error) and the rest go on. Every motion goes
    through ``postprocess.apply(motion, post)`` before its files are written; ``on_motion`` may
    write more files beside them. What the motion will likely not show (``Motion.meta
    ["warnings"]``, and a preview title no installed font can spell) is logged once per prompt
    and kept in each record's ``warnings``; the nearest-caption matches in ``caption_rewrite``.
    ``progress`` is an optional tqdm-like object (``update(n)``).
    ``claim(job)``: whether this process makes the job (the ranks of a launch share the jobs,
    ``app.ranks``); asked just before its group is generated, so a process that dies has
    claimed at most one group it did not finish. ``extra``: fields added to every record.
    ``preview_workers`` > 0: previews render in that many processes while the next group
    generates (``app.previews``: at most ``batch_size`` + 2 x ``preview_workers`` jobs wait for
    theirs; this process's torch threads leave the workers their cores), and the first groups are
    smaller (one text per worker, then twice as many each group up to ``batch_size``) so the
    workers start early; 0: here, job by job.
    ``preview_size``: the GIF's side (the MP4 is 960 px).
    """
    if resume:
        run.drop_finished_markers()
    done = run.done_keys() if resume else set()
    leftovers = run.incomplete() if resume else {}
    todo = [j for j in jobs if j.key not in done]
    skipped = len(jobs) - len(todo)
    if skipped:
        log(f"resume: {skipped} job(s) already done in {run.manifest}")
        if progress is not None:
            progress.update(skipped)
    extra = dict(extra or {})
    records: list[dict] = []
    with contextlib.ExitStack() as stack:
        pool = None
        if previews and preview_workers > 0 and todo:
            from .previews import PreviewPool, leave_cores

            # a whole group in flight beside the workers' own: they render it while the next generates
            pool = stack.enter_context(PreviewPool(preview_workers, depth=batch_size + 2 * preview_workers))
            stack.enter_context(leave_cores(preview_workers))
        write = _Writer(run, generate, settings, previews, leftovers, post, on_motion, extra, records, progress,
                        log, pool, preview_size)
        # with a pool, groups grow from one text per worker to batch_size, doubling: the workers
        # get their first jobs after a small group, not a whole batch, and stay fed from then on
        size = batch_size if pool is None else min(batch_size, preview_workers)
        i = 0
        while i < len(todo):
            group, n_texts = [], 0
            while i < len(todo) and (not group or n_texts + len(todo[i].texts) <= size):
                job = todo[i]
                i += 1
                if claim is not None and not claim(job):
                    continue
                group.append(job)
                n_texts += len(job.texts)
            if not group:
                break
            size = min(batch_size, 2 * size)
            try:
                write(group)
            except Exception:  # noqa: BLE001 - find the culprit: one by one (jobs already written stay as they are)
                for job in group:
                    if job.key in write.handled:
                        continue
                    try:
                        write([job])
                    except Exception as e:  # noqa: BLE001 - recorded, the batch goes on
                        write.failed(job, e)
        if pool is not None:
            pool.drain()
    return records


@dataclass
class _Writer:
    """Makes and writes one group of jobs: ``self(group)`` records each job as soon as it is
    written (or, with a preview ``pool``, once its previews are), so a failure later in the
    group never re-runs the jobs done; ``handled``: the keys recorded or handed to the pool."""

    run: RunDir
    generate: Callable
    settings: dict
    previews: bool
    leftovers: dict
    post: postprocess.PostProcess | None
    on_motion: MotionHook | None
    extra: dict
    records: list
    progress: Iterable | None
    log: Callable[[str], None]
    pool: object | None = None  # app.previews.PreviewPool
    preview_size: int = MP4_SIZE
    handled: set = field(default_factory=set)
    told: set = field(default_factory=set)  # (prompt, warning) pairs already logged

    def motions(self, group: list[Job]) -> dict[str, list[tuple[int, Motion]]]:
        """job key -> [(flag, motion)]: generated together for prompts, loaded for files."""
        texts, seeds, owners = [], [], []
        out: dict[str, list] = {}
        for job in group:
            if job.source is not None:
                out[job.key] = [(0, load_motion(job.source, prompt=job.texts.get(0, Path(job.source).stem)))]
                continue
            for flag, text in sorted(job.texts.items()):
                texts.append(text)
                seeds.append(job.seed)
                owners.append((job, flag))
        if texts:
            for (job, flag), motion in zip(owners, self.generate(texts, seeds)):
                out.setdefault(job.key, []).append((flag, motion))
        return out

    def _record(self, folder: Path | None, rec: dict) -> None:
        self.run.finish(folder, rec)
        self.handled.add(rec["key"])
        self.records.append(rec)
        if self.progress is not None:
            self.progress.update(1)

    def failed(self, job: Job, e: BaseException) -> None:
        """Record ``job`` as failed with ``e`` (its folder, if any, stays incomplete for --resume)."""
        rec = dict(key=job.key, line=job.line, prompt=job.prompt, sample=job.sample, seed=job.seed,
                   status="failed", error=f"{type(e).__name__}: {e}", settings=self.settings,
                   folder=None, files=[], **self.extra, time=time.time())
        self._record(None, rec)
        self.log(f"line {job.line}: failed: {rec['error']}")
        if os.environ.get("MOTIONPROMPT_DEBUG"):
            traceback.print_exception(e)

    def __call__(self, group: list[Job]) -> None:
        t0 = time.perf_counter()
        made = self.motions(group)
        t_gen = (time.perf_counter() - t0) / max(1, len(group))
        inline = self.previews and self.pool is None
        for job in group:
            t1 = time.perf_counter()
            folder = self.run.claim(job, reuse=self.leftovers.get(job.key))
            self.leftovers[job.key] = folder  # a retry after a failure below reuses it
            files, texts_out = [], {}
            final = [(flag, postprocess.apply(motion, self.post)) for flag, motion in made[job.key]]
            for flag, motion in final:
                files += output_files(motion, folder, flag, inline, self.preview_size)
                if self.on_motion is not None:
                    files += self.on_motion(motion, folder, flag)
                texts_out[str(flag)] = motion.prompt
            first = final[0][1]
            warns = list(first.meta.get("warnings") or [])
            if self.previews:
                from ..files.preview.text import title_warning

                warns += [w for w in [title_warning(first.prompt)] if w]
            for w in warns:  # each prompt's warnings once per run, not once per sample
                if (job.prompt, w) not in self.told:
                    self.told.add((job.prompt, w))
                    self.log(f"line {job.line}: warning: {w}")
            rec = dict(key=job.key, line=job.line, prompt=job.prompt, sample=job.sample, seed=first.seed,
                       status="done", error=None, settings=self.settings, folder=folder.name, files=files,
                       texts=texts_out, frames=first.num_frames, seconds=round(first.duration, 3),
                       ended=first.meta.get("ended"),
                       **{k: first.meta[k] for k in ("segments", "contacts", "caption_rewrite", "gpu_peak_mb")
                          if k in first.meta},
                       warnings=warns,
                       timings=dict(generate_s=round(t_gen, 4), write_s=round(time.perf_counter() - t1, 4)),
                       **self.extra, time=time.time())
            if self.previews and self.pool is not None:
                self.pool.submit([(m, folder, flag) for flag, m in final], self.preview_size,
                                 lambda result, error, job=job, folder=folder, rec=rec:
                                 self._previewed(job, folder, rec, result, error))
                self.handled.add(job.key)  # (submit may first finish older jobs)
                continue
            self._record(folder, rec)
            self.leftovers.pop(job.key, None)

    def _previewed(self, job: Job, folder: Path, rec: dict, result: dict | None, error: BaseException | None) -> None:
        """A job's previews are written (or failed): its manifest line, now."""
        if error is not None:
            self.failed(job, error)
            return
        rec = dict(rec, files=rec["files"] + result["files"],
                   timings=dict(rec["timings"], preview_s=result["wall_s"], preview_cpu_s=result["cpu_s"]),
                   time=time.time())
        self._record(folder, rec)
        self.leftovers.pop(job.key, None)
