"""``index.html`` for a batch run: every prompt with its preview GIF, seed, length and timings,
so a person reviews a whole batch in one page (static HTML, no scripts, no external files).

``write_gallery(run_dir, entries)`` takes one dict per result:

- ``prompt`` (str, required); ``prompt_rewritten`` (str) when a rewrite was generated too;
- ``gif``, ``mp4``, ``png``, ``folder``: paths of the result's files (absolute, or relative to
  ``run_dir``); links are written relative to ``run_dir``;
- ``seed`` (int); ``frames`` (or ``length``) and ``fps`` (default 30) for the length;
- ``timings``: {step name: seconds}; ``error`` (str) when the result failed;
- any other key is listed under "details" as ``key: value``.

Every text is HTML-escaped; the file is written atomically.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from ..atomic import atomic_path
from .manifest import read_manifest

__all__ = ["write_gallery", "gallery_html", "entries_from_records", "write_run_gallery"]

_KNOWN = {"prompt", "prompt_rewritten", "gif", "mp4", "png", "folder", "seed", "frames", "length", "fps",
          "timings", "error"}

_CSS = """
body { font-family: system-ui, -apple-system, "DejaVu Sans", sans-serif; margin: 1.5rem; color: #202020;
       background: #f6f6f6; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem 0; }
p.summary { margin: 0 0 1.2rem 0; color: #555; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6rem; }
.card img { width: 100%; height: auto; display: block; background: #fff; aspect-ratio: 1 / 1; }
.card .missing { aspect-ratio: 1 / 1; display: flex; align-items: center; justify-content: center;
                 color: #999; background: #fafafa; }
.prompt { font-weight: 600; margin: .5rem 0 .2rem 0; overflow-wrap: anywhere; }
.rewritten { color: #555; font-size: .9rem; margin: 0 0 .2rem 0; overflow-wrap: anywhere; }
.meta { color: #555; font-size: .85rem; margin: .2rem 0; }
.error { color: #a00000; font-size: .9rem; overflow-wrap: anywhere; }
.links a { margin-right: .8rem; font-size: .85rem; }
details { font-size: .8rem; color: #555; }
""".strip()


def _link(run_dir: Path, value) -> str | None:
    """A relative, URL-quoted link from ``run_dir`` to a file path (None when absent)."""
    if value in (None, ""):
        return None
    p = Path(value)
    if p.is_absolute():
        p = Path(os.path.relpath(p, run_dir))
    return quote(p.as_posix())


def _seconds(x) -> str:
    return f"{float(x):.2f} s" if float(x) < 100 else f"{float(x):.0f} s"


def _card(run_dir: Path, number: int, e: dict) -> str:
    esc = html.escape
    prompt = str(e.get("prompt", ""))
    parts = [f'<div class="card" id="r{number}">']
    gif = _link(run_dir, e.get("gif"))
    if gif:
        parts.append(f'<a href="{esc(gif)}"><img src="{esc(gif)}" alt="{esc(prompt)}" loading="lazy"></a>')
    else:
        parts.append('<div class="missing">no preview</div>')
    parts.append(f'<p class="prompt">{number}. {esc(prompt)}</p>')
    if e.get("prompt_rewritten"):
        parts.append(f'<p class="rewritten">rewritten: {esc(str(e["prompt_rewritten"]))}</p>')
    meta = []
    if e.get("seed") is not None:
        meta.append(f"seed {esc(str(e['seed']))}")
    frames = e.get("frames", e.get("length"))
    if frames is not None:
        fps = float(e.get("fps") or 30.0)
        meta.append(f"{int(frames)} frames ({int(frames) / fps:.1f} s at {fps:g} fps)")
    if meta:
        parts.append(f'<p class="meta">{" · ".join(meta)}</p>')
    timings = e.get("timings") or {}
    if timings:
        text = " · ".join(f"{esc(str(k))} {_seconds(v)}" for k, v in timings.items())
        parts.append(f'<p class="meta">{text}</p>')
    if e.get("error"):
        parts.append(f'<p class="error">error: {esc(str(e["error"]))}</p>')
    links = [(name, _link(run_dir, e.get(key))) for name, key in
             (("MP4", "mp4"), ("contact sheet", "png"), ("GIF", "gif"), ("folder", "folder"))]
    links = [f'<a href="{esc(href)}">{name}</a>' for name, href in links if href]
    if links:
        parts.append(f'<p class="links">{"".join(links)}</p>')
    extra = {k: v for k, v in e.items() if k not in _KNOWN}
    if extra:
        rows = "".join(f"<li>{esc(str(k))}: {esc(str(v))}</li>" for k, v in extra.items())
        parts.append(f"<details><summary>details</summary><ul>{rows}</ul></details>")
    parts.append("</div>")
    return "\n".join(parts)


def gallery_html(run_dir, entries: list[dict], title: str | None = None) -> str:
    """The gallery page as a string (see the module docstring for the entry keys)."""
    run_dir = Path(run_dir)
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or "prompt" not in e:
            raise ValueError(f"gallery entry {k} must be a dict with a 'prompt' (got {type(e).__name__})")
    title = title or f"motionprompt: {run_dir.resolve().name}"
    total = sum(float(v) for e in entries for v in (e.get("timings") or {}).values())
    failed = sum(1 for e in entries if e.get("error"))
    summary = f"{len(entries)} prompt{'s' if len(entries) != 1 else ''}"
    if failed:
        summary += f", {failed} failed"
    if total:
        summary += f", {_seconds(total)} in all"
    cards = "\n".join(_card(run_dir, k + 1, e) for k, e in enumerate(entries))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n<p class=\"summary\">{html.escape(summary)}</p>\n"
            f'<div class="grid">\n{cards}\n</div>\n</body>\n</html>\n')


def write_gallery(run_dir, entries: list[dict], title: str | None = None, name: str = "index.html") -> Path:
    """Write ``run_dir/index.html`` (atomically) showing every entry; returns its path."""
    run_dir = Path(run_dir)
    page = gallery_html(run_dir, entries, title)
    path = run_dir / name
    with atomic_path(path) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    return path


def entries_from_records(records: list[dict]) -> list[dict]:
    """Gallery entries from batch manifest records (``motionprompt.app.batch``): the last record of
    each job, ordered by prompt line and sample; the GIF / MP4 of the prompt as written (flag 0)."""
    last: dict = {}
    for r in records:
        last[r.get("key", id(r))] = r
    ordered = sorted(last.values(), key=lambda r: (r.get("line") or 0, r.get("sample") or 0))
    entries = []
    for r in ordered:
        folder = r.get("folder")
        files = [f for f in r.get("files") or [] if not f.startswith("1_")]

        def pick(suffix: str):
            name = next((f for f in files if f.endswith(suffix)), None)
            return f"{folder}/{name}" if name and folder else None

        texts = r.get("texts") or {}
        timings = {k[:-2] if k.endswith("_s") else k: v for k, v in (r.get("timings") or {}).items()}
        entries.append({
            "prompt": r.get("prompt", ""), "prompt_rewritten": texts.get("1"), "gif": pick(".gif"),
            "mp4": pick(".mp4"), "folder": folder, "seed": r.get("seed"), "frames": r.get("frames"),
            "fps": (r.get("settings") or {}).get("fps"), "timings": timings, "error": r.get("error"),
            "line": r.get("line"), "sample": r.get("sample"),
        })
    return entries


def write_run_gallery(run_root) -> Path:
    """``index.html`` of a batch run folder from its manifest, every rank's part included
    (``files.manifest``; torn or foreign lines skipped)."""
    run_root = Path(run_root)
    records = [r for r in read_manifest(run_root) if "prompt" in r]
    return write_gallery(run_root, entries_from_records(records))
