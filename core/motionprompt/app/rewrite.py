"""Optional prompt rewrite by a local instruction-tuned LM (the release's ``--use_rewrite_model``):
each prompt is also generated from a short, concrete rewrite of it (result flag 1)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

__all__ = ["build_rewriter", "rewrite_prompt", "add_rewrites", "REWRITE_INSTRUCTION"]

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


def add_rewrites(jobs, path, device: str, log: Callable[[str], None], launch=None) -> str:
    """Give each job a rewritten text (flag 1) from the model in ``path``; a prompt whose rewrite
    fails, or a model that cannot load, leaves the original alone (logged). Returns what
    happened, for the manifest: "used", or why no rewrite was made.

    ``launch`` (``app.ranks.Launch``, torchrun): every rank reads the same jobs; each rewrites
    every world-th distinct prompt (rank r: the r-th, r + world-th, ...) and the ranks swap
    their rewrites, so each prompt is rewritten once and every rank ends with the same texts
    and the same answer (a model that failed to load on any rank: no rewrites anywhere)."""
    if not path:
        log("warning: --use-rewrite-model needs --rewrite-model-path; generating the original prompts only")
        return "not used: no --rewrite-model-path"
    prompts = list(dict.fromkeys(job.prompt for job in jobs))
    rank, world = (0, 1) if launch is None else (launch.ranks.rank, launch.ranks.world)
    lines = {}
    for job in jobs:
        lines.setdefault(job.prompt, job.line)
    status, cache = "used", {}
    try:
        pipe = build_rewriter(path, device=device)
    except Exception as e:  # noqa: BLE001 - any load failure falls back to the originals
        status = f"not used: {e}"
    else:
        for prompt in prompts[rank::world]:
            try:
                cache[prompt] = rewrite_prompt(pipe, prompt)
            except Exception as e:  # noqa: BLE001 - a failed rewrite falls back to the original alone
                log(f"line {lines[prompt]}: rewrite failed ({e}); original only")
                cache[prompt] = ""
    if launch is not None:
        parts = launch.gather((status, cache))
        status = next((s for s, _ in parts if s != "used"), "used")
        cache = {k: v for _, c in parts for k, v in c.items()}
    if status != "used":
        log(f"warning: rewrite model not available ({status[len('not used: '):]}); generating the original "
            "prompts only")
        return status
    for job in jobs:
        if cache.get(job.prompt):
            job.texts[1] = cache[job.prompt]
    return "used"
