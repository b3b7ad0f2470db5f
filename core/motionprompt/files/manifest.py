"""A run's manifest: ``manifest.jsonl`` and, for a run over several processes (``torchrun``),
one part per rank, ``manifest.rank<R>.jsonl``, read together as one manifest.

Each line is one JSON record (a finished or failed job, ``motionprompt.app.batch``); a part is
only ever appended to by one process at a time, so no two processes write into one file (appends
from several hosts to one file on a network file system can interleave). A torn last line
(a process killed mid-write) and lines that are not JSON objects are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["MANIFEST", "manifest_parts", "part_name", "read_manifest"]

MANIFEST = "manifest.jsonl"


def part_name(rank: int | None) -> str:
    """The manifest file a process writes: ``manifest.jsonl`` alone, ``manifest.rank<R>.jsonl``
    as rank R of several."""
    return MANIFEST if rank is None else f"manifest.rank{int(rank)}.jsonl"


def manifest_parts(run_root) -> list[Path]:
    """The run's manifest files: ``manifest.jsonl`` first, then the rank parts by rank."""
    root = Path(run_root)
    ranks = []
    for p in root.glob("manifest.rank*.jsonl"):
        tail = p.name[len("manifest.rank"):-len(".jsonl")]
        if tail.isdigit():
            ranks.append((int(tail), p))
    main = root / MANIFEST
    return ([main] if main.is_file() else []) + [p for _, p in sorted(ranks)]


def read_manifest(run_root) -> list[dict]:
    """Every record of every part, in the order they were written (their ``time``; records of
    one part keep their order)."""
    out, parts = [], manifest_parts(run_root)
    for part in parts:
        try:
            text = part.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    if len(parts) > 1:
        out.sort(key=lambda r: r.get("time") if isinstance(r.get("time"), (int, float)) else 0.0)
    return out
