"""Batch runs: prompt files, numbered result folders, a manifest, resuming, optional rewrites.

Layout (as the seed's ``inference_batch.py``)::

    <out_dir>/<exp_name>/manifest.jsonl        one JSON line per finished or failed job
    <out_dir>/<exp_name>/<k>/{flag}_predict.npy (T, 272) de-normalised frames
                             {flag}_text.txt     the prompt that was generated
                             {flag}_smplx.npz    SMPL-X poses / trans (formats "npz")
                             {flag}_<first 50 chars>.gif / .mp4   previews, when available

``flag`` 0 is the prompt as written, 1 its rewrite (``--use-rewrite-model``). A job is one
(prompt line, sample number); its folder ``k`` is claimed with an exclusive ``mkdir`` (concurrent
runs never share one) and holds an ``.incomplete`` marker until its files are written and its
manifest line is appended. ``--resume`` skips jobs the manifest records as done and reuses the
folders of jobs a killed run left incomplete, so nothing is lost or duplicated.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..body.motion import Motion

__all__ = ["PromptFileError", "Job", "read_prompts", "RunDir", "run_jobs", "build_rewriter", "rewrite_prompt",
           "output_files", "short_name"]

MARKER = ".incomplete"


class PromptFileError(ValueError):
    """A prompt file that cannot be read (names the file and line)."""


# ---------------------------------------------------------------------- prompts
def read_prompts(path) -> list[tuple[int, str]]:
    """(line number, prompt) for every non-blank, non-``#`` line of a UTF-8 text file.

    Raises:
        PromptFileError naming the file and the first line that is not UTF-8.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PromptFileError(f"cannot read prompt file {path}: {e.strerror or e}") from e
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    out = []
    for n, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            raise PromptFileError(f"{path}, line {n}: not UTF-8 text (byte 0x{line[e.start]:02x} at column "
                                  f"{e.start + 1}); save the file as UTF-8") from None
        if text and not text.startswith("#"):
            out.append((n, text))
    return out


def short_name(prompt: str, n: int = 50) -> str:
    """The seed's preview file stem: the first ``n`` characters (``...`` when cut), made safe
    for file names on every OS."""
    s = prompt.strip()
    cut = len(s) > n
    s = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", s[:n]).rstrip(". ") or "motion"
    return s + "..." if cut else s


# ---------------------------------------------------------------------- run folder
@dataclass
class Job:
    """One motion to make: a prompt (and its line), sample number, seed, and text variants."""

    line: int
    prompt: str
    sample: int = 0
    seed: int | None = None
    variants: dict = field(default_factory=dict)  # flag -> text

    @property
    def key(self) -> str:
        return f"{self.line}:{self.sample}:{self.prompt}"


class RunDir:
    """``<out_dir>/<exp_name>``: numbered folders claimed race-free, and ``manifest.jsonl``."""

    def __init__(self, out_dir, exp_name: str):
        self.root = Path(out_dir) / exp_name
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest = self.root / "manifest.jsonl"

    def records(self) -> list[dict]:
        """The manifest's records (a torn last line from a killed run is ignored)."""
        if not self.manifest.is_file():
            return []
        out = []
        for line in self.manifest.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

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

    def claim(self, job: Job, reuse: Path | None = None) -> Path:
        """A fresh numbered folder (one more than the largest), created with an exclusive mkdir,
        marked incomplete; or ``reuse`` (emptied) for a resumed job."""
        if reuse is not None:
            for f in reuse.iterdir():
                if f.is_file() and f.name != MARKER:
                    f.unlink()
            folder = reuse
        else:
            nums = [int(p.name) for p in self.root.iterdir() if p.name.isdigit() and p.is_dir()]
            k = max(nums, default=-1) + 1
            while True:
                folder = self.root / str(k)
                try:
                    folder.mkdir()
                    break
                except FileExistsError:
                    k += 1
        (folder / MARKER).write_text(json.dumps({"key": job.key}), encoding="utf-8")
        return folder

    def finish(self, folder: Path | None, record: dict) -> None:
        """Append the job's manifest line (one write, flushed), then drop the folder's marker."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with open(self.manifest, "ab+") as f:  # appends go to the end whatever the read position
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


# ---------------------------------------------------------------------- files of one motion
def output_files(motion: Motion, folder: Path, flag: int, previews: bool = True) -> list[str]:
    """Write one motion's files into ``folder`` (see module docstring); returns their names."""
    from ..atomic import atomic_path
    from ..files import formats

    written = []
    formats.export(motion, "npy", folder / f"{flag}_predict.npy")
    written.append(f"{flag}_predict.npy")
    with atomic_path(folder / f"{flag}_text.txt") as tmp:
        Path(tmp).write_text(motion.prompt + "\n", encoding="utf-8")
    written.append(f"{flag}_text.txt")
    formats.export(motion, "npz", folder / f"{flag}_smplx.npz")
    written.append(f"{flag}_smplx.npz")
    if previews:  # GIF and MP4 from one pass over the frames
        from ..files.preview import write_gif_and_mp4

        stem = f"{flag}_{short_name(motion.prompt)}"
        write_gif_and_mp4(motion, folder / f"{stem}.gif", folder / f"{stem}.mp4")
        written += [f"{stem}.gif", f"{stem}.mp4"]
    return written


