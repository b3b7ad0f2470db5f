"""A minute of motion from the shipped demo model (its positions hold 12 s): made in windows,
each continuing the one before (``Generator.generate`` past ``max_seconds``). Prints the
time, the windows, and the fastest joint speed around each join against the motion's own
99th percentile (cm/frame); never fails.

    .venv/bin/python bench/long_motion.py [--seconds 60] [--prompt TEXT]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from motionprompt.generation.generator import Generator
from motionprompt.request import GenerateRequest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--prompt", default="a person walks forward")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    gen = Generator.from_spec("demo")
    t = time.perf_counter()
    m = gen.generate(GenerateRequest([args.prompt], seconds=args.seconds, seeds=[args.seed]))[0]
    took = time.perf_counter() - t
    v = np.linalg.norm(np.diff(m.joint_positions(), axis=0), axis=-1).max(axis=1) * 100
    p99 = np.percentile(v, 99)
    print(f"{args.seconds:g} s ({m.num_frames} frames) in {took:.1f} s, {len(m.meta['windows'])} windows "
          f"of at most {gen.window_seconds:.2f} s after the first")
    for w in m.meta["windows"][1:]:
        f = int(round(w["start"] * 30))
        print(f"join at {w['start']:7.2f} s: fastest joint {v[f - 1:f + 2].max():5.1f} cm/frame "
              f"(the motion's p99 {p99:.1f}, max {v.max():.1f})")


if __name__ == "__main__":
    main()
