"""Benchmark: recovery + FK + every file export of a 300-frame motion (prints times, never fails).

    .venv/bin/python bench/core_formats.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from motionprompt.body import rep272
from motionprompt.files.formats import EXPORTERS, SUFFIXES, export
from motionprompt.body.motion import Motion

REAL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "clip000000_272.npy"


def sample_frames(T: int = 300) -> tuple[np.ndarray, str]:
    if REAL.is_file():
        return np.load(REAL)[:T].astype(np.float64), f"real clip {REAL.name}[:{T}]"
    rng = np.random.default_rng(0)
    mean, std = rep272.load_mean_std()
    return rep272.denormalize(rng.normal(0, 0.3, (T, 272)), mean, std), "random frames around the MotionMillion mean"


def timed(fn, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    x, what = sample_frames()
    print(f"motion: {what}, {len(x)} frames")
    t = timed(lambda: Motion.from_272(x))
    print(f"{'recover (272 -> rotations, root, positions)':45s} {t * 1e3:8.2f} ms")
    m = Motion.from_272(x)
    t = timed(lambda: Motion.from_272(x).joint_positions())
    print(f"{'recover + rest estimate + FK':45s} {t * 1e3:8.2f} ms")
    total = 0.0
    with tempfile.TemporaryDirectory() as d:
        for fmt in ("npy", "joints", "smplx85", "smplx322", "npz", "bvh"):
            if fmt not in EXPORTERS:
                continue
            t = timed(lambda: export(m, fmt, Path(d) / f"m_{fmt}{SUFFIXES[fmt]}"))
            total += t
            print(f"{'export ' + fmt:45s} {t * 1e3:8.2f} ms")
    print(f"{'all file exports':45s} {total * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
