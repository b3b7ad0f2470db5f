"""The shipped demo model: it loads offline, follows held-out wordings, and behaves physically."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionprompt_demo import captions
from motionprompt.models.model_spec import DEMO_SPEC
from motionprompt.request import GenerateRequest
from motionprompt_demo.recognise import Recogniser, foot_skating

pytestmark = pytest.mark.skipif(not DEMO_SPEC.is_file(), reason="demo model not trained yet")

#: Every action the model knows; the test asks for each with its first held-out wording.
ACTIONS = list(captions.PHRASES)
#: Held-out pairs in the right order, floors against regressions. Action by action (the demo's
#: TOML has ``compose = true``) the build measures 80 % in bfloat16, 78 % in float32
#: (tools/eval_demo.py, 4 seeds of 48 wordings); the whole prompt at once 55 % / 58 % (the build
#: before guidance and the balanced VQ-VAE had 17 %).
ORDER_FLOOR = {True: 0.6, False: 0.3}


@pytest.fixture(scope="module")
def gen():
    from motionprompt.generation.generator import Generator

    torch.set_num_threads(1)
    return Generator.from_spec("demo")


@pytest.fixture(scope="module")
def singles(gen):
    held = dict()
    for prompt, action in captions.heldout_prompts()[0]:
        held.setdefault(action, prompt)  # the first held-out wording of each action
    prompts = [held[a] for a in ACTIONS]
    motions = gen.generate(GenerateRequest(prompts + prompts, seeds=[0] * len(prompts) + [1] * len(prompts)))
    return prompts, motions


def test_demo_files_are_small_and_complete():
    folder = DEMO_SPEC.parent
    for name in ("model.toml", "lm.safetensors", "vqvae.safetensors", "mean.npy", "std.npy", "recogniser.npz",
                 "MODEL_CARD.md", "captions.npz"):
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


@pytest.mark.parametrize("compose", [True, False], ids=["action-by-action", "whole-prompt"])
def test_heldout_pairs_keep_their_order(gen, compose):
    """Two actions joined by a connector never seen in training ("Next, ...", "afterwards ...")."""
    assert gen.default_compose
    pairs = captions.heldout_prompts()[1]
    motions = gen.generate(GenerateRequest([p for p, _ in pairs], seeds=[0] * len(pairs), compose=compose))
    rec = Recogniser.load()
    ok = [rec.predict_order(m.joint_positions(), a, b)[0] for m, (_, (a, b)) in zip(motions, pairs)]
    assert np.mean(ok) >= ORDER_FLOOR[compose], f"order kept in {np.mean(ok):.0%} of {len(ok)} held-out pairs"
    if compose:  # each action is its own segment, and they meet without a jump
        for m in motions:
            (a, b), (c, d) = [(s["start"], s["end"]) for s in m.meta["segments"]]
            assert a == 0 and b == c and abs(d - m.num_frames / m.fps) < 1e-3
            j, b = m.joint_positions(), round(b * m.fps)
            step = np.linalg.norm(np.diff(j[b - 3:b + 3], axis=0), axis=-1).max()
            assert step < 0.1, f"{m.prompt!r}: a joint moves {step:.2f} m in one frame at the join"


def test_motions_are_finite_sized_and_grounded(singles):
    """Finite, 1-10 s, feet planted: the stance-weighted slide (what the evaluation reports)
    under 2 cm/frame, and skids of 4 cm/frame or more in at most 1 motion in 20 (seed 1 of
    "leaps ahead" lands with a foot 4 cm into the floor and slides on those frames)."""
    prompts, motions = singles
    slides = []
    for m in motions:
        x = m.to_272()
        assert np.all(np.isfinite(x))
        assert 1.0 <= m.duration <= 10.0 + 1e-6
        slides.append(foot_skating(m.joint_positions()))
    mean = sum(v * n for v, n in slides) / sum(n for _, n in slides)
    assert mean < 0.02, f"mean stance slide {100 * mean:.2f} cm/frame"
    skids = [(p, round(100 * v, 1)) for (v, _), p in zip(slides, prompts + prompts) if v >= 0.04]
    assert len(skids) <= len(motions) // 20, f"stance slides of 4 cm/frame or more: {skids}"


def test_seeds_vary_and_reproduce(gen, singles):
    """Another seed, another motion: a different length (counts, durations) or other poses.
    (The corpus has one gait per action and speed word, so poses alone vary little.)"""
    prompts, motions = singles
    k = len(prompts)
    differ = []
    for a, b in zip(motions[:k], motions[k:]):
        ja, jb = a.joint_positions(), b.joint_positions()
        n = min(len(ja), len(jb))
        differ.append(abs(a.duration - b.duration) >= 0.2 or np.linalg.norm(ja[:n] - jb[:n], axis=-1).mean() > 0.01)
    assert np.mean(differ) >= 0.5, f"seeds 0 and 1 differ visibly for {np.mean(differ):.0%} of the actions"
    i = ACTIONS.index("walk_forward")
    again = gen.generate(GenerateRequest([prompts[i]], seeds=[0]))[0]
    assert np.allclose(again.to_272(), motions[i].to_272(), atol=1e-4)


def test_requested_duration_is_met(gen):
    m = gen.generate(GenerateRequest(["a human proceeds forward on foot"], seconds=3.0, min_seconds=3.0, seeds=[3]))[0]
    assert abs(m.duration - 3.0) <= 0.1


def test_readme_prompt_plays_its_three_actions(gen):
    """The README's first command: three actions, each its own segment, each recognised in its
    own frames (seeds 0-11 give all three 8 times in bfloat16, 9 in float32; most misses are a
    quarter turn for "turns around")."""
    prompt = "a person walks forward, turns around, then waves with the right hand"
    rec = Recogniser.load()
    good = 0
    for m in gen.generate(GenerateRequest([prompt] * 4, seeds=[0, 1, 2, 3])):
        segs = m.meta["segments"]
        assert [s["text"] for s in segs] == ["a person walks forward", "turns around", "waves with the right hand"]
        j = m.joint_positions()
        got = [rec.predict(j[round(s["start"] * m.fps):round(s["end"] * m.fps)]) for s in segs]
        good += got == ["walk_forward", "turn_around", "wave_right"]
    assert good >= 2, f"all three actions in {good} of 4 seeds"
