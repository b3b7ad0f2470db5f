"""Headless batch bake: prompts (or motion files) -> keyed SMPL-X armatures -> FBX and friends.

    blender -b --factory-startup --python-exit-code 1 -P tools/bake.py -- \\
        --prompts prompts.txt --out-dir baked [--fbx-preset unity] [--blend] [--motion a.npy ...]
    .venv/bin/python tools/bake.py --prompts prompts.txt --out-dir baked      (the bpy module)

Per prompt (one line of the file; '#' lines and blank lines skipped), in a numbered folder
``<out-dir>/<k>/`` as ``motionprompt batch`` lays them out: ``0_predict.npy``, ``0_text.txt``,
``0_smplx.npz``, GIF/MP4 previews (unless ``--no-previews``), ``0_<prompt>.fbx`` and, with
``--blend``, ``0_<prompt>.blend``; one manifest line per job in ``<out-dir>/manifest.jsonl``.
``--resume`` skips jobs already done and reuses folders a killed run left incomplete; a prompt
that fails is recorded as failed and the batch goes on (exit code 1 at the end if any failed).

Generation runs synchronously (no timers fire headless): with the bpy module, inside this
Python when torch and the model stack import here; in the Blender program (or when they do not
import), in the worker started with ``--python`` (default: the project's .venv). Inside the
Blender program, whose Python lacks Pillow and imageio-ffmpeg (previews), the project's .venv
packages are appended to the path (same Python version). Checked with Debian's Blender 3.4.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setup_paths() -> None:
    """Make ``motionprompt`` and the add-on importable inside Blender's own Python too."""
    for p in (REPO, REPO / "core"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    if importlib.util.find_spec("PIL") is None:  # Blender's Python: borrow the project venv's packages
        ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
        site = REPO / ".venv" / "lib" / ver / "site-packages"
        if site.is_dir():
            sys.path.append(str(site))


def _argv(argv: list[str] | None) -> list[str]:
    argv = sys.argv[1:] if argv is None else argv
    return argv[argv.index("--") + 1:] if "--" in argv else argv


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/bake.py", description=__doc__.split("\n\n")[0])
    src = p.add_argument_group("what to bake (one or both)")
    src.add_argument("--prompts", type=Path, help="text file, one prompt per line")
    src.add_argument("--motion", type=Path, nargs="+", default=[], help="motion files (.npy 272 / smplx85, .npz)")
    p.add_argument("--out-dir", type=Path, required=True, help="output folder")
    p.add_argument("--fbx-preset", default="unity", choices=("unity", "unreal", "blender"))
    p.add_argument("--root-motion", default=None, choices=("pelvis", "root", "none"),
                   help="where the travel goes (default: root bone for unreal, else pelvis)")
    p.add_argument("--blend", action="store_true", help="also save a .blend per motion")
    p.add_argument("--no-previews", action="store_true", help="skip GIF/MP4")
    p.add_argument("--resume", action="store_true", help="skip jobs the manifest records as done")
    p.add_argument("--body-only", action="store_true", help="armatures with the 22 body bones only")
    gen = p.add_argument_group("generation")
    gen.add_argument("--model", default="demo", help="demo, motionmillion-3b/7b, or a model TOML file")
    gen.add_argument("--device", default="cpu")
    gen.add_argument("--seconds", type=float, default=4.0)
    gen.add_argument("--seed", type=int, default=None, help="seed of the first prompt (then +1 per line)")
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=0)
    gen.add_argument("--compose", action=argparse.BooleanOptionalAction, default=None,
                     help="generate each action of a prompt on its own (default: the model's; on for the demo)")
    gen.add_argument("--backend", default="AUTO", choices=("AUTO", "IN_PROCESS", "WORKER"))
    gen.add_argument("--python", default="", help="interpreter for the worker (default: the project's .venv)")
    return p


def bake_motion(motion, folder: Path, stem: str, args, segments: list[dict] | None = None) -> list[str]:
    """Key ``motion`` on a fresh SMPL-X armature in an empty scene; write FBX (and .blend).
    ``segments`` (a composed prompt's actions) become pose markers of the action."""
    import bpy

    from blender_addon import armature, fbx_export, keys
    from motionprompt.atomic import atomic_path

    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = armature.build_armature("SMPLX", motion.rest_offsets(), body_only=args.body_only)
    root_motion = args.root_motion or ("root" if args.fbx_preset == "unreal" else "pelvis")
    action = keys.apply_motion(obj, motion, name=(motion.prompt or stem)[:55], root_motion=root_motion)
    keys.mark_segments(action, segments or [], motion.fps)
    written = []
    fbx_export.export_fbx(obj, folder / f"{stem}.fbx", args.fbx_preset)
    written.append(f"{stem}.fbx")
    if args.blend:
        with atomic_path(folder / f"{stem}.blend") as tmp:
            Path(tmp).unlink()  # an existing file would make Blender write a .blend1 backup
            bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, check_existing=False)
        written.append(f"{stem}.blend")
    return written


