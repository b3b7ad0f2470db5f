"""The shipped demo model: it loads offline, follows held-out wordings, and behaves physically."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionprompt import prompts_demo
from motionprompt.model_spec import DEMO_SPEC
from motionprompt.recognise import Recogniser, foot_skating

pytestmark = pytest.mark.skipif(not DEMO_SPEC.is_file(), reason="demo model not trained yet")

#: A handful of actions whose held-out wordings the test asks for (one phrase each).
ACTIONS = ["walk_forward", "walk_backward", "run", "jump_in_place", "squat", "sit_down", "turn_around",
           "wave_right", "raise_arms", "clap", "kick_left", "bow"]


@pytest.fixture(scope="module")
def gen():
    from motionprompt.generator import Generator

    torch.set_num_threads(1)
    return Generator.from_spec("demo")


@pytest.fixture(scope="module")
def singles(gen):
    held = dict()
    for prompt, action in prompts_demo.heldout_prompts()[0]:
        held.setdefault(action, prompt)  # the first held-out wording of each action
    prompts = [held[a] for a in ACTIONS]
    motions = gen.generate(prompts + prompts, seeds=[0] * len(prompts) + [1] * len(prompts))
    return prompts, motions


def test_demo_files_are_small_and_complete():
    folder = DEMO_SPEC.parent
    for name in ("model.toml", "lm.safetensors", "vqvae.safetensors", "mean.npy", "std.npy", "recogniser.npz",
                 "MODEL_CARD.md"):
        assert (folder / name).is_file(), name
    size = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    assert size <= 25 * 2 ** 20, f"weights are {size / 2 ** 20:.1f} MB"


def test_heldout_wordings_are_recognised(singles):
    prompts, motions = singles
    rec = Recogniser.load()
    want = ACTIONS + ACTIONS
    got = [rec.predict(m.joint_positions()) for m in motions]
    acc = np.mean([g == w for g, w in zip(got, want)])
    wrong = [(w, g, p) for w, g, p in zip(want, got, prompts + prompts) if g != w]
    assert acc >= 0.8, f"single-action accuracy {acc:.0%}: {wrong}"


def test_motions_are_finite_sized_and_grounded(singles):
    _, motions = singles
    for m in motions:
        x = m.to_272()
        assert np.all(np.isfinite(x))
        assert 1.0 <= m.duration <= 10.0 + 1e-6
        j = m.joint_positions()
        assert foot_skating(j)[0] < 0.04  # the evaluation reports the mean; this guards outliers


def test_seeds_vary_and_reproduce(gen, singles):
    prompts, motions = singles
    a, b = motions[0].joint_positions(), motions[len(prompts)].joint_positions()
    n = min(len(a), len(b))
    assert np.linalg.norm(a[:n] - b[:n], axis=-1).mean() > 0.01  # another seed, another motion
    again = gen.generate([prompts[0]], seeds=[0])[0]
    assert np.allclose(again.to_272(), motions[0].to_272(), atol=1e-4)


def test_requested_duration_is_met(gen):
    m = gen.generate(["a human proceeds forward on foot"], seconds=3.0, min_seconds=3.0, seeds=[3])[0]
    assert abs(m.duration - 3.0) <= 0.1
