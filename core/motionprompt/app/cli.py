"""The ``motionprompt`` command line.

Subcommands:
  export   convert a motion file (.npy 272 / smplx85, .npz) to other formats
  generate one prompt -> motion files (model stack)
  batch    a file of prompts -> numbered result folders (model stack)
Each subcommand is built by an ``_add_<name>`` function and run by a ``_run_<name>`` function.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="convert a motion file to other formats",
                       description="Convert a motion (.npy T x 272 de-normalised, .npy T x 85 smplx85, "
                                   "or .npz with poses/trans) to one or more formats.")
    p.add_argument("motion", type=Path, help="input motion file")
    p.add_argument("--to", dest="formats", action="append", required=True, metavar="FORMAT",
                   help="output format (repeatable, or comma-separated); 'all' for every format")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output file (one format) or folder (several); default: beside the input")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of a .npy input (default 30)")
    p.add_argument("--prompt", default="", help="text stored with the motion (titles, npz)")
    p.add_argument("--smplx-model", type=Path, default=None, metavar="DIR",
                   help="SMPL-X model folder: exact J0 for transl in npz/smplx85/smplx322")
    p.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"),
                   help="SMPL-X model gender with --smplx-model (default neutral)")
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from ..files.formats import EXPORTERS, SUFFIXES, MotionFileError, export, load_motion

    fmts: list[str] = []
    for f in args.formats:
        fmts += [x.strip() for x in f.split(",") if x.strip()]
    if "all" in fmts:
        fmts = list(EXPORTERS)
    unknown = [f for f in fmts if f not in EXPORTERS]
    if unknown:
        print(f"motionprompt export: unknown format(s) {', '.join(unknown)}; "
              f"choose from {', '.join(EXPORTERS)}", file=sys.stderr)
        return 2
    try:
        motion = load_motion(args.motion, fps=args.fps, prompt=args.prompt)
    except MotionFileError as e:
        print(f"motionprompt export: {e}", file=sys.stderr)
        return 1
    smplx_opts = {}
    if args.smplx_model is not None:
        from ..body.smplx_body import rest_joints

        try:
            smplx_opts = {"rest_pelvis": rest_joints(args.smplx_model, gender=args.gender)[0], "gender": args.gender}
        except (ImportError, OSError) as e:
            print(f"motionprompt export: {e}", file=sys.stderr)
            return 1
    stem = args.motion.stem
    out = args.output
    for fmt in fmts:
        name = f"{stem}_{fmt}{SUFFIXES[fmt]}" if fmt in ("joints", "smplx85", "smplx322") else f"{stem}{SUFFIXES[fmt]}"
        if out is None:
            path = args.motion.with_name(name)
        elif len(fmts) == 1 and not out.is_dir():
            path = out
        else:
            out.mkdir(parents=True, exist_ok=True)
            path = out / name
        if path.resolve() == args.motion.resolve():
            path = path.with_name(f"{stem}_out{SUFFIXES[fmt]}")
        try:
            export(motion, fmt, path, **(smplx_opts if fmt in ("npz", "smplx85", "smplx322") else {}))
        except (OSError, ValueError) as e:
            print(f"motionprompt export: {fmt}: {e}", file=sys.stderr)
            return 1
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motionprompt", description="Text-to-motion for animators.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_export(sub)
    from .generate_cli import add_batch, add_generate  # light: heavy imports happen when they run

    add_generate(sub)
    add_batch(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
