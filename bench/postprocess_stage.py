"""Post-processing stage speed on 300 frames (target: the whole stage <= 20 ms): foot lock,
loop, floor path (which locks the feet), and their combinations with trim and resampling, on
a procedural walk and, when ../shared is present, the real mocap clip. Best of several runs
(wall time). Prints figures, never
fails.

    .venv/bin/python bench/postprocess_stage.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from motionprompt.body.motion import Motion
from motionprompt.postprocess import PostProcess, apply

REAL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "clip000000_272.npy"


def _sources(T: int) -> dict[str, Motion]:
    from motionprompt_demo import synth

    R, root, joints = synth.render(synth.make_action("walk_forward", {"duration": T / 30.0, "speed": "slow"}))
    out = {"walk": Motion(R[:T], root[:T], joints=joints[:T])}
    out["walk"] = out["walk"].with_(rest=out["walk"].rest_offsets(), joints=None)
    if REAL.is_file():
        clip = Motion.from_272(np.load(REAL)[:T])
        out["real clip"] = Motion(clip.rotations, clip.root_translation, rest=clip.rest_offsets())
    return out


def _best_ms(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def main(T: int = 300, repeats: int = 15) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "l_path.json"
        path.write_text(json.dumps([[0, 0], [0, 2.5], [2.5, 2.5]]))
        settings = {
            "foot lock": PostProcess(foot_lock="toes"),
            "loop": PostProcess(loop=0),
            "path (locks feet)": PostProcess(path=str(path)),
            "lock+loop+trim+24fps": PostProcess(foot_lock="toes", loop=0, trim=(0.2, None), fps=24),
            "path+loop": PostProcess(path=str(path), loop=0),
            "all: path+loop+trim+24": PostProcess(path=str(path), loop=0, trim=(0.2, None), fps=24),
        }
        for name, motion in _sources(T).items():
            for label, post in settings.items():
                # a fresh motion each run: nothing cached from the run before
                ms = _best_ms(lambda: apply(Motion(motion.rotations, motion.root_translation, rest=motion.rest),
                                                  post), repeats)
                print(f"{name:10s} {motion.num_frames} frames  {label:22s} {ms:6.1f} ms")


if __name__ == "__main__":
    main()
