"""A batch over several processes, GPUs and hosts (``torchrun``): ranks, job claims, one launch.

    torchrun --nproc-per-node 4 -m motionprompt batch prompts.txt --out-dir /shared/results
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m motionprompt batch prompts.txt --out-dir /shared/results --resume

Every rank (``RANK`` of ``WORLD_SIZE``, on ``cuda:LOCAL_RANK`` when CUDA is there) reads the
whole prompt file, and takes jobs as it goes: before a group of jobs is generated, each of them
is claimed with an exclusive create of ``<run>/.claims/<launch>/<hash of the job key>``, so a job
is made by one rank only, fast ranks take more, and a rank that dies has lost only the jobs it
had claimed and not finished (at most one group): their folders stay marked incomplete and a
``--resume`` redoes them in the same folders. ``<launch>`` is one id for all ranks of one
launch (rank 0 draws it and sends it to the others over a gloo process group, which torchrun's
environment sets up), so the claims of a killed launch never block the next one (a resume
removes them when it is done).

Rank 0 alone checks a ``--resume`` (settings, and the resume lock of ``rundir``) and tells the
others the outcome; it holds the lock until every rank is done, so a second run cannot resume
the same folder while any rank of this one still writes. Each rank writes its own manifest
part (``files.manifest``) and, when done, the run's ``index.html`` from all parts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Ranks", "JobClaims", "Launch", "env_int"]


def env_int(name: str, default: int) -> int:
    """The whole number in environment variable ``name`` (``default`` when unset or empty);
    ValueError naming it otherwise."""
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"${name}={value!r} is not a whole number (torchrun sets it)") from None


@dataclass(frozen=True)
class Ranks:
    """This process's place in a launch: ``rank`` of ``world`` (``local_rank`` on its host)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Ranks":
        """From torchrun's ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (one process: 0 of 1)."""
        world = env_int("WORLD_SIZE", 1)
        rank = env_int("RANK", 0)
        local = env_int("LOCAL_RANK", rank)
        if world < 1 or not 0 <= rank < world or local < 0:
            raise ValueError(f"$RANK={rank} / $WORLD_SIZE={world} / $LOCAL_RANK={local} do not fit together")
        return cls(rank, world, local)

    @property
    def several(self) -> bool:
        return self.world > 1

    def device(self, asked: str, cuda_available: bool) -> str:
        """The device this rank runs on: ``auto`` / ``cuda`` become ``cuda:LOCAL_RANK`` where
        CUDA is (one GPU per rank), ``auto`` is the CPU elsewhere; an explicit index is kept."""
        if not self.several or asked not in ("auto", "cuda"):
            return asked
        if cuda_available:
            return f"cuda:{self.local_rank}"
        return "cpu" if asked == "auto" else asked


class JobClaims:
    """Job claims of one launch in ``<run>/.claims/<launch>/``: ``claim(job)`` is True for the
    one rank whose exclusive create of the job's file succeeded (its content names the rank,
    host and pid)."""

    def __init__(self, run_root, launch: str, ranks: Ranks):
        self.dir = Path(run_root) / ".claims" / launch
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ranks = ranks
        self._who = json.dumps({"rank": ranks.rank, "host": socket.gethostname(), "pid": os.getpid()})

    def path(self, key: str) -> Path:
        return self.dir / hashlib.sha1(key.encode("utf-8")).hexdigest()

    def claim(self, job) -> bool:
        try:
            fd = os.open(self.path(job.key), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self._who)
        return True

    def remove(self, stale: bool = False) -> None:
        """Drop this launch's claims (once all its ranks are done); ``stale``: those of killed
        launches too (under the resume lock, when no other run may write here)."""
        shutil.rmtree(self.dir.parent if stale else self.dir, ignore_errors=True)
        try:
            self.dir.parent.rmdir()  # .claims/ when no other launch's claims are left
        except OSError:
            pass


class Launch:
    """The ranks of one launch, talking over a gloo process group (only when there are several):
    ``share(obj)`` sends rank 0's object to every rank, ``gather(obj)`` gives every rank all
    ranks' objects, ``wait_all()`` returns once every rank has called it. One process: all local."""

    def __init__(self, ranks: Ranks):
        self.ranks = ranks
        self._group = False
        if ranks.several:
            import datetime

            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", rank=ranks.rank, world_size=ranks.world,
                                        timeout=datetime.timedelta(hours=12))
                self._group = True

    def share(self, obj):
        if not self.ranks.several:
            return obj
        import torch.distributed as dist

        box = [obj if self.ranks.rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj) -> list:
        """Every rank's ``obj``, in rank order, on every rank (one process: ``[obj]``)."""
        if not self.ranks.several:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.ranks.world
        dist.all_gather_object(out, obj)
        return out

    def new_id(self) -> str:
        """One id for this launch, the same on every rank."""
        return self.share(uuid.uuid4().hex[:16] if self.ranks.rank == 0 else None)

    def wait_all(self) -> None:
        if self.ranks.several:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self._group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._group = False
