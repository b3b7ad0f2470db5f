"""Speed of the shipped demo model: a cold CLI run and prompts in a warm process.

    .venv/bin/python bench/demo_speed.py [--threads 2] [--repeats 5]

1. cold: ``motionprompt generate "a person walks forward" --model demo`` in a fresh Python
   process, writing .npy, GIF and MP4 (wall clock, process start to exit); target <= 5 s.
2. warm: one prompt at a time through a loaded ``Generator`` (text encoding + sampling +
   decoding, median of ``--repeats``); target <= 0.3 s per prompt; and 16 prompts in one batch.
   ``--dtype float32`` measures the prefix-LM in float32 where the demo would use bfloat16.

Prints figures; never fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def cold_cli(threads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        cmd = [sys.executable, "-m", "motionprompt", "generate", "a person walks forward", "--model", "demo",
               "--seed", "0", "--out-dir", tmp]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        files = sorted(p.suffix for p in Path(tmp).rglob("*") if p.is_file())
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
        print(f"cold CLI run (npy + GIF + MP4): {wall:.2f} s  [{status}; files {' '.join(sorted(set(files)))}]"
              f"  target <= 5 s")


def warm(threads: int, repeats: int, dtype: str | None = None) -> None:
    import torch

    from motionprompt.generation.generator import Generator
    from motionprompt.request import GenerateRequest

    torch.set_num_threads(threads)
    t = time.perf_counter()
    gen = Generator.from_spec("demo", dtype=getattr(torch, dtype) if dtype else None)
    print(f"load (MiniLM + prefix-LM + VQ-VAE): {time.perf_counter() - t:.2f} s; prefix-LM in "
          f"{str(gen.dtype).replace('torch.', '')}")
    prompts = ["a person walks forward", "someone waves with the right hand", "a man jumps in place",
               "a woman does squats, then bows", "a person runs forward"]
    gen.generate(GenerateRequest(prompts[:1], seeds=[0]))  # first call warms caches
    times, frames = [], []
    for r in range(repeats):
        for i, p in enumerate(prompts):
            t = time.perf_counter()
            m = gen.generate(GenerateRequest([p], seeds=[r * 10 + i]))[0]
            times.append(time.perf_counter() - t)
            frames.append(m.num_frames)
    tm = gen.timings
    print(f"warm, one prompt at a time: median {np.median(times):.3f} s, max {max(times):.3f} s "
          f"(mean {np.mean(frames) / 30:.1f} s of motion; last split text {tm['text_s']:.3f} / sample "
          f"{tm['sample_s']:.3f} / decode {tm['decode_s']:.3f} s)  target <= 0.3 s")
    batch = [prompts[i % len(prompts)] for i in range(16)]
    t = time.perf_counter()
    gen.generate(GenerateRequest(batch, seeds=list(range(16)), batch_size=16))
    dt = time.perf_counter() - t
    print(f"warm, 16 prompts in one batch: {dt:.2f} s ({dt / 16:.3f} s per prompt)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dtype", default=None, choices=["float32", "bfloat16"],
                    help="prefix-LM precision of the warm runs (default: the generator's; the demo uses "
                         "bfloat16 where the CPU has it natively)")
    args = ap.parse_args()
    cold_cli(args.threads)
    warm(args.threads, args.repeats, args.dtype)


if __name__ == "__main__":
    main()
