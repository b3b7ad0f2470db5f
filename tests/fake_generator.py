"""A tiny stand-in for ``motionprompt.generation.generator.Generator`` (tests of the worker and the add-on).

Selected with ``MOTIONPROMPT_GENERATOR_FACTORY=fake_generator:make_generator`` (tests/ on the
path). Each motion is a smooth arm swing plus a walk forward, one step per token (2 frames);
``FAKE_STEP_SECONDS`` slows the steps down. Prompts "fail" raise, "crash" kills the process.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from motionprompt.body.motion import Motion
from motionprompt.body.rotations import axis_angle_to_matrix
from motionprompt.request import Cancelled
from motionprompt.text.segments import split_actions


class FakeGenerator:
    def __init__(self, model: str, device: str, offload_text_encoder: bool = False):
        self.model, self.device = model, device
        # the motions' source names the loading option, so tests see it reached the loader
        self.name = f"fake-{model}" + ("+offload" if offload_text_encoder else "")
        self.step_seconds = float(os.environ.get("FAKE_STEP_SECONDS", "0.002"))

    def generate(self, request, progress=None, cancel=None, context=None, target=None):
        prompts, compose = request.prompts, request.compose
        tokens = max(1, int(round(request.seconds * 15)))
        seeds = list(request.seeds) if request.seeds else list(range(len(prompts)))
        for p in prompts:
            if p == "fail":
                raise ValueError("fake failure for prompt 'fail'")
            if p == "crash":
                sys.stderr.write("fake generator: crashing on purpose\n")
                sys.stderr.flush()
                os._exit(3)
        for step in range(tokens):
            if cancel is not None and cancel():
                raise Cancelled("cancelled")
            time.sleep(self.step_seconds)
            if progress is not None:
                progress(step + 1, tokens)
        out = []
        for prompt, seed in zip(prompts, seeds):
            T = 2 * tokens
            t = np.arange(T)[:, None] / 30.0
            aa = np.zeros((T, 22, 3))
            aa[:, 16, 2] = -1.2 + 0.3 * np.sin(2 * np.pi * t[:, 0] + seed)
            aa[:, 1, 0] = 0.4 * np.sin(4 * np.pi * t[:, 0])
            aa[:, 2, 0] = -0.4 * np.sin(4 * np.pi * t[:, 0])
            root = np.concatenate([0 * t, 0.95 + 0 * t, 1.2 * t], axis=1)
            m = Motion(axis_angle_to_matrix(aa), root, prompt=prompt, seed=int(seed), source=self.name)
            parts = split_actions(prompt) if compose else [prompt]
            if len(parts) > 1:  # equal shares, as the real generator's meta describes them
                edges = np.linspace(0, T / 30.0, len(parts) + 1)
                m.meta["segments"] = [dict(text=t, start=float(a), end=float(b))
                                      for t, a, b in zip(parts, edges[:-1], edges[1:])]
            m = m.with_(features=m.to_272())
            if "warn" in prompt:  # a prompt with "warn" in it gets a warning, as the real generator's meta
                m.meta["warnings"] = [f"fake warning for {prompt!r}"]
            if context is not None:  # the given motion unchanged, then the new frames from its last position
                from motionprompt.body.splice import splice

                join = m.with_(rotations=np.concatenate([m.rotations[:1], m.rotations]),  # its frame 0 joins,
                               root_translation=np.concatenate([m.root_translation[:1], m.root_translation]))
                m = splice(context, join, 1)  # then T new frames, as the real generator makes
            if target is not None:  # ends in the pose, as the real generator's in-between does
                from motionprompt.postprocess.feet import plant_into_pose

                m = plant_into_pose(m, target)
            out.append(m)
        return out


def make_generator(model, device, dtype=None, offload_text_encoder=False):
    return FakeGenerator(model, device, offload_text_encoder)
