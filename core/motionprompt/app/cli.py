"""The ``motionprompt`` command line.

    motionprompt export MOTION.npy --to bvh,npz [-o OUT]
    motionprompt generate "a person waves with the right hand" --seconds 6 --seed 7 --num 3
    motionprompt batch prompts.txt --model motionmillion-3b --out-dir results --exp-name run1 --resume

``generate`` and ``batch`` build one ``GenerateRequest`` from their flags and validate it against
the model's TOML before any model loads: a bad option exits with code 2, a message naming it and
nothing written. They write MotionMillion's result layout (``app.batch``); the release's own flag
spellings are accepted too (``--exp_name``, ``--infer_batch_prompt``, ``--resume-pth``,
``--resume-trans``, ``--text_encode``, ``--pretrained_llama``, ``--use_rewrite_model``,
``--rewrite_model_path``...). Heavy imports (torch, transformers) happen only when a model loads.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import sys
from pathlib import Path

from .. import postprocess
from ..request import GenerateRequest, RequestError

__all__ = ["main", "build_parser", "request_from_args", "option_message", "trim_span", "caption_setting"]


#: The errors of a full disk or quota: a batch that hits them is told to free space and resume.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _fail(msg: str) -> int:
    print(f"motionprompt: {msg}", file=sys.stderr)
    return 2


def option_message(e: RequestError) -> str:
    """A request error in the command line's words (``--min-seconds`` for ``min_seconds``);
    tools/bake.py words its errors the same way."""
    flag = {"prompts": "prompt", "seeds": "--seed", "post": "--fps", "root": "--in-place"}.get(
        e.option, "--" + e.option.replace("_", "-"))
    return f"{flag}{str(e)[len(e.option):]}"


def _option_error(e: RequestError) -> int:
    return _fail(option_message(e))


# ---------------------------------------------------------------------- export
def _add_export(sub) -> None:
    p = sub.add_parser("export", help="convert a motion file to other formats",
                       description="Convert a motion (.npy T x 272 de-normalised, .npy T x 85 smplx85, "
                                   "or .npz with poses/trans) to one or more formats.")
    p.add_argument("motion", type=Path, help="input motion file")
    p.add_argument("--to", dest="formats", action="append", required=True, metavar="FORMAT",
                   help="output format (repeatable, or comma-separated); 'all' for every format")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output file (one format) or folder (several formats; a file name there is an "
                        "error); default: beside the input")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of a .npy input (default 30)")
    p.add_argument("--preview-size", dest="preview_size", type=int, default=960, metavar="PIXELS",
                   help="side of the gif / mp4 previews (default 960)")
    p.add_argument("--prompt", default="", help="text stored with the motion (titles, npz)")
    p.add_argument("--smplx-model", type=Path, default=None, metavar="DIR",
                   help="SMPL-X model folder: exact J0 for transl in npz/smplx85/smplx322")
    p.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"),
                   help="SMPL-X model gender with --smplx-model (default neutral)")
    _add_post(p, "--out-fps", "frame rate of the written files (default: the input's)")
    p.set_defaults(func=_run_export)


def trim_span(text: str) -> tuple:
    """``START:END`` seconds (either side may be left out: ``:4``, ``1.5:``) for ``--trim``."""
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return (float(start) if start.strip() else 0.0, float(end) if end.strip() else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not START:END seconds (e.g. 0.5:4)") from None


def _add_post(p, fps_flag: str, fps_help: str) -> None:
    """The post-processing flags (``postprocess.PostProcess``)."""
    g = p.add_argument_group("post-processing")
    g.add_argument(fps_flag, dest="post_fps", type=float, default=None, help=fps_help)
    g.add_argument("--in-place", dest="in_place", action="store_true",
                   help="remove the root's travel on the floor plane (height and rotations kept)")
    g.add_argument("--trim", type=trim_span, default=None, metavar="START:END",
                   help="keep the stretch from START to END seconds (either may be left out)")
    g.add_argument("--foot-lock", dest="foot_lock", default="off", choices=postprocess.LOCK_MODES,
                   help="pin planted feet on the floor: toes (the ball stays down), feet (the heel), off (default)")
    g.add_argument("--lock-strength", dest="lock_strength", type=float, default=1.0, metavar="0..1",
                   help="how far toward its pin a planted foot goes (default 1: all the way)")
    g.add_argument("--loop", nargs="?", type=float, const=0.0, default=None, metavar="SECONDS",
                   help="cut a seamless loop (of SECONDS; default: the best cycle's own length)")
    g.add_argument("--path", default=None, metavar="FILE",
                   help="follow a floor path (JSON or CSV of x,z points in metres) at the motion's own pace")


def _post(args) -> postprocess.PostProcess:
    return postprocess.PostProcess(fps=args.post_fps, root="in_place" if args.in_place else "keep",
                                   trim=args.trim, foot_lock=args.foot_lock, lock_strength=args.lock_strength,
                                   path=args.path, loop=args.loop)


#: A GIF / MP4 render above these asks for a word first (100,000 frames are ~16 min and ~2.6 GB).
LONG_RENDER_FRAMES = 900  # a progress bar from 30 s of motion at 30 fps
HUGE_RENDER_FRAMES = 20_000
HUGE_RENDER_BYTES = 500_000_000
_MOTION_SUFFIXES = (".npy", ".npz", ".bvh", ".gif", ".mp4", ".png")


def _export_paths(args, fmts: list[str]) -> list[Path]:
    """Where each format goes: beside the input; ``-o FILE`` for one format; ``-o FOLDER`` for
    several (ValueError when ``-o`` names a file there: several files cannot share one name)."""
    from ..files.formats import SUFFIXES

    stem, out = args.motion.stem, args.output
    if out is not None and len(fmts) > 1 and (out.is_file() or (not out.exists() and out.suffix.lower()
                                                                in _MOTION_SUFFIXES)):
        raise ValueError(f"-o {out}: {len(fmts)} formats ({', '.join(fmts)}) are several files; give -o a "
                         f"folder (e.g. -o {out.with_suffix('')}) or one --to format per command")
    paths = []
    for fmt in fmts:
        name = f"{stem}_{fmt}{SUFFIXES[fmt]}" if fmt in ("joints", "smplx85", "smplx322") else f"{stem}{SUFFIXES[fmt]}"
        if out is None:
            path = args.motion.with_name(name)
        elif len(fmts) == 1 and not out.is_dir():
            path = out
        else:
            path = out / name
        if path.resolve() == args.motion.resolve():
            path = path.with_name(f"{stem}_out{SUFFIXES[fmt]}")
        paths.append(path)
    return paths


def _preview_options(motion, fmt: str, size: int, stack: contextlib.ExitStack) -> dict:
    """The size and, for long renders, a progress bar on stderr (closed by ``stack``); a warning
    first for huge ones."""
    from tqdm import tqdm

    from ..files.preview import estimate_bytes

    frames = motion.num_frames
    size_bytes = estimate_bytes(frames, fmt, size)
    if frames > HUGE_RENDER_FRAMES or size_bytes > HUGE_RENDER_BYTES:
        minutes = max(1, round(frames / 100 / 60))  # about 100 frames/s at 960 x 960 on 2 cores
        print(f"motionprompt export: warning: the {fmt.upper()} preview has {frames} frames, about "
              f"{size_bytes / 1e6:,.0f} MB and {minutes} min or more to render; lower it with --trim START:END, "
              "--out-fps or --preview-size PIXELS (Ctrl-C stops it, leaving nothing behind)", file=sys.stderr)
    opts = {"size": size}
    if frames >= LONG_RENDER_FRAMES:
        bar = stack.enter_context(tqdm(total=frames, unit="frame", desc=fmt, file=sys.stderr, mininterval=0.5))
        opts["progress"] = lambda done, total: bar.update(done - bar.n)
    return opts


def _run_export(args) -> int:
    from ..files.formats import EXPORTERS, MotionFileError, export, load_motion

    fmts: list[str] = []
    for f in args.formats:
        fmts += [x.strip() for x in f.split(",") if x.strip()]
    if "all" in fmts:
        fmts = list(EXPORTERS)
    fmts = list(dict.fromkeys(fmts))
    unknown = [f for f in fmts if f not in EXPORTERS]
    if unknown:
        return _fail(f"export: unknown format(s) {', '.join(unknown)}; choose from {', '.join(EXPORTERS)}")
    try:
        post = _post(args).validate()
    except postprocess.PostProcessError as e:
        option, detail = str(e).split(": ", 1)
        return _fail(f"export: --{'out-fps' if option == 'fps' else option.replace('_', '-')}: {detail}")
    if not (math.isfinite(args.fps) and args.fps > 0):
        return _fail(f"export: --fps {args.fps!r} is not a frame rate; give a number > 0 (a .npy's rate)")
    if not 64 <= args.preview_size <= 8192:
        return _fail(f"export: --preview-size {args.preview_size}: give 64 to 8192 pixels")
    try:
        paths = _export_paths(args, fmts)
    except ValueError as e:
        return _fail(f"export: {e}")
    try:
        motion = load_motion(args.motion, fps=args.fps, prompt=args.prompt)
    except MotionFileError as e:
        return _fail(f"export: {e}")
    try:
        motion = postprocess.apply(motion, post)
    except ValueError as e:  # a trim outside the motion
        return _fail(f"export: {args.motion}: {e}")
    smplx_opts = {}
    if args.smplx_model is not None:
        from ..body.smplx_body import rest_joints

        try:
            smplx_opts = {"rest_pelvis": rest_joints(args.smplx_model, gender=args.gender)[0], "gender": args.gender}
        except (ValueError, OSError) as e:
            return _fail(f"export: --smplx-model: {e}")
    if {"gif", "mp4", "png"} & set(fmts):
        from ..files.preview.text import title_warning

        warning = title_warning(motion.prompt)
        if warning:
            print(f"motionprompt export: warning: {warning}", file=sys.stderr)
    if args.output is not None and len(fmts) > 1:
        try:
            args.output.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return _fail(f"export: -o {args.output}: cannot make the folder ({e.strerror or e}); choose another -o")
    for fmt, path in zip(fmts, paths):
        opts = smplx_opts if fmt in ("npz", "smplx85", "smplx322") else {}
        try:
            with contextlib.ExitStack() as stack:
                if fmt in ("gif", "mp4"):
                    opts = _preview_options(motion, fmt, args.preview_size, stack)
                export(motion, fmt, path, **opts)
        except OSError as e:
            return _fail(f"export: cannot write {path} ({fmt}): {e.strerror or e}; free space or choose another -o")
        except ValueError as e:
            return _fail(f"export: {fmt}: {e}")
        print(path)
    return 0


# ---------------------------------------------------------------------- generate / batch
def _add_generation(p: argparse.ArgumentParser) -> None:
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
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps (default: cuda when available)")
    g.add_argument("--offload-text-encoder", dest="offload_text_encoder", action="store_true",
                   help="keep the text encoder (T5-XL: 2.3 GiB in bfloat16) in CPU memory, on the GPU only while "
                        "it encodes")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="prefix-LM precision (default: bfloat16 on CUDA, float32 on CPU)")

    s = p.add_argument_group("sampling")
    s.add_argument("--seconds", type=float, default=10.0, help="longest motion, seconds (default 10)")
    s.add_argument("--min-seconds", dest="min_seconds", type=float, default=0.0,
                   help="the model may not end the motion before this (default 0)")
    s.add_argument("--seed", type=int, default=None,
                   help="seed of the first sample of every prompt (sample i uses seed+i); default: random, recorded")
    s.add_argument("--num", type=int, default=1, help="motions per prompt (default 1)")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-k", "--top_k", dest="top_k", type=int, default=None, help="0 or unset: off")
    s.add_argument("--top-p", "--top_p", dest="top_p", type=float, default=None)
    s.add_argument("--greedy", action="store_true", help="arg-max tokens (the release's default; ignores seeds)")
    s.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale, 1 = off (default: the model's; the demo's is in its TOML)")
    s.add_argument("--compose", action=argparse.BooleanOptionalAction, default=None,
                   help="generate each action of a prompt on its own, in order (actions are separated by "
                        "punctuation and by 'then', 'after that', ...; default: the model's, on for the demo)")
    s.add_argument("--caption-rewrite", dest="caption_rewrite", action=argparse.BooleanOptionalAction, default=None,
                   help="give the model each action as its nearest training caption (models with a caption index; "
                        "default: the model's, on for the demo; each match is in the manifest)")
    s.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, default=None,
                   help="texts per forward pass (default: 64 on CUDA, 8 on CPU)")
    s.add_argument("--continue-from", dest="continue_from", default=None, metavar="MOTION[:FRAME]",
                   help="continue this motion file (.npy / .npz) from FRAME (default: its end): the output is "
                        "it unchanged up to FRAME, then --seconds of new motion")
    s.add_argument("--to-pose", dest="to_pose", default=None, metavar="MOTION[:FRAME]",
                   help="end in the pose of this motion file's FRAME (from 1; default its last), reached on the "
                        "last frame: an in-between, best of 8 (after --continue-from when given)")

    o = p.add_argument_group("output")
    o.add_argument("--out-dir", "--out_dir", dest="out_dir", type=Path, default=Path("outputs"),
                   help="results folder (default ./outputs)")
    o.add_argument("--exp-name", "--exp_name", dest="exp_name", default=None,
                   help="run name under --out-dir (default: 'generate', or the prompt file's name)")
    o.add_argument("--no-preview", dest="preview", action="store_false", help="skip the GIF / MP4 previews")
    o.add_argument("--preview-size", dest="preview_size", type=int, default=960, metavar="PX",
                   help="the GIF's side in pixels (default 960; the gallery's cards show ~300); the MP4 stays 960")
    o.add_argument("--preview-workers", dest="preview_workers", type=int, default=None, metavar="N",
                   help="processes rendering previews while the next motions generate (default: one per core "
                        "this process may use, shared by the ranks of a host; 0: in this process)")
    _add_post(p, "--fps", "frame rate of the written files (default: the model's, 30)")

    r = p.add_argument_group("prompt rewrite (optional)")
    r.add_argument("--use-rewrite-model", "--use_rewrite_model", dest="use_rewrite_model", action="store_true",
                   help="also generate from a rewrite of each prompt by a local LM (flag 1)")
    r.add_argument("--rewrite-model-path", "--rewrite_model_path", dest="rewrite_model_path", type=Path, default=None)


def _add_generate(sub) -> None:
    p = sub.add_parser("generate", help="generate motions for one prompt",
                       description="Generate motions from a text prompt into numbered result folders.")
    p.add_argument("prompt", help="what the body should do, in English")
    _add_generation(p)
    p.set_defaults(func=_run_generate)


def _add_batch(sub) -> None:
    p = sub.add_parser("batch", help="generate motions for every line of a prompt file",
                       description="Generate motions for each prompt of a UTF-8 text file (blank lines and "
                                   "'#' comments skipped) into numbered result folders with a manifest.jsonl.")
    p.add_argument("prompts", nargs="?", type=Path, default=None, help="prompt file, one prompt per line")
    p.add_argument("--infer-batch-prompt", "--infer_batch_prompt", dest="infer_batch_prompt", type=Path, default=None,
                   help="the prompt file (the release's spelling)")
    p.add_argument("--resume", action="store_true", help="skip prompts the run's manifest records as done")
    p.add_argument("--allow-changed-settings", action="store_true",
                   help="with --resume: go on although the run's done jobs were made with other settings")
    _add_generation(p)
    p.set_defaults(func=_run_batch)


def request_from_args(args, prompts: list[str], seeds: list[int] | None) -> GenerateRequest:
    """The request the generation flags describe (not yet validated)."""
    return GenerateRequest(prompts=prompts, seeds=seeds, seconds=args.seconds, min_seconds=args.min_seconds,
                           temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
                           guidance=args.guidance, compose=args.compose, caption_rewrite=args.caption_rewrite,
                           batch_size=args.batch_size,
                           device=args.device, dtype=args.dtype, post=_post(args), previews=args.preview,
                           preview_size=args.preview_size, preview_workers=args.preview_workers,
                           out_dir=args.out_dir, continue_from=args.continue_from, to_pose=args.to_pose)


def caption_setting(gen, asked: bool | None) -> str | None:
    """The nearest-caption rewrite as a manifest setting: "on (threshold T)", "off", or None for a
    model without captions (``Generator.default_caption_rewrite``)."""
    if gen.captions is None:
        return None
    on = gen.default_caption_rewrite if asked is None else asked
    return f"on (threshold {gen.captions.threshold:g})" if on else "off"


def _run(prompts: list[tuple[int, str]], args, exp_default: str, resume: bool) -> int:
    from ..generation.devices import check_device
    from ..models.model_spec import ModelSpec, ModelSpecError
    from .batch import make_jobs, shaping_motions
    from .rundir import check_out_dir

    if args.num < 1:
        return _fail(f"--num {args.num}: give at least 1 motion per prompt")
    try:
        spec = ModelSpec.load(args.model).with_overrides(
            lm_checkpoint=args.resume_trans, vqvae_checkpoint=args.resume_pth, text_encoder_kind=args.text_encode,
            text_encoder_path=args.text_encoder_path, lm_preset=args.pretrained_llama)
    except ModelSpecError as e:
        return _fail(str(e))
    jobs = make_jobs(prompts, args.seed, args.num)
    try:
        request = request_from_args(args, [j.prompt for j in jobs], [j.seed for j in jobs]).validate(
            max_seconds=spec.max_seconds)
        check_device(request.device)
        shape = shaping_motions(request)  # a bad file or frame is named before the model loads
    except RequestError as e:
        return _option_error(e)
    try:
        check_out_dir(request.out_dir)
    except ValueError as e:
        return _fail(f"--out-dir {e}")
    return _generate_jobs(spec, request, jobs, args, args.exp_name or exp_default, resume, shape)


def _generate_jobs(spec, request: GenerateRequest, jobs, args, exp_name: str, resume: bool, shape: dict) -> int:
    """Load the model, then generate and write every job (the request is already valid; ``shape``:
    its ``batch.shaping_motions``, loaded once). Under ``torchrun`` each rank does this on its
    own device and they share the jobs (``app.ranks``)."""
    import os

    from .ranks import Launch, Ranks

    try:
        ranks = Ranks.from_env()
    except ValueError as e:
        return _fail(str(e))
    if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0:
        resume = True  # torchrun restarted the workers: go on with the run, never redo its done jobs
    launch = Launch(ranks)
    try:
        return _generate_ranked(spec, request, jobs, args, exp_name, resume, ranks, launch, shape)
    finally:
        launch.close()


def _generate_ranked(spec, request: GenerateRequest, jobs, args, exp_name: str, resume: bool, ranks, launch,
                     shape: dict) -> int:
    import torch
    from tqdm import tqdm

    from ..generation.generator import Generator, torch_device, torch_dtype
    from ..models.checkpoints import CheckpointError
    from ..models.model_spec import ModelSpecError
    from .batch import run_jobs
    from .previews import available_cores
    from .ranks import JobClaims, env_int
    from .rewrite import add_rewrites
    from .rundir import RunBusyError, RunDir

    def log(msg: str) -> None:  # notes and warnings to stderr: stdout lists the result folders
        tqdm.write(f"[rank {ranks.rank}] {msg}" if ranks.several else msg, file=sys.stderr)

    device = ranks.device(request.device, torch.cuda.is_available())
    try:
        gen = Generator.from_spec(spec, device=torch_device(device), dtype=torch_dtype(request.dtype),
                                  offload_text_encoder=args.offload_text_encoder)
    except (ModelSpecError, CheckpointError, FileNotFoundError, ValueError) as e:
        return _fail(str(e))
    rewrite = None
    if args.use_rewrite_model:
        rewrite = add_rewrites(jobs, args.rewrite_model_path, "cuda" if gen.device.type == "cuda" else "cpu", log,
                               launch if ranks.several else None)
    try:
        run = RunDir(request.out_dir, exp_name, rank=ranks.rank if ranks.several else None)
    except OSError as e:
        return _fail(f"--out-dir {request.out_dir}: cannot make the run folder {exp_name!r} ({e.strerror or e}); "
                     "choose another --out-dir")
    # the ranks of a launch run on cuda:0, cuda:1, ...: the settings name the kind of device
    settings = dict(request.settings(), model=gen.spec.name, fps=request.post.fps or gen.spec.fps,
                    guidance=gen.default_guidance if request.guidance is None else request.guidance,
                    compose=gen.default_compose if request.compose is None else request.compose,
                    caption_rewrite=caption_setting(gen, request.caption_rewrite),
                    device=gen.device.type if ranks.several else str(gen.device),
                    dtype=str(gen.dtype).replace("torch.", ""),
                    **({"rewrite": rewrite} if rewrite else {}))
    batch_size = request.batch_size or gen.default_batch_size

    def generate(texts, seeds):
        return gen.generate(request.replace(prompts=texts, seeds=seeds, batch_size=batch_size), **shape)

    with contextlib.ExitStack() as held:
        problem = None
        if ranks.rank == 0:  # rank 0 checks a resume for all ranks, and holds its lock until all are done
            if resume and not getattr(args, "allow_changed_settings", False):
                changed = run.changed_settings(settings)
                if changed:
                    problem = (f"--resume: {run.manifest} was made with other settings ({'; '.join(changed)}); "
                               "resuming would mix them: use them again, another --exp-name, or "
                               "--allow-changed-settings")
            if problem is None and resume:
                try:
                    held.enter_context(run.resume_lock())
                except RunBusyError as e:
                    problem = f"--resume: {e}"
        problem = launch.share(problem)
        if problem is not None:
            return _fail(problem) if ranks.rank == 0 else 2
        claims = JobClaims(run.root, launch.new_id(), ranks) if ranks.several else None
        workers = request.preview_workers
        if workers is None:  # the host's cores, shared by its ranks; one job alone needs no pool
            workers = 0 if len(jobs) < 2 else max(1, available_cores() // env_int("LOCAL_WORLD_SIZE", 1))
        try:
            with tqdm(total=len(jobs), unit="motion", disable=len(jobs) < 2 or ranks.several) as bar:
                records = run_jobs(jobs, run, generate, settings, batch_size=batch_size, previews=request.previews,
                                   resume=resume, progress=bar, log=log, post=request.post,
                                   claim=claims.claim if claims else None,
                                   extra=dict(rank=ranks.rank, device=str(gen.device)) if ranks.several else None,
                                   preview_workers=workers, preview_size=request.preview_size)
        except OSError as e:  # the manifest itself could not be written (a full disk): nothing recorded is lost
            return _fail(f"--out-dir {request.out_dir}: cannot write {run.manifest} ({e.strerror or e}); free space, "
                         "then run the same command with --resume")
        launch.wait_all()
        if claims is not None and ranks.rank == 0:
            claims.remove(stale=resume)
    for r in records:
        if r["status"] == "done":
            print(run.root / r["folder"])
    if ranks.rank == 0:
        try:  # index.html: every prompt of the run (all ranks) with its GIF, seed, length and timings
            from ..files.gallery import write_run_gallery

            print(f"gallery: {write_run_gallery(run.root)}", file=sys.stderr)
        except OSError as e:
            print(f"motionprompt: could not write the gallery page: {e}", file=sys.stderr)
    failed = [r for r in records if r["status"] != "done"]
    full = [r for r in failed if any(os.strerror(n) in (r.get("error") or "") for n in _DISK_FULL)]
    if full:  # the disk, not the prompts: one line and the way to finish the run
        lines = ", ".join(str(r["line"]) for r in full)
        return _fail(f"--out-dir {request.out_dir}: no space left on the device (line(s) {lines} not written, "
                     f"{len(records) - len(failed)} of {len(records)} done); free space, then run the same command "
                     "with --resume")
    if ranks.several:
        log(f"{len(records) - len(failed)} job(s) done, {len(failed)} failed on {gen.device}")
    if failed:
        print(f"motionprompt: {len(failed)} of {len(records)} job(s) failed; see {run.part}", file=sys.stderr)
    return 1 if failed else 0


def _run_generate(args) -> int:
    if not args.prompt.strip():
        return _fail("the prompt is empty")
    return _run([(1, args.prompt.strip())], args, "generate", resume=False)


def _run_batch(args) -> int:
    from .prompts import PromptFileError, read_prompts

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motionprompt", description="Text-to-motion for animators.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_export(sub)
    _add_generate(sub)
    _add_batch(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status: 0, 1 (some batch jobs failed), 2 (a bad option, file or
    disk: one line on stderr), 130 / 143 (stopped by SIGINT / SIGTERM; nothing half-written left)."""
    from .interrupt import Terminated, sigterm_raises

    args = build_parser().parse_args(argv)
    try:
        with sigterm_raises():
            return int(args.func(args) or 0)
    except KeyboardInterrupt as e:
        term = isinstance(e, Terminated)
        hint = "; the same command with --resume finishes the batch" if args.command == "batch" else ""
        print(f"motionprompt: stopped by {'SIGTERM' if term else 'SIGINT'}; no partial file was left{hint}",
              file=sys.stderr)
        return 143 if term else 130
