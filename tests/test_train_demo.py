"""tools/train_demo.py pieces that decide what the prefix-LM learns: the loss weights on the
codes that start an action, and the weighted cross-entropy they feed, against hand computations."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import train_demo  # noqa: E402
from motionprompt.models.configs import LMConfig  # noqa: E402
from motionprompt.models.prefix_lm import PrefixLM  # noqa: E402

torch.set_num_threads(1)


def test_start_weights_boost_the_first_codes_of_each_action():
    # two actions blended over frames 87..97; 2 frames per code; 195 frames = 97 codes + END
    w = train_demo._start_weights([(0, 97), (87, 195)], n_tokens=97, fpt=2, window=12, boost=4.0)
    assert w.shape == (98,)
    boosted = set(range(0, 12)) | set(range(43, 55))
    assert {int(i) for i in np.flatnonzero(w == 4.0)} == boosted
    assert np.all(w[[i for i in range(98) if i not in boosted]] == 1.0)
    # a window running past the last code stops there (END keeps weight 1)
    w = train_demo._start_weights([(0, 10), (8, 20)], n_tokens=10, fpt=2, window=12, boost=3.0)
    assert w.tolist() == [3.0] * 10 + [1.0]


def test_weighted_loss_is_the_weighted_mean_of_per_code_cross_entropy():
    """PrefixLM.loss with the weights train_demo builds: sum(w * nll) / sum(w)."""
    torch.manual_seed(0)
    cfg = LMConfig(n_layer=1, n_head=2, n_embd=16, vocab_size=20, clip_dim=8, mlp_multiple_of=16)
    model = PrefixLM(cfg).init_weights(std=0.5).eval()
    feats = torch.randn(2, 3, 8)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    tok = torch.tensor([[3, 4, cfg.end_id, cfg.pad_id], [5, 6, 7, cfg.end_id]])
    ones = (tok != cfg.pad_id).float()
    # plain weights: the model's own mean cross-entropy over non-padding targets
    torch.testing.assert_close(model.loss(feats, mask, tok, ones), model.loss(feats, mask, tok))
    # boosted: sum(w * nll) / sum(w), computed by hand from log-softmax
    wt = torch.tensor([[4.0, 1.0, 1.0, 0.0], [1.0, 4.0, 4.0, 1.0]])
    logp = torch.log_softmax(model(feats, mask, tok), -1)
    nll = -logp.gather(-1, tok.clamp_max(cfg.vocab_size - 2)[..., None])[..., 0]
    want = (nll * wt).sum() / wt.sum()
    torch.testing.assert_close(model.loss(feats, mask, tok, wt), want)


def test_export_writes_a_model_the_generator_loads_with_its_settings(tmp_path):
    """The exported model.toml carries the generation settings the card describes (guidance,
    action-by-action composing, the subject, the CPU precision): a retrained demo behaves as
    the shipped one. Weights come back as saved (the prefix-LM through float16)."""
    from motionprompt.models import model_spec
    from motionprompt_demo import recognise
    from motionprompt.generation.generator import Generator
    from motionprompt.models.configs import VQVAE_PRESETS, VQVAEConfig
    from motionprompt.models.vqvae import HumanVQVAE

    torch.manual_seed(0)
    vq = HumanVQVAE(VQVAEConfig(**VQVAE_PRESETS["tiny"]))
    lm = PrefixLM(LMConfig.from_preset("tiny", vocab_size=vq.config.nb_code + 2, clip_dim=384)).init_weights()
    rng = np.random.default_rng(0)
    rec = recognise.fit_recogniser(rng.normal(size=(20, len(recognise.features(np.zeros((30, 22, 3)))))),
                                   np.arange(20) % 2, ("idle", "walk_forward"), steps=5)
    corpus = dict(mean=np.zeros(272, np.float32), std=np.ones(272, np.float32), recogniser=rec)
    info = dict(text_pooling="clauses+tokens", guidance=1.5, compose=True, subject="a person", cpu_dtype="bfloat16")
    train_demo.export(tmp_path, vq, lm, corpus, info)
    spec = model_spec.resolve_spec(str(tmp_path / "model.toml"))
    assert spec.extra["guidance"] == 1.5 and spec.extra["compose"] is True
    assert spec.extra["subject"] == "a person" and spec.extra["cpu_dtype"] == "bfloat16"
    assert spec.text_encoder["pooling"] == "clauses+tokens"
    gen = Generator.from_spec(spec, dtype=torch.float32)
    assert gen.default_compose and gen.model_text("the athlete jumps") == "a person jumps"
    for k, v in lm.state_dict().items():
        torch.testing.assert_close(gen.lm.state_dict()[k], v.half().float())
    # float32 on the CPU: the key is left out, and the generator stays in float32
    train_demo.export(tmp_path / "f32", vq, lm, corpus, {**info, "cpu_dtype": "float32", "subject": ""})
    spec = model_spec.resolve_spec(str(tmp_path / "f32" / "model.toml"))
    assert "cpu_dtype" not in spec.extra and "subject" not in spec.extra



def test_captions_file_and_its_model_toml_keys(tmp_path, monkeypatch):
    """train_demo writes the caption index with the runtime encoder's embeddings and names it,
    its threshold and the default in model.toml; the generator loads it from there."""
    from motionprompt.models.model_spec import ModelSpec
    from motionprompt.generation.generator import Generator
    from motionprompt.text.vocabulary import CaptionIndex

    pairs = [("a person walks forward", "walk_forward"), ("a person claps", "clap")]
    monkeypatch.setattr(train_demo.captions, "training_captions", lambda: pairs)
    idx = CaptionIndex.load(train_demo.write_captions(tmp_path, 0.6, 0.9))
    assert list(zip(idx.texts, idx.actions)) == pairs and idx.embeddings.shape == (2, 384)
    args = train_demo.build_parser().parse_args(["--no-caption-rewrite", "--caption-threshold", "0.6"])
    keys = train_demo.caption_settings(args)
    assert keys == dict(captions="captions.npz", caption_rewrite=False, caption_threshold=0.6, caption_keep=0.95)
    demo = ModelSpec.load("demo")
    spec = demo.replace(source=tmp_path / "model.toml", extra={**demo.extra, **keys, "caption_rewrite": True})
    gen = Generator.from_spec(spec)
    assert gen.default_caption_rewrite and gen.captions.threshold == 0.6 and gen.captions.texts == idx.texts
    bad = demo.replace(source=tmp_path / "model.toml", extra={**demo.extra, "captions": "missing.npz"})
    with pytest.raises(ValueError, match="missing.npz not found"):
        Generator.from_spec(bad)


@pytest.mark.parametrize("flag, value, changed", [
    ("--seed", "1", {"corpus", "vqvae", "tokens", "text", "lm"}),
    ("--clips", "100", {"corpus", "vqvae", "tokens", "text", "lm"}),
    ("--texts-per-clip", "5", {"corpus", "vqvae", "tokens", "text", "lm"}),  # one generator draws both
    ("--vq-steps", "10", {"vqvae", "tokens", "lm"}), ("--vq-batch", "8", {"vqvae", "tokens", "lm"}),
    ("--vq-crop", "16", {"vqvae", "tokens", "lm"}), ("--vq-lr", "0.01", {"vqvae", "tokens", "lm"}),
    ("--vq-levels", "8,8", {"vqvae", "tokens", "lm"}), ("--vq-down-t", "2", {"vqvae", "tokens", "lm"}),
    ("--text-pooling", "mean+tokens", {"text", "lm"}),
    ("--lm-heads", "8", {"lm"}), ("--lm-batch", "8", {"lm"}), ("--lm-lr", "0.01", {"lm"}),
    ("--lm-start-boost", "2", {"lm"}), ("--p-uncond", "0.2", {"lm"}),
    ("--guidance", "3", set()), ("--threads", "1", set()), ("--out", "elsewhere", set()),
])
def test_work_files_are_named_by_what_they_hold(flag, value, changed):
    """A run with another value never reuses a work-dir file whose content that value changes,
    and still reuses the others."""
    base = train_demo.work_files(train_demo.build_parser().parse_args([]))
    other = train_demo.work_files(train_demo.build_parser().parse_args([flag, value]))
    assert {k for k in base if base[k] != other[k]} == changed
    assert len(set(base.values())) == len(base)


def test_caption_reliability_is_each_captions_share_of_seeds_done_right(tmp_path):
    """eval_demo.caption_reliability runs each caption (as written) on each seed and counts the
    seeds whose motion is recognised as the caption's action; train_demo measures nothing
    without a model beside the captions."""
    import eval_demo
    from types import SimpleNamespace

    asked = []

    class Gen:
        def generate(self, req):
            asked.append(req)
            return [SimpleNamespace(joint_positions=lambda p=p, s=s: (p, s)) for p, s in zip(req.prompts, req.seeds)]

    # "claps" is done on every seed, "waves" on seed 101 only, "jumps" never
    done = {("a person claps", s) for s in (100, 101, 102)} | {("a person waves", 101)}
    rec = SimpleNamespace(predict=lambda ps: {"a person claps": "clap", "a person waves": "wave",
                                              "a person jumps": "jump"}[ps[0]] if ps in done else "idle")
    rel = eval_demo.caption_reliability(Gen(), ["a person claps", "a person waves", "a person jumps"],
                                        ["clap", "wave", "jump"], seeds=(100, 101, 102), recogniser=rec)
    np.testing.assert_allclose(rel, [1.0, 1 / 3, 0.0])
    assert asked[0].caption_rewrite is False and list(asked[0].seeds) == [100, 101, 102] * 3
    assert train_demo.measure_reliability(tmp_path, 4) is None and not (tmp_path / "captions.npz").exists()
