"""The cached batched sampler against the release's full-recompute loop, seeds, and the
sampling distribution against softmax."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from motionprompt.models.configs import LMConfig
from motionprompt.models.prefix_lm import PrefixLM
from motionprompt.request import Cancelled
from motionprompt.generation.sampler import (Sampler, SamplingConfig, choose_tokens, filter_logits,
                                  hashed_uniform, reference_sample)

torch.set_num_threads(1)

LENGTHS = [3, 7, 1, 5, 2]


def end_prone_model(seed=0) -> PrefixLM:
    """A small random model whose END logit is large enough that rows stop at different steps."""
    torch.manual_seed(seed)
    cfg = LMConfig(n_layer=2, n_head=2, n_embd=32, vocab_size=50, clip_dim=12, mlp_multiple_of=32)
    m = PrefixLM(cfg).init_weights(std=2.0).eval()
    m.lm_head.weight.data[cfg.end_id] *= 2.5
    return m


def batch_inputs(seed=1):
    torch.manual_seed(seed)
    L = max(LENGTHS)
    feats = torch.randn(len(LENGTHS), L, 12)
    mask = torch.arange(L)[None] < torch.tensor(LENGTHS)[:, None]
    return feats.masked_fill(~mask[..., None], 7.0), mask


@pytest.mark.parametrize("static", [False, True], ids=["growing-cache", "static-cache"])
def test_greedy_batched_cached_equals_release_loop_per_row(static):
    """``static`` runs on the CPU what the CUDA graph captures: text padded to a bucket, every
    step over the whole static cache under the key mask."""
    m = end_prone_model()
    feats, mask = batch_inputs()
    cfg = SamplingConfig(greedy=True, max_tokens=40, min_tokens=0)
    got = Sampler(m, static=static).sample(feats, mask, cfg=cfg)
    ref = [reference_sample(m, feats[b:b + 1, :n], cfg=cfg) for b, n in enumerate(LENGTHS)]
    assert [g.tolist() for g in got] == [r.tolist() for r in ref]
    n_out = sorted({len(r) for r in ref})
    assert len(n_out) >= 2, f"test model should end rows at different steps, got lengths {n_out}"
    assert all(int(t) != m.config.end_id for g in got for t in g)


def test_seeded_sampling_equals_release_loop_and_ignores_batch_company():
    m = end_prone_model(seed=3)
    feats, mask = batch_inputs(seed=4)
    cfg = SamplingConfig(temperature=0.9, top_k=30, top_p=0.95, max_tokens=40)
    seeds = [11, 22, 33, 44, 55]
    got = Sampler(m).sample(feats, mask, seeds=seeds, cfg=cfg)
    for b, n in enumerate(LENGTHS):
        ref = reference_sample(m, feats[b:b + 1, :n], cfg=cfg, seed=seeds[b])
        assert got[b].tolist() == ref.tolist()
    # the same prompt with the same seed in another batch (other company, other order)
    order = [4, 2, 0]
    again = Sampler(m).sample(feats[order], mask[order], seeds=[seeds[i] for i in order], cfg=cfg)
    assert [a.tolist() for a in again] == [got[i].tolist() for i in order]
    # another seed gives another motion
    other = Sampler(m).sample(feats[:1], mask[:1], seeds=[12], cfg=cfg)
    assert other[0].tolist() != got[0].tolist()


def test_min_and_max_tokens():
    m = end_prone_model()
    feats, mask = batch_inputs()
    got = Sampler(m).sample(feats, mask, cfg=SamplingConfig(greedy=True, max_tokens=12, min_tokens=6))
    assert all(6 <= len(g) <= 12 for g in got)
    m.lm_head.weight.data[m.config.end_id] = 0  # END never wins
    m.lm_head.weight.data[m.config.end_id, 0] = -1e-6
    got = Sampler(m).sample(feats, mask, cfg=SamplingConfig(greedy=True, max_tokens=9))
    assert [len(g) for g in got] == [9] * len(LENGTHS)


@pytest.mark.parametrize("static", [False, True], ids=["growing-cache", "static-cache"])
def test_per_row_min_tokens_equal_each_row_alone(static):
    """Rows with their own shortest lengths get what the release's loop gives each alone with
    that ``min_tokens``; a longer minimum keeps the row's free tokens as its start."""
    m = end_prone_model(seed=5)
    feats, mask = batch_inputs(seed=6)
    cfg = SamplingConfig(temperature=0.9, max_tokens=30, min_tokens=1)
    seeds = [3, 1, 4, 1, 5]
    free = [reference_sample(m, feats[b:b + 1, :n], cfg=cfg, seed=seeds[b]) for b, n in enumerate(LENGTHS)]
    mins = [len(f) + 4 for f in free]
    mins[2] = 0
    assert max(mins) <= cfg.max_tokens, "test model should end rows early"
    got = Sampler(m, static=static).sample(feats, mask, seeds=seeds, cfg=cfg, min_tokens=mins)
    for b, n in enumerate(LENGTHS):
        alone = SamplingConfig(temperature=0.9, max_tokens=30, min_tokens=mins[b])
        assert got[b].tolist() == reference_sample(m, feats[b:b + 1, :n], cfg=alone, seed=seeds[b]).tolist()
        assert len(got[b]) >= mins[b] and got[b][:len(free[b])].tolist() == free[b].tolist()
    with pytest.raises(ValueError, match="one min_tokens per prompt"):
        Sampler(m).sample(feats, mask, seeds=seeds, cfg=cfg, min_tokens=[1, 2])
    with pytest.raises(ValueError, match="each in 0..30"):
        Sampler(m).sample(feats, mask, seeds=seeds, cfg=cfg, min_tokens=[31] * 5)


