"""A run folder: numbered result folders claimed race-free, and its ``manifest.jsonl``.

    <out_dir>/<exp_name>/manifest.jsonl        one JSON line per finished or failed job
    <out_dir>/<exp_name>/manifest.rank<R>.jsonl  the same, from rank R of a run over several processes
    <out_dir>/<exp_name>/<k>/                  one job's files (``files.layout``)

A folder ``k`` is claimed by renaming a private folder that already holds an ``.incomplete``
marker (naming its job's key) onto ``<k>``: the rename fails where ``<k>`` holds anything, so
concurrent runs never share one, and no numbered folder ever exists without its marker (a run
killed while claiming leaves no empty result folder). The marker stays until the folder's files
are written and its manifest line is appended, so a resumed run knows which folders a killed
run left unfinished.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ..files.manifest import MANIFEST, part_name, read_manifest

if TYPE_CHECKING:
    from .batch import Job

__all__ = ["RunDir", "RunBusyError", "MARKER", "check_out_dir"]

MARKER = ".incomplete"


class RunBusyError(RuntimeError):
    """Another process is resuming the same run folder."""


def check_out_dir(path) -> Path:
    """``path`` if a run folder can be made in it (it is a folder, or can be created, and is
    writable), else ValueError naming it and why; nothing is created."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ValueError(f"{path}: {'is' if probe == path else f'{probe} is'} a file, not a folder; "
                         "choose another --out-dir")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: {probe} is not writable; choose another --out-dir")
    return path


class RunDir:
    """``<out_dir>/<exp_name>``: numbered folders claimed race-free, and its manifest.

    ``rank``: this process's rank in a run over several (``torchrun``); it writes its own
    manifest part (``files.manifest``); every part is read as one manifest."""

    def __init__(self, out_dir, exp_name: str, rank: int | None = None):
        self.root = Path(out_dir) / exp_name
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest = self.root / MANIFEST
        self.part = self.root / part_name(rank)

    def records(self) -> list[dict]:
        """The records of every manifest part (a torn last line from a killed run is ignored)."""
        return read_manifest(self.root)

    @contextlib.contextmanager
    def resume_lock(self):
        """Held by the one run that resumes this folder (an exclusive lock on ``.resume.lock``,
        released when the process ends however it ends); a second resume at the same time
        raises ``RunBusyError`` instead of redoing the same jobs. Without ``fcntl`` (Windows)
        it is a no-op."""
        try:
            import fcntl
        except ImportError:
            yield
            return
        with open(self.root / ".resume.lock", "a+") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise RunBusyError(f"{self.root} is being resumed by {holder}; wait for it to finish") from None
            f.seek(0)
            f.truncate()
            f.write(f"pid {os.getpid()}")
            f.flush()
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def changed_settings(self, settings: dict) -> list[str]:
        """How ``settings`` differ from those the run's done jobs were made with, one
        "name: old -> new" line per setting (empty when they agree or nothing is done)."""
        old = next((r.get("settings") for r in reversed(self.records()) if r.get("status") == "done"), None)
        if not old:
            return []
        return [f"{k}: {old.get(k)!r} -> {settings.get(k)!r}" for k in sorted(set(old) | set(settings))
                if old.get(k) != settings.get(k)]

    def done_keys(self) -> set[str]:
        return {r["key"] for r in self.records() if r.get("status") == "done"}

    def incomplete(self) -> dict[str, Path]:
        """key -> folder of jobs a killed run claimed but never finished."""
        out = {}
        for marker in self.root.glob(f"*/{MARKER}"):
            try:
                out[json.loads(marker.read_text(encoding="utf-8"))["key"]] = marker.parent
            except (OSError, ValueError, KeyError):
                continue
        return out

    def drop_finished_markers(self) -> int:
        """Remove the markers a process killed inside ``finish`` left (its manifest line written,
        the marker not yet dropped): a marker whose job the manifest records as done in that
        same folder. Returns how many were removed."""
        done = {r["key"]: r.get("folder") for r in self.records() if r.get("status") == "done"}
        n = 0
        for key, folder in self.incomplete().items():
            if key in done and done[key] == folder.name:
                (folder / MARKER).unlink(missing_ok=True)
                n += 1
        return n

    def claim(self, job: "Job", reuse: Path | None = None) -> Path:
        """A fresh numbered folder (one more than the largest), marked incomplete as it appears
        (see the module docstring); or ``reuse`` (emptied) for a resumed job."""
        if reuse is not None:
            for f in reuse.iterdir():
                if f.is_file() and f.name != MARKER:
                    f.unlink()
            folder = reuse
            (folder / MARKER).write_text(json.dumps({"key": job.key}), encoding="utf-8")
            return folder
        tmp = self.root / f".claim-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()
        try:
            (tmp / MARKER).write_text(json.dumps({"key": job.key}), encoding="utf-8")
            nums = [int(p.name) for p in self.root.iterdir() if p.name.isdigit() and p.is_dir()]
            k = max(nums, default=-1) + 1
            while True:
                folder = self.root / str(k)
                try:
                    os.rename(tmp, folder)  # the folder appears with its marker, or not at all
                    return folder
                except OSError as e:  # <k> is there and holds something (another run's): the next one
                    if not isinstance(e, FileExistsError) and e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    k += 1
        except BaseException:  # a full disk, an interrupt: no private folder is left behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def finish(self, folder: Path | None, record: dict) -> None:
        """Append the job's manifest line to this process's part (one write, flushed), then drop
        the folder's marker."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with open(self.part, "ab+") as f:  # appends go to the end whatever the read position
            size = f.seek(0, os.SEEK_END)
            if size:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    line = b"\n" + line  # a killed run left a torn last line: start a fresh one
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if folder is not None and record.get("status") == "done":
            (folder / MARKER).unlink(missing_ok=True)