# ---------------------------------------------------------------------- optional rewrite
REWRITE_INSTRUCTION = (
    "Rewrite the following description of a human motion so that it is short, concrete and clear, "
    "keeping its meaning and the order of its actions. Put only the rewritten sentence between curly "
    "braces, like {A person walks forward slowly.}. Description: ")


def build_rewriter(path, device: str = "cpu"):
    """A local instruction-tuned causal LM (transformers text-generation pipeline); built only
    when a rewrite is asked for."""
    import torch
    from transformers import pipeline

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"rewrite model folder {folder} not found (--rewrite-model-path)")
    dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    return pipeline("text-generation", model=str(folder), device=device,
                    model_kwargs={"torch_dtype": dtype, "local_files_only": True})


def rewrite_prompt(pipe, text: str, max_new_tokens: int = 128) -> str:
    """The rewritten prompt (the first {...} or [...] of the reply, else its first line)."""
    reply = pipe([{"role": "user", "content": REWRITE_INSTRUCTION + text}], max_new_tokens=max_new_tokens,
                 do_sample=False)
    out = reply[0]["generated_text"]
    content = out[-1]["content"] if isinstance(out, list) else str(out)
    found = re.findall(r"\{(.*?)\}", content, re.S) + re.findall(r"\[(.*?)\]", content, re.S)
    cand = (found[0] if found else content.strip().splitlines()[0] if content.strip() else "").strip()
    if not cand:
        raise ValueError("the rewrite model gave an empty answer")
    return cand


# ---------------------------------------------------------------------- running
def run_jobs(jobs: list[Job], run: RunDir, generate: Callable[[list[str], list[int]], list[Motion]],
             settings: dict, batch_size: int = 16, previews: bool = True, resume: bool = False,
             progress: Iterable | None = None, log: Callable[[str], None] = print) -> list[dict]:
    """Generate and write every job; returns the manifest records written by this call.

    ``generate(prompts, seeds)`` makes one motion per prompt. Jobs go in batches of
    ``batch_size`` text variants; when a batch fails, its jobs are retried one by one so a
    single bad prompt is recorded (status "failed", with its error) and the rest go on.
    ``progress`` is an optional tqdm-like object (``update(n)``).
    """
    done = run.done_keys() if resume else set()
    leftovers = run.incomplete() if resume else {}
    todo = [j for j in jobs if j.key not in done]
    skipped = len(jobs) - len(todo)
    if skipped:
        log(f"resume: {skipped} job(s) already done in {run.manifest}")
        if progress is not None:
            progress.update(skipped)
    records = []
    i = 0
    while i < len(todo):
        group, n_texts = [], 0
        while i < len(todo) and (not group or n_texts + len(todo[i].variants) <= batch_size):
            group.append(todo[i])
            n_texts += len(todo[i].variants)
            i += 1
        try:
            records += _run_group(group, run, generate, settings, previews, leftovers)
        except Exception:
            finished = {r["key"] for r in records}
            for job in group:  # find the culprit: one by one (jobs already written stay as they are)
                if job.key in finished:
                    continue
                try:
                    records += _run_group([job], run, generate, settings, previews, leftovers)
                except Exception as e:
                    rec = dict(key=job.key, line=job.line, prompt=job.prompt, sample=job.sample, seed=job.seed,
                               status="failed", error=f"{type(e).__name__}: {e}", settings=settings,
                               folder=None, files=[], time=time.time())
                    run.finish(None, rec)
                    records.append(rec)
                    log(f"line {job.line}: failed: {rec['error']}")
                    if os.environ.get("MOTIONPROMPT_DEBUG"):
                        traceback.print_exc()
        if progress is not None:
            progress.update(len(group))
    return records


def _run_group(group: list[Job], run: RunDir, generate, settings: dict, previews: bool,
               leftovers: dict) -> list[dict]:
    texts, seeds, owners = [], [], []
    for job in group:
        for flag, text in sorted(job.variants.items()):
            texts.append(text)
            seeds.append(job.seed)
            owners.append((job, flag))
    t0 = time.perf_counter()
    motions = generate(texts, seeds)
    t_gen = (time.perf_counter() - t0) / max(1, len(group))
    records = []
    by_job: dict[str, list] = {}
    for (job, flag), motion in zip(owners, motions):
        by_job.setdefault(job.key, []).append((flag, motion))
    for job in group:
        t1 = time.perf_counter()
        folder = run.claim(job, reuse=leftovers.get(job.key))
        leftovers[job.key] = folder  # a retry after a failure below reuses it
        files, texts_out = [], {}
        for flag, motion in by_job[job.key]:
            files += output_files(motion, folder, flag, previews)
            texts_out[str(flag)] = motion.prompt
        first = by_job[job.key][0][1]
        rec = dict(key=job.key, line=job.line, prompt=job.prompt, sample=job.sample, seed=first.seed,
                   status="done", error=None, settings=settings, folder=folder.name, files=files,
                   texts=texts_out, frames=first.num_frames, seconds=round(first.duration, 3),
                   ended=first.meta.get("ended"), **({"segments": first.meta["segments"]}
                                                     if "segments" in first.meta else {}),
                   timings=dict(generate_s=round(t_gen, 4), write_s=round(time.perf_counter() - t1, 4)),
                   time=time.time())
        run.finish(folder, rec)
        leftovers.pop(job.key, None)
        records.append(rec)
    return records