def test_progress_and_cancel():
    m = end_prone_model()
    feats, mask = batch_inputs()
    seen = []
    Sampler(m).sample(feats, mask, cfg=SamplingConfig(greedy=True, max_tokens=10), progress=lambda s, t: seen.append((s, t)))
    assert seen[-1] == (10, 10) and all(t == 10 for _, t in seen) and [s for s, _ in seen] == sorted(s for s, _ in seen)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        Sampler(m).sample(feats, mask, cfg=SamplingConfig(greedy=True, max_tokens=30, min_tokens=30), cancel=cancel)


def test_hashed_uniform_is_uniform_and_keyed():
    seeds = torch.arange(20000, dtype=torch.int64) * 7919 + (1 << 40)
    u = hashed_uniform(seeds, 3)
    assert 0 < float(u.min()) and float(u.max()) < 1
    hist = torch.histc(u.float(), bins=10, min=0, max=1)
    assert (hist - 2000).abs().max() < 200  # ~ 4.5 sigma
    assert not torch.equal(u, hashed_uniform(seeds, 4))
    assert torch.equal(u[5:6], hashed_uniform(seeds[5:6], 3))
    # neighbouring steps of one seed are uncorrelated
    s = torch.full((5000,), 123, dtype=torch.int64)
    steps = torch.arange(5000, dtype=torch.int64)
    v = hashed_uniform(s, steps)
    assert abs(float(torch.corrcoef(torch.stack([v[:-1], v[1:]]))[0, 1])) < 0.05


def test_sampled_frequencies_follow_softmax_and_filters():
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    n = 40000
    seeds = torch.arange(n, dtype=torch.int64)
    batch = logits.expand(n, -1)
    end_id = 5
    for cfg, expect_logits in (
        (SamplingConfig(temperature=1.0), logits),
        (SamplingConfig(temperature=0.5), logits / 0.5),
        (SamplingConfig(top_k=3), filter_logits(logits[None], 3, None)[0]),
        (SamplingConfig(top_p=0.8), filter_logits(logits[None], None, 0.8)[0]),
    ):
        tok = choose_tokens(batch, cfg, seeds, step=2, end_id=end_id)
        freq = torch.bincount(tok, minlength=6).double() / n
        expect = expect_logits.double().softmax(-1)
        assert (freq - expect).abs().max() < 0.012, (cfg, freq, expect)
        assert (freq[expect == 0] == 0).all()
    # independent top-p: the nucleus of these probabilities at 0.8 is the first 3 tokens
    p = logits.softmax(-1)
    assert float(p[:2].sum()) < 0.8 <= float(p[:3].sum())
    assert torch.isfinite(filter_logits(logits[None], None, 0.8)[0]).tolist() == [True, True, True, False, False, False]
    # END is forbidden before min_tokens
    tok = choose_tokens(batch[:100], SamplingConfig(min_tokens=3), seeds[:100], step=2, end_id=0)
    assert (tok != 0).all()


