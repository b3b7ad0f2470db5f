"""Previews rendered in worker processes while the next group of jobs generates.

A preview (GIF + 960 px MP4) costs about 20 times a demo-model motion's generation on a CPU, so
``app.batch`` writes a job's cheap files (.npy, .npz, text) at once and hands its previews to a
``PreviewPool``: ``workers`` processes (spawned: they import numpy, Pillow and ffmpeg's wrapper,
never torch) render them while the generating process goes on with the next group. The job's
manifest line is written, in the generating process and in the order jobs were handed over, only
once its previews are on disk, so a run killed with previews pending leaves those jobs
incomplete for ``--resume``. At most ``depth`` (default 2 x workers; ``app.batch`` gives a
group of jobs plus that, so the workers never run dry while the next group generates) jobs wait
or render at a time: handing over one more first waits for the oldest, which bounds memory and
keeps the generator at most that far ahead. A worker that dies (killed, out of memory) fails
the jobs in flight in the pool (their folders stay incomplete for ``--resume``); the pool starts
afresh for the next ones.

The workers start, and import what they draw with, as the pool is made, so that happens while
the first group generates. While the pool is open, the generating process leaves the workers'
cores to them (``leave_cores``: torch's intra-op threads cut to the cores left over, at least
one): two torch threads spinning beside two busy workers on two cores cost more CPU than they
save.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable

__all__ = ["PreviewPool", "render_previews", "available_cores", "leave_cores"]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def leave_cores(workers: int):
    """While open, torch (when this process has imported it) runs on the cores ``workers``
    other processes leave free, at least one thread; restored on exit."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if before is not None:
        torch.set_num_threads(max(1, min(before, available_cores() - int(workers))))
    try:
        yield
    finally:
        if before is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)


def render_previews(tasks: list[tuple], gif_size: int) -> dict:
    """Write the previews of one job: ``tasks`` = [(motion, folder, flag)]; returns
    ``{"files": names, "wall_s": seconds, "cpu_s": CPU seconds of this process and its ffmpeg}``."""
    from ..files.layout import write_previews

    t0, c0 = time.perf_counter(), os.times()
    files = []
    for motion, folder, flag in tasks:
        files += write_previews(motion, Path(folder), flag, gif_size)
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) \
        + (c1.children_system - c0.children_system)
    return {"files": files, "wall_s": round(time.perf_counter() - t0, 4), "cpu_s": round(cpu, 4)}


def _worker_setup() -> None:
    """A worker encodes one video at a time next to the others: x264 on one thread each."""
    from ..files.preview import encoders

    encoders.X264_THREADS = 1


def _warm_up() -> None:
    """Import and build what every preview needs (done once per worker, as the pool starts)."""
    from ..files import layout  # noqa: F401 - the import is the work
    from ..files.preview import encoders, raster

    raster._palette()
    encoders._yuv_tables()
    encoders._luma_list()


class PreviewPool:
    """``submit(tasks, gif_size, on_done)`` renders in a worker; ``on_done(result, error)`` runs
    in the caller's thread, in submission order, from ``submit`` (for jobs already finished),
    ``collect`` or ``drain``. ``close()`` stops the workers (pending jobs are dropped)."""

    def __init__(self, workers: int, depth: int | None = None):
        import multiprocessing

        self.workers = max(1, int(workers))
        self.depth = max(1, int(depth or 2 * self.workers))
        self._context = multiprocessing.get_context("spawn")  # a fork of torch's thread pools can hang
        self._pool = self._start()
        self._pending: deque[tuple[Future, Callable]] = deque()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=_worker_setup)
        for _ in range(self.workers):  # each submit with none idle starts a process: all start now
            pool.submit(_warm_up)
        return pool

    def __len__(self) -> int:
        return len(self._pending)

    def submit(self, tasks: list[tuple], gif_size: int, on_done: Callable[[dict | None, BaseException | None], None]) -> None:
        while len(self._pending) >= self.depth:
            self._finish_oldest()
        try:
            future = self._pool.submit(render_previews, tasks, gif_size)
        except BrokenProcessPool:  # a worker died (killed, out of memory): its jobs failed, start afresh
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            future = self._pool.submit(render_previews, tasks, gif_size)
        self._pending.append((future, on_done))
        self.collect()

    def collect(self) -> None:
        """Hand over the results of the oldest jobs that are done (never waits)."""
        while self._pending and self._pending[0][0].done():
            self._finish_oldest()

    def drain(self) -> None:
        """Wait for every pending job and hand over its result."""
        while self._pending:
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        future, on_done = self._pending.popleft()
        try:
            result = future.result()
        except Exception as e:  # noqa: BLE001 - the job's own failure, handed to on_done
            on_done(None, e)
        else:
            on_done(result, None)

    def close(self) -> None:
        for future, _ in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "PreviewPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
