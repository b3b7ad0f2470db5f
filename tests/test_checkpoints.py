"""Checkpoint loading: released-layout files (keys written out from the spec, not from our
modules) load strict and unchanged; mismatches and unsafe files give clear errors; TOML model
descriptions round-trip."""

from __future__ import annotations

import collections

import pytest
import torch

from motionprompt.models.checkpoints import (CheckpointError, _mismatch, infer_lm_config, load_prefix_lm, load_vqvae,
                                      read_state_dict, save_state_dict)
from motionprompt.models.model_spec import DEMO_SPEC, ModelSpec, ModelSpecError
from motionprompt.models.configs import LMConfig, VQVAEConfig
from motionprompt.models.prefix_lm import PrefixLM
from motionprompt.models.vqvae import HumanVQVAE

torch.set_num_threads(1)


def released_lm_state(n_layer, n_embd, vocab, clip_dim, hidden, make=torch.randn):
    """The spec's key list and shapes, filled by ``make(*shape)``."""
    sd = {"transformer.wte.weight": make(vocab, n_embd)}
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        sd[p + "rms_1.scale"] = make(n_embd)
        sd[p + "attn.c_attn.weight"] = make(3 * n_embd, n_embd)
        sd[p + "attn.c_proj.weight"] = make(n_embd, n_embd)
        sd[p + "rms_2.scale"] = make(n_embd)
        sd[p + "mlp.c_fc1.weight"] = make(hidden, n_embd)
        sd[p + "mlp.c_fc2.weight"] = make(hidden, n_embd)
        sd[p + "mlp.c_proj.weight"] = make(n_embd, hidden)
    sd["transformer.ln_f.scale"] = make(n_embd)
    sd["lm_head.weight"] = make(vocab - 1, n_embd)
    sd["llama_proj.weight"] = make(n_embd, clip_dim)
    sd["llama_proj.bias"] = make(n_embd)
    return sd


def released_vq_state(width, code_dim, n_levels, depth=3, inp=272):
    """The released VQ-VAE keys: nn.Sequential indices from the spec's module order
    (patcher first in the encoder, un-patcher last in the decoder)."""
    sd = collections.OrderedDict()

    def conv(name, cout, cin, k):
        sd[name + ".weight"] = torch.randn(cout, cin, k) * 0.05
        sd[name + ".bias"] = torch.randn(cout) * 0.05

    def resnet(prefix):
        for j in range(depth):
            b = f"{prefix}.model.{j}."
            for norm in ("norm1", "norm2"):
                sd[b + norm + ".weight"] = 1 + 0.1 * torch.randn(width)
                sd[b + norm + ".bias"] = 0.1 * torch.randn(width)
            conv(b + "conv1", width, width, 3)
            conv(b + "conv2", width, width, 1)

    def patcher(prefix):
        sd[prefix + ".wavelets"] = torch.tensor([0.7071067811865476, 0.7071067811865476])
        sd[prefix + "._arange"] = torch.arange(2)

    e, d = "vqvae.encoder.model", "vqvae.decoder.model"
    patcher(f"{e}.0")
    conv(f"{e}.1", width, inp, 3)
    conv(f"{e}.3.0", width, width, 4)
    resnet(f"{e}.3.1")
    conv(f"{e}.4", code_dim, width, 3)
    conv(f"{d}.0", width, code_dim, 3)
    resnet(f"{d}.2.0")
    conv(f"{d}.2.2", width, width, 3)
    conv(f"{d}.3", width, width, 3)
    conv(f"{d}.5", inp, width, 3)
    patcher(f"{d}.6")
    sd["vqvae.quantizer.project_in.weight"] = torch.randn(n_levels, code_dim) * 0.05
    sd["vqvae.quantizer.project_in.bias"] = torch.zeros(n_levels)
    sd["vqvae.quantizer.project_out.weight"] = torch.randn(code_dim, n_levels) * 0.05
    sd["vqvae.quantizer.project_out.bias"] = torch.zeros(code_dim)
    return sd


@pytest.mark.parametrize("preset,hidden", [("3B", 8704), ("7B", 11008)])
def test_released_3b_7b_shapes_fit_exactly(preset, hidden):
    cfg = LMConfig.from_preset(preset)
    fake = released_lm_state(cfg.n_layer, cfg.n_embd, 64002, 2048, hidden,
                             make=lambda *s: torch.empty(*s, device="meta"))
    with torch.device("meta"):
        model = PrefixLM(cfg)
    assert _mismatch(model, fake) == ([], [], [])
    assert infer_lm_config(fake)["preset"] == preset
    with torch.device("meta"):
        vq = HumanVQVAE(VQVAEConfig())
    assert _mismatch(vq, released_vq_state(512, 512, 6)) == ([], [], [])