def test_static_caches_are_reused_without_leaking_between_calls():
    m = end_prone_model(seed=3)
    feats, mask = batch_inputs(seed=4)
    cfg = SamplingConfig(temperature=0.9, max_tokens=30)
    s = Sampler(m, static=True)
    first = s.sample(feats, mask, seeds=[1, 2, 3, 4, 5], cfg=cfg)
    other = s.sample(feats.flip(0), mask.flip(0), seeds=[9, 8, 7, 6, 5], cfg=cfg)  # same shape: same cache
    assert len(s._static_states) == 1
    again = s.sample(feats, mask, seeds=[1, 2, 3, 4, 5], cfg=cfg)
    assert [a.tolist() for a in again] == [f.tolist() for f in first]
    fresh = Sampler(m).sample(feats.flip(0), mask.flip(0), seeds=[9, 8, 7, 6, 5], cfg=cfg)
    assert [a.tolist() for a in other] == [f.tolist() for f in fresh]


@pytest.mark.parametrize("guidance", [1.0, 2.0], ids=["plain", "guided"])
def test_ended_rows_leave_the_eager_batch_and_the_others_go_on_as_alone(guidance):
    """Eager decoding steps only the rows still going (their null rows with them): fewer rows per
    step as rows end, the step count of the longest row, and each row's tokens those the
    release's loop gives it alone (tokens after the longest row's end would show a wrong row)."""
    m = end_prone_model(seed=3)
    feats, mask = batch_inputs(seed=4)
    null = torch.randn(4, 12)
    cfg = SamplingConfig(temperature=0.9, top_k=30, max_tokens=40, min_tokens=1, guidance=guidance)
    seeds = [11, 22, 33, 44, 55]
    widths = []
    step = m.decode_step

    def counting(tokens, *a, **k):
        widths.append(tokens.shape[0])
        return step(tokens, *a, **k)

    m.decode_step = counting
    got = Sampler(m).sample(feats, mask, seeds=seeds, cfg=cfg, null_feats=null if guidance != 1.0 else None)
    del m.decode_step
    for b, n in enumerate(LENGTHS):
        ref = (reference_sample(m, feats[b:b + 1, :n], cfg=cfg, seed=seeds[b]) if guidance == 1.0
               else _guided_reference(m, feats[b:b + 1, :n], null, cfg, seeds[b]))
        assert got[b].tolist() == ref.tolist(), b
    per_row = 2 if guidance != 1.0 else 1
    lengths = sorted(len(g) for g in got)
    assert len(set(lengths)) >= 3, f"test model should end rows at different steps, got {lengths}"
    # a row of N tokens ends at step N and is not stepped after it (a quarter of 5 rows: 1 at a time)
    assert len(widths) == min(lengths[-1], cfg.max_tokens - 1)
    assert widths == [per_row * sum(1 for n in lengths if n > s) for s in range(len(widths))]

@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_sampling_runs_and_mostly_agrees(dtype):
    m = end_prone_model()
    feats, mask = batch_inputs()
    cfg = SamplingConfig(greedy=True, max_tokens=12, min_tokens=12)
    ref = Sampler(m).sample(feats, mask, cfg=cfg)
    half = PrefixLM(m.config)
    half.load_state_dict(m.state_dict())
    got = Sampler(half.to(dtype).eval()).sample(feats.to(dtype), mask, cfg=cfg)
    assert all(len(g) == 12 and int(g.max()) < m.config.end_id for g in got)
    first = [g[0] == r[0] for g, r in zip(got, ref)]  # the first token rarely flips with rounding
    assert sum(first) >= len(first) - 1


@torch.no_grad()
def _guided_reference(m, feats, null, cfg, seed, prefix=None):
    """Classifier-free guidance written out: full recompute of the prompt's and the empty
    prompt's logits every step, combined as null + g * (prompt - null) (both after ``prefix``)."""
    out = torch.zeros(1, 0, dtype=torch.int64) if prefix is None else prefix.reshape(1, -1).clone()
    given = out.shape[1]
    seeds = torch.tensor([seed])
    for step in range(cfg.max_tokens):
        c = m.next_logits_full(feats, torch.ones(feats.shape[:2], dtype=torch.bool), out)
        u = m.next_logits_full(null[None], torch.ones(1, len(null), dtype=torch.bool), out)
        tok = choose_tokens(u + cfg.guidance * (c - u), cfg, seeds, step, m.config.end_id)
        if int(tok) == m.config.end_id:
            break
        out = torch.cat([out, tok[:, None]], 1)
    return out[0, given:]