def run(args) -> int:
    from blender_addon import backend as backends
    from motionprompt.app.batch import Job, RunDir, output_files, read_prompts, short_name
    from motionprompt.files.formats import MotionFileError, load_motion

    if args.prompts is None and not args.motion:
        print("bake: nothing to do: give --prompts FILE and/or --motion FILE ...", file=sys.stderr)
        return 2
    jobs: list[tuple[Job, Path | None]] = []
    if args.prompts is not None:
        for i, (line, text) in enumerate(read_prompts(args.prompts)):
            seed = None if args.seed is None else args.seed + i
            jobs.append((Job(line=line, prompt=text, seed=seed, variants={0: text}), None))
    for k, path in enumerate(args.motion):
        jobs.append((Job(line=-(k + 1), prompt=f"motion:{path.resolve()}", variants={0: path.stem}), path))

    import bpy

    mode = args.backend
    if mode == "AUTO" and bpy.app.binary_path:  # the Blender program: keep torch out of its process
        mode = "WORKER"
    run_dir = RunDir(args.out_dir, "")
    done = run_dir.done_keys() if args.resume else set()
    leftovers = run_dir.incomplete() if args.resume else {}
    work = run_dir.root / ".work"
    work.mkdir(exist_ok=True)
    be = None
    failed = 0
    for job, path in jobs:
        if job.key in done:
            print(f"bake: skip (done): {job.prompt}")
            continue
        t0 = time.perf_counter()
        try:
            segments = []
            if path is not None:
                motion = load_motion(path, prompt=path.stem)
            else:
                if be is None:
                    be = backends.get_backend(mode, args.model, args.device, args.python)
                reply = be.run_sync(prompts=[job.prompt], seeds=None if job.seed is None else [job.seed],
                                    seconds=args.seconds, temperature=args.temperature,
                                    top_k=args.top_k or None, compose=args.compose, out_dir=str(work))
                item = reply["motions"][0]
                motion = load_motion(item["path"], fps=item["fps"], prompt=item["prompt"])
                motion.seed, motion.source = item["seed"], item["source"]
                segments = item.get("segments") or []
            folder = run_dir.claim(job, reuse=leftovers.get(job.key))
            files = output_files(motion, folder, 0, previews=not args.no_previews)
            files += bake_motion(motion, folder, f"0_{short_name(motion.prompt or job.prompt)}", args, segments)
            rec = dict(key=job.key, line=job.line, prompt=job.prompt, seed=motion.seed, status="done", error=None,
                       folder=folder.name, files=files, frames=motion.num_frames,
                       fbx_preset=args.fbx_preset, seconds=round(time.perf_counter() - t0, 3), time=time.time(),
                       **({"segments": segments} if segments else {}))
            run_dir.finish(folder, rec)
            print(f"bake: {folder.name}: {job.prompt} ({motion.num_frames} frames, {rec['seconds']:.1f} s)")
        except (backends.GenerationError, backends.WorkerError, MotionFileError, ValueError, OSError,
                RuntimeError) as e:
            failed += 1
            run_dir.finish(None, dict(key=job.key, line=job.line, prompt=job.prompt, seed=job.seed, status="failed",
                                      error=f"{type(e).__name__}: {e}", folder=None, files=[], time=time.time()))
            print(f"bake: FAILED: {job.prompt}: {e}", file=sys.stderr)
    backends.shutdown_backend()
    for f in work.glob("*.npy"):
        f.unlink()
    if not any(work.iterdir()):
        work.rmdir()
    print(f"bake: {len(jobs) - failed} of {len(jobs)} done, {failed} failed; manifest {run_dir.manifest}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    _setup_paths()
    args = build_parser().parse_args(_argv(argv))
    return run(args)


if __name__ == "__main__":
    code = main()
    sys.modules.pop("__mp_main__", None)
    sys.exit(code)