def test_release_style_file_loads_strict_and_unchanged(tmp_path):
    torch.manual_seed(0)
    lm_sd = released_lm_state(2, 32, 402, 384, 96)
    vq_sd = released_vq_state(32, 32, 4, depth=2)
    path = tmp_path / "motionmillion_tiny.pth"
    torch.save({"trans": {"module." + k: v for k, v in lm_sd.items()}, "net": dict(vq_sd), "nb_iter": 120000,
                "optimizer": {"state": {}, "param_groups": [{"lr": 2e-4}]}}, path)
    lm = load_prefix_lm(path, LMConfig(n_layer=2, n_head=2, n_embd=32, vocab_size=402, clip_dim=384, mlp_multiple_of=32))
    for k, v in lm_sd.items():
        assert torch.equal(lm.state_dict()[k], v), k
    vq = load_vqvae(path, VQVAEConfig(width=32, code_dim=32, depth=2, levels=(5, 5, 4, 4)))
    for k, v in vq_sd.items():
        assert torch.equal(vq.state_dict()[k], v), k
    # the loaded model runs
    ids = torch.randint(0, 400, (1, 5))
    assert vq.decode(ids).shape == (1, 10, 272)
    logits = lm(torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool), ids)
    assert logits.shape == (1, 5, 401) and torch.isfinite(logits).all()


def test_mismatch_error_lists_keys_and_names_the_fitting_preset(tmp_path):
    cfg = LMConfig.from_preset("tiny", vocab_size=402, clip_dim=384)
    path = tmp_path / "lm.pth"
    torch.save({"trans": PrefixLM(cfg).state_dict()}, path)
    wrong = LMConfig.from_preset("mini", vocab_size=402, clip_dim=384)
    with pytest.raises(CheckpointError) as e:
        load_prefix_lm(path, wrong)
    msg = str(e.value)
    assert str(path) in msg and "missing keys" in msg and "transformer.h.2." in msg
    assert "shape clashes" in msg and "preset 'tiny'" in msg
    with pytest.raises(CheckpointError, match="'net'"):
        load_vqvae(path, VQVAEConfig())


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"trans": {"w": torch.zeros(1)}, "x": _Evil()}, path)
    with pytest.raises(CheckpointError, match="never unpickles code"):
        read_state_dict(path, "trans")


def test_safetensors_roundtrip_and_missing_file(tmp_path):
    vq = HumanVQVAE(VQVAEConfig(width=16, code_dim=16, depth=1, levels=(4, 4)))
    path = save_state_dict(vq, tmp_path / "vq.safetensors", metadata={"config": vq.config.to_dict()})
    back = load_vqvae(path, vq.config)
    for k, v in vq.state_dict().items():
        assert torch.equal(back.state_dict()[k], v)
    with pytest.raises(CheckpointError, match="not found"):
        read_state_dict(tmp_path / "nope.pth")


def test_model_description_roundtrip(tmp_path):
    (tmp_path / "w").mkdir()
    spec = ModelSpec(name="t", text_encoder=dict(kind="minilm", path=None, max_tokens=100, pooling="mean"),
                     lm=LMConfig.from_preset("tiny", vocab_size=402, clip_dim=384),
                     lm_checkpoint=tmp_path / "w" / "lm.safetensors",
                     vqvae=VQVAEConfig(width=16, code_dim=16, depth=1, levels=(5, 5, 4, 4), norm=None),
                     vqvae_checkpoint=tmp_path / "w" / "vq.safetensors", fps=30.0)
    path = spec.write(tmp_path / "model.toml")
    text = path.read_text()
    assert 'checkpoint = "w/lm.safetensors"' in text
    back = ModelSpec.load(str(path))
    assert back.lm == spec.lm and back.vqvae == spec.vqvae and back.text_encoder["pooling"] == "mean"
    assert back.lm_checkpoint == spec.lm_checkpoint.resolve() and back.vqvae.norm is None


def test_builtin_descriptions(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONPROMPT_CHECKPOINTS", str(tmp_path))
    s3 = ModelSpec.load("motionmillion-3b")
    assert (s3.lm.n_layer, s3.lm.n_embd, s3.lm.vocab_size, s3.lm.clip_dim, s3.lm.block_size) == (24, 3200, 64002, 2048, 301)
    assert s3.lm_checkpoint == tmp_path / "pretrained_models" / "motionmillion_3B_all.pth"
    assert s3.text_encoder["path"] == tmp_path / "flan-t5-xl"
    assert ModelSpec.load("motionmillion-7b").lm.n_layer == 36
    assert s3.vqvae == VQVAEConfig()
    with pytest.raises(ModelSpecError, match="built-in"):
        ModelSpec.load("nonexistent-model")
    if not DEMO_SPEC.is_file():
        with pytest.raises(ModelSpecError, match="demo model"):
            ModelSpec.load("demo")


def test_description_with_inconsistent_vocab_is_refused(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('[text_encoder]\nkind = "minilm"\n[lm]\npreset = "tiny"\nvocab_size = 100\n'
                 '[vqvae]\npreset = "tiny"\n')
    with pytest.raises(ModelSpecError, match="400 codes"):
        ModelSpec.load(str(p))
