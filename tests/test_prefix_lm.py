"""The prefix-LM: released key names and shapes, and its logits against an independent
re-implementation of the release's computation (complex RoPE, tril | text-outer mask)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from motionprompt.models.configs import PRESETS, LMConfig, mlp_hidden_width
from motionprompt.models.prefix_lm import PrefixLM

torch.set_num_threads(1)


def small_model(seed=0, **kw) -> PrefixLM:
    torch.manual_seed(seed)
    cfg = LMConfig(**{**dict(n_layer=2, n_head=2, n_embd=32, vocab_size=50, clip_dim=12, mlp_multiple_of=32), **kw})
    m = PrefixLM(cfg).init_weights(std=0.5)
    for blk in m.transformer.h:  # non-trivial norms
        blk.rms_1.scale.data.uniform_(0.5, 1.5)
        blk.rms_2.scale.data.uniform_(0.5, 1.5)
    return m.eval()


def release_logits(model: PrefixLM, feats: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Batch-1, no padding, written from the spec: returns logits (L+M, vocab-1) for every position."""
    c = model.config
    sd = model.state_dict()
    L = feats.shape[0]
    x = feats @ sd["llama_proj.weight"].T + sd["llama_proj.bias"]
    x = torch.cat([x, sd["transformer.wte.weight"][tokens]], 0)
    T, hs = x.shape[0], c.head_dim

    def rms(v, s):
        return v / torch.sqrt((v * v).mean(-1, keepdim=True) + 1e-5) * s

    theta = 1.0 / (10000 ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    rot = torch.polar(torch.ones(T, hs // 2, dtype=torch.float64), torch.outer(torch.arange(T, dtype=torch.float64), theta))

    def rope(v):  # (T, nh, hs) interleaved pairs as complex numbers
        vc = torch.view_as_complex(v.double().reshape(T, c.n_head, hs // 2, 2).contiguous())
        return torch.view_as_real(vc * rot[:, None]).reshape(T, c.n_head, hs).float()

    text = torch.zeros(T, dtype=torch.bool)
    text[:L] = True
    allowed = torch.tril(torch.ones(T, T, dtype=torch.bool)) | (text[:, None] & text[None, :])
    for i in range(c.n_layer):
        p = f"transformer.h.{i}."
        h = rms(x, sd[p + "rms_1.scale"])
        q, k, v = (h @ sd[p + "attn.c_attn.weight"].T).split(c.n_embd, -1)
        q, k, v = rope(q.view(T, c.n_head, hs)), rope(k.view(T, c.n_head, hs)), v.view(T, c.n_head, hs)
        att = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(hs)
        att = att.masked_fill(~allowed, float("-inf")).softmax(-1)
        y = torch.einsum("hqk,khd->qhd", att, v).reshape(T, c.n_embd)
        x = x + y @ sd[p + "attn.c_proj.weight"].T
        h = rms(x, sd[p + "rms_2.scale"])
        m = F.silu(h @ sd[p + "mlp.c_fc1.weight"].T) * (h @ sd[p + "mlp.c_fc2.weight"].T)
        x = x + m @ sd[p + "mlp.c_proj.weight"].T
    return rms(x, sd["transformer.ln_f.scale"]) @ sd["lm_head.weight"].T


def test_released_shapes_and_key_names():
    assert mlp_hidden_width(3200) == 8704 and mlp_hidden_width(4096) == 11008
    for name, hidden in (("3B", 8704), ("7B", 11008)):
        cfg = LMConfig.from_preset(name)
        with torch.device("meta"):
            sd = PrefixLM(cfg).state_dict()
        n, V = cfg.n_embd, 64002
        assert sd["transformer.wte.weight"].shape == (V, n)
        assert sd["lm_head.weight"].shape == (V - 1, n)
        assert sd["llama_proj.weight"].shape == (n, 2048) and sd["llama_proj.bias"].shape == (n,)
        assert sd["transformer.ln_f.scale"].shape == (n,)
        last = cfg.n_layer - 1
        assert sd[f"transformer.h.{last}.attn.c_attn.weight"].shape == (3 * n, n)
        assert sd[f"transformer.h.{last}.mlp.c_fc1.weight"].shape == (hidden, n)
        assert sd[f"transformer.h.{last}.mlp.c_proj.weight"].shape == (n, hidden)
        per_block = {k.split(".", 3)[3] for k in sd if k.startswith("transformer.h.0.")}
        assert per_block == {"rms_1.scale", "attn.c_attn.weight", "attn.c_proj.weight", "rms_2.scale",
                             "mlp.c_fc1.weight", "mlp.c_fc2.weight", "mlp.c_proj.weight"}
        assert len(sd) == 5 + 7 * cfg.n_layer  # wte, ln_f, lm_head, llama_proj w+b; 7 per block
    assert {"3B", "7B", "44M", "65B", "tiny"} <= set(PRESETS)
    assert LMConfig.from_preset("3B").preset_name() == "3B"


def test_logits_match_independent_release_computation():
    m = small_model()
    torch.manual_seed(1)
    feats = torch.randn(5, 12)
    tokens = torch.randint(0, 48, (7,))
    ref = release_logits(m, feats, tokens)  # (12, V-1)
    logits = m(feats[None], torch.ones(1, 5, dtype=torch.bool), torch.cat([tokens, tokens[:1]])[None])[0]
    # forward's logits[j] come from position L-1+j
    torch.testing.assert_close(logits, ref[4:], rtol=1e-4, atol=1e-4)
    full = m.next_logits_full(feats[None], torch.ones(1, 5, dtype=torch.bool), tokens[None])[0]
    torch.testing.assert_close(full, ref[-1], rtol=1e-4, atol=1e-4)


def test_padded_batch_rows_equal_rows_alone():
    m = small_model()
    torch.manual_seed(2)
    lengths = [3, 7, 1]
    L = max(lengths)
    feats = torch.randn(3, L, 12)
    mask = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    feats = feats.masked_fill(~mask[..., None], 1e3)  # garbage in pads must not leak
    tokens = torch.randint(0, 48, (3, 6))
    batch = m(feats, mask, tokens)
    for b, n in enumerate(lengths):
        alone = m(feats[b:b + 1, :n], mask[b:b + 1, :n], tokens[b:b + 1])
        torch.testing.assert_close(batch[b], alone[0], rtol=1e-4, atol=1e-4)


def test_text_is_bidirectional_motion_is_causal():
    m = small_model()
    torch.manual_seed(3)
    feats = torch.randn(1, 4, 12)
    mask = torch.ones(1, 4, dtype=torch.bool)
    tokens = torch.randint(0, 48, (1, 6))
    base = m(feats, mask, tokens)
    later = tokens.clone()
    later[0, 4] = (later[0, 4] + 1) % 48
    out = m(feats, mask, later)
    torch.testing.assert_close(out[:, :5], base[:, :5])  # logits up to token 4 do not see it
    assert not torch.allclose(out[:, 5], base[:, 5])
    # the first text token's state depends on the last one: the first-token logits change
    # when only the last text token changes, AND when only the first one changes
    for i in (0, 3):
        f2 = feats.clone()
        f2[0, i] += 1.0
        assert not torch.allclose(m(f2, mask, tokens)[:, 0], base[:, 0])


def test_loss_ignores_pad_and_matches_cross_entropy():
    m = small_model()
    c = m.config
    torch.manual_seed(4)
    feats = torch.randn(2, 3, 12)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    tokens = torch.tensor([[5, 6, c.end_id, c.pad_id, c.pad_id], [7, 8, 9, 10, c.end_id]])
    loss = m.loss(feats, mask, tokens)
    logits = m(feats, mask, tokens)
    keep = tokens != c.pad_id
    manual = -torch.log_softmax(logits, -1).gather(-1, tokens.clamp_max(c.vocab_size - 2)[..., None])[..., 0][keep].mean()
    torch.testing.assert_close(loss, manual)
    loss.backward()
    assert m.llama_proj.weight.grad is not None and torch.isfinite(m.llama_proj.weight.grad).all()


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        LMConfig(n_embd=30, n_head=4)
    with pytest.raises(KeyError, match="unknown prefix-LM preset"):
        LMConfig.from_preset("12B")
