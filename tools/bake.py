"""Headless batch bake: prompts (or motion files) -> keyed SMPL-X armatures -> FBX and friends.

    blender -b --factory-startup --python-exit-code 1 -P tools/bake.py -- \\
        --prompts prompts.txt --out-dir baked [--fbx-preset unity] [--blend] [--motion a.npy ...] \\
        [--rig character.fbx|rig.blend [--rig-object NAME] [--bone-map auto|mixamo|ue5|rigify|vrm|map.toml]]
        [--path FILE | --path-curve CURVE|FILE.blend:CURVE] [--foot-lock toes] [--loop [S]] [--trim A:B]
    .venv/bin/python tools/bake.py --prompts prompts.txt --out-dir baked      (the bpy module)

Per prompt (one line of the file; '#' lines and blank lines skipped), in a numbered folder
``<out-dir>/<k>/`` as ``motionprompt batch`` lays them out: ``0_predict.npy``, ``0_text.txt``,
``0_smplx.npz``, GIF/MP4 previews (unless ``--no-previews``), ``0_<prompt>.fbx`` and, with
``--blend``, ``0_<prompt>.blend``; one manifest line per job in ``<out-dir>/manifest.jsonl``.
Jobs run through ``motionprompt batch``'s loop (``app.batch.run_jobs``, with the FBX / .blend as
its per-motion hook): the same request, seeds, post-processing and bookkeeping.
``--resume`` skips jobs already done and reuses folders a killed run left incomplete; a prompt
that fails is recorded as failed and the batch goes on (exit code 1 at the end if any failed).

Generation runs synchronously (no timers fire headless): with the bpy module, inside this
Python when torch and the model stack import here; in the Blender program (or when they do not
import), in the worker started with ``--python`` (default: the project's .venv). Inside the
Blender program, whose Python lacks Pillow and imageio-ffmpeg (previews), the project's .venv
packages are appended to the path (same Python version).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
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


def _trim_span(text: str):
    from motionprompt.app.cli import trim_span

    return trim_span(text)


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
    p.add_argument("--preview-size", type=int, default=960, metavar="PX",
                   help="the GIF's side in pixels (default 960); the MP4 stays 960")
    p.add_argument("--preview-workers", type=int, default=0, metavar="N",
                   help="processes rendering previews while the next takes bake (default 0: in this process)")
    p.add_argument("--resume", action="store_true", help="skip jobs the manifest records as done")
    p.add_argument("--body-only", action="store_true", help="armatures with the 22 body bones only")
    p.add_argument("--foot-lock", default="off", choices=("off", "feet", "toes"),
                   help="pin planted feet on the floor (as motionprompt generate --foot-lock)")
    p.add_argument("--lock-strength", type=float, default=1.0, metavar="0..1",
                   help="how far toward its pin a planted foot goes (default 1)")
    p.add_argument("--trim", type=_trim_span, default=None, metavar="START:END", help="keep START to END seconds")
    p.add_argument("--loop", nargs="?", type=float, const=0.0, default=None, metavar="SECONDS",
                   help="cut a seamless loop (default length: the best cycle's)")
    p.add_argument("--path", default=None, metavar="FILE", help="follow a floor path (JSON / CSV of x,z metres)")
    p.add_argument("--path-curve", default=None, metavar="CURVE|FILE.blend:CURVE",
                   help="follow a Blender Curve object as the floor path (its first spline seen from above, "
                        "world metres): one in the open .blend (blender -b scene.blend -P tools/bake.py), or in FILE")
    rig = p.add_argument_group("your own rig (retarget)")
    rig.add_argument("--rig", type=Path, default=None, metavar="RIG.blend|RIG.fbx",
                     help="key every take onto this rig (a .blend, or a character .fbx such as a Mixamo download)")
    rig.add_argument("--rig-object", default="", metavar="NAME", help="the armature in --rig (default: the only one)")
    rig.add_argument("--bone-map", default="auto", metavar="auto|PRESET|FILE.toml",
                     help="which bone follows which SMPL-X joint (default: detected from the bone names)")
    gen = p.add_argument_group("generation")
    gen.add_argument("--model", default="demo", help="demo, motionmillion-3b/7b, or a model TOML file")
    gen.add_argument("--device", default="cpu")
    gen.add_argument("--batch-size", type=int, default=None, metavar="N",
                     help="texts per forward pass (default: 64 on CUDA, 8 on CPU; as motionprompt batch)")
    gen.add_argument("--offload-text-encoder", action="store_true",
                     help="keep the text encoder (T5-XL: 2.3 GiB in bfloat16) in CPU memory, on the GPU only while "
                          "it encodes (as motionprompt batch)")
    gen.add_argument("--seconds", type=float, default=4.0)
    gen.add_argument("--seed", type=int, default=None,
                     help="seed of every prompt, as motionprompt batch (default: random, recorded)")
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=0, help="0: off")
    gen.add_argument("--continue-from", default=None, metavar="MOTION[:FRAME]",
                     help="every prompt continues this motion file from FRAME (as motionprompt generate), or the "
                          "animation of a .blend / .fbx (its armature's action through --bone-map; FRAME at 30 fps)")
    gen.add_argument("--to-pose", default=None, metavar="MOTION[:FRAME]",
                     help="every prompt ends in this pose (as motionprompt generate --to-pose), or a frame of a "
                          ".blend / .fbx animation")
    gen.add_argument("--compose", action=argparse.BooleanOptionalAction, default=None,
                     help="generate each action of a prompt on its own (default: the model's; on for the demo)")
    gen.add_argument("--caption-rewrite", action=argparse.BooleanOptionalAction, default=None,
                     help="read each action as the model's nearest training caption (default: the model's; on "
                          "for the demo)")
    gen.add_argument("--backend", default="AUTO", choices=("AUTO", "IN_PROCESS", "WORKER"))
    gen.add_argument("--python", default="", help="interpreter for the worker (default: the project's .venv)")
    return p


def _animation_ref(ref: str | None, field: str, option: str, args):
    """For "ANIMATION.blend|.fbx[:FRAME]" (``--continue-from`` / ``--to-pose``; request field
    ``field``), the animation read in Blender (``headless.animation_motion``, through
    ``--bone-map``), the file's stem and its ":FRAME" ("" for none; FRAME counts the clip's
    frames at 30 fps from its first); None for a motion file or no option. ValueError naming the option
    and the file (a RequestError for a bad FRAME)."""
    from blender_addon.headless import RIG_SUFFIXES, animation_motion
    from motionprompt.request import split_motion_ref

    if ref is None:
        return None
    path, frame = split_motion_ref(ref, field)
    if path.suffix.lower() not in RIG_SUFFIXES:
        return None
    return animation_motion(path, option, args.bone_map), path.stem, "" if frame is None else f":{frame}"


def _content_name(kind: str, name: str, data: bytes) -> str:
    """``<kind>_<name>_<hash>``: a file beside the manifest named by its content (a changed one is
    a changed setting for --resume), ``name`` cut to letters, digits, ``-`` and ``_``."""
    import hashlib

    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return f"{kind}_{safe}_{hashlib.sha256(data).hexdigest()[:12]}"


def _write_animation(out_dir: Path, kind: str, motion, stem: str) -> Path:
    """The animation read for ``kind`` ("continue" / "pose") written beside the manifest as
    ``<kind>_<stem>_<hash>.npz`` (``_content_name``); returns its path."""
    import numpy as np

    from motionprompt.files.formats import export

    frames = np.ascontiguousarray(motion.to_272(), dtype=np.float32)
    target = out_dir / f"{_content_name(kind, stem, frames.tobytes())}.npz"
    out_dir.mkdir(parents=True, exist_ok=True)
    export(motion, "npz", target)  # atomically
    return target.resolve()


def run(args) -> int:
    from blender_addon import backend as backends
    from blender_addon.headless import bake_motion
    from motionprompt.app.batch import Job, make_jobs, run_jobs, shaping_motions
    from motionprompt.app.cli import option_message
    from motionprompt.app.prompts import PromptFileError, read_prompts
    from motionprompt.app.rundir import RunDir, check_out_dir
    from motionprompt.files.layout import short_name
    from motionprompt.models.model_spec import ModelSpec, ModelSpecError
    from motionprompt.postprocess import PostProcess
    from motionprompt.request import GenerateRequest, RequestError, default_batch_size

    if args.prompts is None and not args.motion:
        print("bake: nothing to do: give --prompts FILE and/or --motion FILE ...", file=sys.stderr)
        return 2
    try:
        jobs = make_jobs(read_prompts(args.prompts), args.seed) if args.prompts is not None else []
    except PromptFileError as e:
        print(f"bake: {e}", file=sys.stderr)
        return 2
    curve = None
    if args.path_curve is not None:
        if args.path is not None:
            print("bake: give --path FILE or --path-curve CURVE, not both", file=sys.stderr)
            return 2
        from blender_addon.headless import curve_points

        try:  # read before anything resets the scene (a --rig load starts from an empty one)
            curve = curve_points(args.path_curve)
        except ValueError as e:
            print(f"bake: {e}", file=sys.stderr)
            return 2
    animations = {}  # --continue-from / --to-pose naming an animation in a .blend / .fbx: read in Blender
    for field, option, kind in (("continue_from", "--continue-from", "continue"), ("to_pose", "--to-pose", "pose")):
        try:
            read = _animation_ref(getattr(args, field), field, option, args)
        except ValueError as e:
            print(f"bake: {option_message(e) if isinstance(e, RequestError) else e}", file=sys.stderr)
            return 2
        if read is not None:
            animations[field] = (kind, *read)
    continue_from = None if "continue_from" in animations else args.continue_from  # checked once written
    to_pose = None if "to_pose" in animations else args.to_pose
    root_motion = args.root_motion or ("root" if args.fbx_preset == "unreal" else "pelvis")
    request = GenerateRequest(prompts=[j.prompt for j in jobs] or ["-"], seeds=[j.seed for j in jobs] or None,
                              seconds=args.seconds, temperature=args.temperature, top_k=args.top_k,
                              compose=args.compose, caption_rewrite=args.caption_rewrite, device=args.device,
                              batch_size=args.batch_size,
                              continue_from=continue_from, to_pose=to_pose,
                              post=PostProcess(root="in_place" if root_motion == "none" else "keep",
                                               trim=args.trim, foot_lock=args.foot_lock, lock_strength=args.lock_strength,
                                               path=args.path,
                                               loop=args.loop),
                              previews=not args.no_previews,
                              preview_size=args.preview_size, preview_workers=args.preview_workers, out_dir=args.out_dir)
    try:
        spec = ModelSpec.load(args.model) if jobs else None
        request = request.validate(max_seconds=spec.max_seconds if spec else None)
        check_out_dir(args.out_dir)
    except (RequestError, ModelSpecError) as e:
        print(f"bake: {option_message(e) if isinstance(e, RequestError) else e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"bake: --out-dir {e}", file=sys.stderr)
        return 2
    # animations read from a .blend / .fbx are written once the out dir is known to be good; the
    # motions and FRAMEs are checked before anything is generated (a bad one removes them again)
    fresh = not args.out_dir.exists()
    written = {field: _write_animation(args.out_dir, *read[:3]) for field, read in animations.items()}
    try:
        request = request.replace(**{f: f"{written[f]}{animations[f][3]}" for f in written}).validate(
            max_seconds=spec.max_seconds if spec else None)
        shaping_motions(request)
    except RequestError as e:
        for path in written.values():
            path.unlink(missing_ok=True)
        if fresh and args.out_dir.is_dir() and not any(args.out_dir.iterdir()):
            args.out_dir.rmdir()
        print(f"bake: {option_message(e)}", file=sys.stderr)
        return 2
    if curve is not None:  # the curve's points beside the manifest, named by their content (a changed
        # curve is a changed setting for --resume)
        import dataclasses
        import json

        from motionprompt.atomic import atomic_path

        text = json.dumps(curve.round(6).tolist())
        target = args.out_dir / f"{_content_name('path', args.path_curve.rpartition(':')[2], text.encode())}.json"
        args.out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        try:
            request = request.replace(post=dataclasses.replace(request.post, path=str(target.resolve())).validate())
        except ValueError as e:
            target.unlink()
            print(f"bake: --path-curve {args.path_curve}: {e}", file=sys.stderr)
            return 2
    for k, path in enumerate(args.motion):
        jobs.append(Job(line=-(k + 1), prompt=f"motion:{path.resolve()}", texts={0: path.stem}, source=path))

    import bpy

    if args.rig is not None:  # the rig and its map are checked before anything is generated
        from blender_addon import armature
        from blender_addon.headless import load_rig

        try:
            bpy.ops.wm.read_factory_settings(use_empty=True)
            rig_map = armature.bone_map_for(load_rig(args.rig, args.rig_object), args.bone_map)
        except ValueError as e:
            print(f"bake: {e}", file=sys.stderr)
            return 2
        if rig_map.pelvis is None:
            print(f"bake: --bone-map {args.bone_map}: no hips bone in {args.rig} ({rig_map.coverage()})",
                  file=sys.stderr)
            return 2
        print(f"bake: rig {args.rig}: {rig_map.name}: {rig_map.coverage()}")

    mode = args.backend
    if mode == "AUTO" and bpy.app.binary_path:  # the Blender program: keep torch out of its process
        mode = "WORKER"
    run_dir = RunDir(args.out_dir, "")
    if args.resume:
        done = run_dir.done_keys()
        for job in jobs:
            if job.key in done:
                print(f"bake: skip (done): {job.prompt}")
    work = run_dir.root / ".work"
    work.mkdir(exist_ok=True)
    be = None

    def generate(texts, seeds):
        """Generate through the add-on's backend (in this Python or the worker), synchronously;
        post-processing is run_jobs'."""
        nonlocal be
        if be is None:
            be = backends.get_backend(mode, args.model, args.device, args.python, offload=args.offload_text_encoder)
        reply = be.run_sync(request.replace(prompts=texts, seeds=seeds, post=PostProcess(), out_dir=work))
        return [backends.result_motion(item, args.model) for item in reply["motions"]]

    def bake(motion, folder, flag):
        return bake_motion(motion, folder, f"{flag}_{short_name(motion.prompt)}", args.fbx_preset,
                           "root" if root_motion == "root" else "pelvis", args.blend, args.body_only,
                           rig=args.rig, rig_object=args.rig_object, bone_map=args.bone_map)

    settings = dict(model=args.model, **request.settings(), fbx_preset=args.fbx_preset, root_motion=root_motion,
                    **({"rig": str(args.rig.resolve()), "bone_map": args.bone_map} if args.rig else {}))
    try:
        records = run_jobs(jobs, run_dir, generate, settings, batch_size=request.batch_size or default_batch_size(args.device.partition(":")[0]),
                           previews=request.previews, resume=args.resume, post=request.post, on_motion=bake,
                           preview_workers=request.preview_workers, preview_size=request.preview_size,
                           log=lambda msg: print(f"bake: {msg}", file=sys.stderr))
    finally:
        backends.shutdown_backend()
        for f in work.glob("*.npy"):
            f.unlink()
        if not any(work.iterdir()):
            work.rmdir()
    for r in records:
        if r["status"] == "done":
            print(f"bake: {r['folder']}: {r['prompt']} ({r['frames']} frames)")
    failed = sum(r["status"] != "done" for r in records)
    print(f"bake: {len(records) - failed} of {len(records)} done, {failed} failed; manifest {run_dir.manifest}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    _setup_paths()
    args = build_parser().parse_args(_argv(argv))
    from motionprompt.app.interrupt import Terminated, sigterm_raises

    try:
        with sigterm_raises():  # unwinds like Ctrl-C: no .part file is left
            return run(args)
    except KeyboardInterrupt as e:
        term = isinstance(e, Terminated)
        print(f"bake: stopped by {'SIGTERM' if term else 'SIGINT'}; no partial file was left; the same command "
              "with --resume finishes it", file=sys.stderr)
        return 143 if term else 130


if __name__ == "__main__":
    code = main()
    sys.modules.pop("__mp_main__", None)
    sys.exit(code)
