"""The ``generate`` and ``batch`` subcommands (hooked into ``motionprompt.app.cli``).

    motionprompt generate "a person waves with the right hand" --seconds 6 --seed 7 --num 3
    motionprompt batch prompts.txt --model motionmillion-3b --out-dir results --exp-name run1 --resume

Both write the seed's layout (see ``motionprompt.app.batch``). The seed's own flag spellings are
accepted too (``--exp_name``, ``--infer_batch_prompt``, ``--resume-pth``, ``--resume-trans``,
``--text_encode``, ``--pretrained_llama``, ``--use_rewrite_model``, ``--rewrite_model_path``...).
Heavy imports (torch, transformers) happen only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_generate", "add_batch"]


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default="demo",
                   help="'demo' (shipped), 'motionmillion-3b', 'motionmillion-7b' (release checkpoints under "
                        "$MOTIONPROMPT_CHECKPOINTS, default ./checkpoints) or a model .toml file")
    g.add_argument("--resume-trans", "--resume_trans", dest="resume_trans", type=Path, default=None,
                   help="prefix-LM checkpoint (overrides the model file)")
    g.add_argument("--resume-pth", "--resume_pth", dest="resume_pth", type=Path, default=None,
                   help="VQ-VAE checkpoint (overrides the model file)")
    g.add_argument("--text-encode", "--text_encode", dest="text_encode", default=None,
                   choices=["flan-t5-xl", "flan-t5-xxl", "t5", "minilm"], help="text encoder kind (overrides)")
    g.add_argument("--text-encoder-path", dest="text_encoder_path", type=Path, default=None,
                   help="local folder of the text encoder (overrides)")
    g.add_argument("--pretrained-llama", "--pretrained_llama", dest="pretrained_llama", default=None,
                   help="prefix-LM size preset, e.g. 3B or 7B (overrides)")
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="prefix-LM precision (default: bfloat16 on CUDA, float32 on CPU)")

    s = p.add_argument_group("sampling")
    s.add_argument("--seconds", type=float, default=10.0, help="longest motion, seconds (default 10)")
    s.add_argument("--min-seconds", dest="min_seconds", type=float, default=0.0,
                   help="the model may not end the motion before this (default 0)")
    s.add_argument("--seed", type=int, default=None,
                   help="seed of the first sample (sample i uses seed+i); default: random, recorded")
    s.add_argument("--num", type=int, default=1, help="motions per prompt (default 1)")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-k", "--top_k", dest="top_k", type=int, default=None)
    s.add_argument("--top-p", "--top_p", dest="top_p", type=float, default=None)
    s.add_argument("--greedy", action="store_true", help="arg-max tokens (the release's default; ignores seeds)")
    s.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale, 1 = off (default: the model's; the demo's is in its TOML)")
    s.add_argument("--compose", action=argparse.BooleanOptionalAction, default=None,
                   help="generate each action of a prompt on its own, in order (actions are separated by "
                        "punctuation and by 'then', 'after that', ...; default: the model's, on for the demo)")
    s.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, default=None,
                   help="texts per forward pass (default: 64 on CUDA, 8 on CPU)")

    o = p.add_argument_group("output")
    o.add_argument("--out-dir", "--out_dir", dest="out_dir", type=Path, default=Path("outputs"),
                   help="results folder (default ./outputs)")
    o.add_argument("--exp-name", "--exp_name", dest="exp_name", default=None,
                   help="run name under --out-dir (default: 'generate', or the prompt file's name)")
    o.add_argument("--fps", type=float, default=None, help="frame rate of the written files (default: the model's, 30)")
    o.add_argument("--no-preview", dest="preview", action="store_false", help="skip the GIF / MP4 previews")

    r = p.add_argument_group("prompt rewrite (optional)")
    r.add_argument("--use-rewrite-model", "--use_rewrite_model", dest="use_rewrite_model", action="store_true",
                   help="also generate from a rewrite of each prompt by a local LM (flag 1)")
    r.add_argument("--rewrite-model-path", "--rewrite_model_path", dest="rewrite_model_path", type=Path, default=None)


def add_generate(sub) -> None:
    p = sub.add_parser("generate", help="generate motions for one prompt",
                       description="Generate motions from a text prompt into numbered result folders.")
    p.add_argument("prompt", help="what the body should do, in English")
    _common(p)
    p.set_defaults(func=run_generate)


def add_batch(sub) -> None:
    p = sub.add_parser("batch", help="generate motions for every line of a prompt file",
                       description="Generate motions for each prompt of a UTF-8 text file (blank lines and "
                                   "'#' comments skipped) into numbered result folders with a manifest.jsonl.")
    p.add_argument("prompts", nargs="?", type=Path, default=None, help="prompt file, one prompt per line")
    p.add_argument("--infer-batch-prompt", "--infer_batch_prompt", dest="infer_batch_prompt", type=Path, default=None,
                   help="the prompt file (the seed's spelling)")
    p.add_argument("--resume", action="store_true", help="skip prompts the run's manifest records as done")
    _common(p)
    p.set_defaults(func=run_batch)


# ---------------------------------------------------------------------- running
def _fail(msg: str) -> int:
    print(f"motionprompt: {msg}", file=sys.stderr)
    return 2


def _spec(args):
    from ..models.model_spec import TEXT_DIMS, ModelSpec
    from ..models.configs import LMConfig

    spec = ModelSpec.load(args.model)
    if args.resume_trans:
        spec = spec.replace(lm_checkpoint=args.resume_trans.expanduser().resolve())
    if args.resume_pth:
        spec = spec.replace(vqvae_checkpoint=args.resume_pth.expanduser().resolve())
    if args.text_encode or args.text_encoder_path:
        te = dict(spec.text_encoder)
        if args.text_encode:
            te["kind"] = args.text_encode
        if args.text_encoder_path:
            te["path"] = args.text_encoder_path.expanduser().resolve()
        spec = spec.replace(text_encoder=te, lm=spec.lm.replace(clip_dim=TEXT_DIMS[te["kind"]]))
    if args.pretrained_llama:
        c = spec.lm
        spec = spec.replace(lm=LMConfig.from_preset(args.pretrained_llama, vocab_size=c.vocab_size,
                                                    clip_dim=c.clip_dim, block_size=c.block_size))
    return spec


def _generator(args):
    import torch

    from ..generation.generator import Generator

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = None if args.dtype == "auto" else getattr(torch, args.dtype)
    return Generator.from_spec(_spec(args), device=device, dtype=dtype)


def _jobs(prompts: list[tuple[int, str]], args):
    from .batch import Job
    from ..generation.generator import random_seed

    jobs = []
    for line, text in prompts:
        base = args.seed if args.seed is not None else random_seed()
        for i in range(args.num):
            jobs.append(Job(line=line, prompt=text, sample=i, seed=base + i, variants={0: text}))
    return jobs


def _add_rewrites(jobs, args, log) -> None:
    from .batch import build_rewriter, rewrite_prompt

    if not args.rewrite_model_path:
        log("--use-rewrite-model needs --rewrite-model-path; generating the original prompts only")
        return
    try:
        pipe = build_rewriter(args.rewrite_model_path, device=args.device if args.device != "auto" else "cpu")
    except Exception as e:
        log(f"rewrite model not available ({e}); generating the original prompts only")
        return
    cache: dict[str, str] = {}
    for job in jobs:
        if job.prompt not in cache:
            try:
                cache[job.prompt] = rewrite_prompt(pipe, job.prompt)
            except Exception as e:  # a failed rewrite falls back to the original alone
                log(f"line {job.line}: rewrite failed ({e}); original only")
                cache[job.prompt] = ""
        if cache[job.prompt]:
            job.variants[1] = cache[job.prompt]


def _run(prompts: list[tuple[int, str]], args, exp_default: str, resume: bool) -> int:
    from tqdm import tqdm

    from .batch import RunDir, run_jobs
    from ..models.model_spec import ModelSpecError
    from ..models.checkpoints import CheckpointError

    if args.num < 1:
        return _fail("--num must be >= 1")
    log = tqdm.write
    try:
        gen = _generator(args)
    except (ModelSpecError, CheckpointError, FileNotFoundError, ValueError) as e:
        return _fail(str(e))
    jobs = _jobs(prompts, args)
    if args.use_rewrite_model:
        _add_rewrites(jobs, args, log)
    run = RunDir(args.out_dir, args.exp_name or exp_default)
    fps = args.fps or gen.spec.fps
    settings = dict(model=gen.spec.name, seconds=args.seconds, min_seconds=args.min_seconds,
                    temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
                    guidance=gen.default_guidance if args.guidance is None else args.guidance, fps=fps,
                    compose=gen.default_compose if args.compose is None else args.compose,
                    device=str(gen.device), dtype=str(gen.dtype).replace("torch.", ""))
    batch_size = args.batch_size or (64 if gen.device.type == "cuda" else 8)

    def generate(texts, seeds):
        motions = gen.generate(texts, seconds=args.seconds, min_seconds=args.min_seconds, seeds=seeds,
                               temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                               greedy=args.greedy, guidance=args.guidance, batch_size=batch_size,
                               compose=args.compose)
        return [m.resampled(fps) for m in motions]

    with tqdm(total=len(jobs), unit="motion", disable=len(jobs) < 2) as bar:
        records = run_jobs(jobs, run, generate, settings, batch_size=batch_size, previews=args.preview,
                           resume=resume, progress=bar, log=log)
    for r in records:
        if r["status"] == "done":
            print(run.root / r["folder"])
    try:  # index.html: every prompt of the run with its GIF, seed, length and timings
        from ..files.gallery import write_run_gallery

        print(f"gallery: {write_run_gallery(run.root)}", file=sys.stderr)
    except OSError as e:
        print(f"motionprompt: could not write the gallery page: {e}", file=sys.stderr)
    failed = [r for r in records if r["status"] != "done"]
    if failed:
        print(f"motionprompt: {len(failed)} of {len(records)} job(s) failed; see {run.manifest}", file=sys.stderr)
    return 1 if failed else 0


def run_generate(args) -> int:
    if not args.prompt.strip():
        return _fail("the prompt is empty")
    return _run([(1, args.prompt.strip())], args, "generate", resume=False)


def run_batch(args) -> int:
    from .batch import PromptFileError, read_prompts

    path = args.prompts or args.infer_batch_prompt
    if path is None:
        return _fail("batch needs a prompt file (PROMPTS.txt or --infer-batch-prompt)")
    try:
        prompts = read_prompts(path)
    except PromptFileError as e:
        return _fail(str(e))
    if not prompts:
        return _fail(f"{path}: no prompts (blank lines and '#' comments are skipped)")
    return _run(prompts, args, Path(path).stem, resume=args.resume)