@pytest.mark.parametrize("static", [False, True], ids=["growing-cache", "static-cache"])
@pytest.mark.parametrize("greedy", [True, False], ids=["greedy", "seeded"])
def test_guidance_equals_written_out_combination(static, greedy):
    m = end_prone_model(seed=5)
    feats, mask = batch_inputs(seed=6)
    null = torch.randn(4, 12)  # longer than some prompts, shorter than others
    cfg = SamplingConfig(greedy=greedy, temperature=0.8, top_k=20, max_tokens=30, guidance=2.5)
    seeds = [3, 1, 4, 1, 5]
    got = Sampler(m, static=static).sample(feats, mask, seeds=seeds, cfg=cfg, null_feats=null)
    for b, n in enumerate(LENGTHS):
        ref = _guided_reference(m, feats[b:b + 1, :n], null, cfg, seeds[b])
        assert got[b].tolist() == ref.tolist()
    plain = Sampler(m).sample(feats, mask, seeds=seeds, cfg=SamplingConfig(greedy=greedy, temperature=0.8,
                                                                          top_k=20, max_tokens=30))
    assert [g.tolist() for g in got] != [p.tolist() for p in plain]  # guidance changes the motion
    one = Sampler(m).sample(feats, mask, seeds=seeds, cfg=SamplingConfig(greedy=greedy, temperature=0.8, top_k=20,
                                                                        max_tokens=30, guidance=1.0),
                            null_feats=null)
    assert [g.tolist() for g in one] == [p.tolist() for p in plain]  # 1 = off
    with pytest.raises(ValueError, match="null_feats"):
        Sampler(m).sample(feats, mask, cfg=cfg)
    with pytest.raises(ValueError, match="guidance"):
        SamplingConfig(guidance=-1.0)


@pytest.mark.parametrize("static", [False, True], ids=["growing-cache", "static-cache"])
@pytest.mark.parametrize("greedy", [True, False], ids=["greedy", "seeded"])
def test_motion_prefix_equals_release_loop_on_text_plus_prefix(static, greedy):
    """Rows continuing given motion codes (different lengths, one none), batched and cached,
    give the tokens of the release's full-recompute loop run on [text + prefix ids]; with
    guidance, the null rows see the same prefix."""
    m = end_prone_model(seed=7)
    feats, mask = batch_inputs(seed=8)
    g = torch.Generator().manual_seed(9)
    prefix = [torch.randint(0, m.config.end_id, (n,), generator=g) for n in (4, 0, 9, 1, 6)]
    seeds = [2, 7, 1, 8, 2]
    for guidance in (1.0, 2.0):
        cfg = SamplingConfig(greedy=greedy, temperature=0.9, top_k=25, max_tokens=30, min_tokens=2,
                             guidance=guidance)
        null = torch.randn(3, 12)
        got = Sampler(m, static=static).sample(feats, mask, seeds=seeds, cfg=cfg, prefix=prefix,
                                               null_feats=null if guidance != 1.0 else None)
        for b, n in enumerate(LENGTHS):
            if guidance == 1.0:
                ref = reference_sample(m, feats[b:b + 1, :n], cfg=cfg, seed=seeds[b], prefix=prefix[b])
            else:
                ref = _guided_reference(m, feats[b:b + 1, :n], null, cfg, seeds[b], prefix=prefix[b])
            assert got[b].tolist() == ref.tolist(), (guidance, b)
    plain = Sampler(m).sample(feats, mask, seeds=seeds, cfg=replace(cfg, guidance=1.0))
    assert got[0].tolist() != plain[0].tolist()  # the prefix changes what follows
    with pytest.raises(ValueError, match="one prefix per prompt"):
        Sampler(m).sample(feats, mask, cfg=cfg, prefix=prefix[:2], null_feats=null)
