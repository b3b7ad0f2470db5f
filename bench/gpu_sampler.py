"""GPU benchmark: the release's sampling loop vs our sampler, with the released 3B shapes.

Random weights with the 3B prefix-LM shapes (24 layers, width 3200, vocab 64002, T5-XL text
width 2048) and, optionally, a random T5-XL-shaped encoder. Figures:
  - batch 1, 150 tokens: the release's loop (fp32, no KV cache, every position's logits each
    step) vs ours (bf16, static KV cache, CUDA graph) and ours without the graph;
  - the 126 prompts of ../shared/reference/motionmillion_eval_prompts.txt in one batch;
  - fp32 ours vs the release loop on a short run: token-identical (greedy);
  - peak memory of a 3B run in bfloat16 with a T5-XL-shaped encoder, resident or offloaded
    (``--offload-text-encoder``), at batch 16 and 32: does it fit a 16 GB card (14.9 GiB)?
Targets (H100 / H200): batch 1 <= 0.45 s for 150 tokens; all 126 prompts <= 3 s.

    .venv/bin/python bench/gpu_sampler.py                    # prints and exits 0 without CUDA
    .venv/bin/python bench/gpu_sampler.py --device cpu --preset tiny --tokens 20   # dry run of the code

Prints figures, then one JSON line of them all (the last line); never fails.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

from motionprompt.models.configs import LMConfig
from motionprompt.models.prefix_lm import PrefixLM
from motionprompt.generation.generator import OffloadedTextEncoder
from motionprompt.generation.sampler import Sampler, SamplingConfig, reference_sample

PROMPTS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "motionmillion_eval_prompts.txt"


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev, repeat=1):
    out, times = None, []
    for _ in range(repeat):
        sync(dev)
        t0 = time.perf_counter()
        out = fn()
        sync(dev)
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def random_model(cfg: LMConfig, dev, dtype) -> PrefixLM:
    with torch.device("meta"):
        m = PrefixLM(cfg)
    m = m.to_empty(device=dev)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("scale"):
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02)
    return m.to(dtype).eval()


def text_lengths(n_default: int) -> list[int]:
    """T5 token counts of the eval prompts, estimated (1.4 pieces per word + </s>, cut at 150)."""
    if PROMPTS.is_file():
        lines = [x.strip() for x in PROMPTS.read_text(encoding="utf-8").splitlines() if x.strip()]
        return [min(150, math.ceil(1.4 * len(x.split())) + 1) for x in lines]
    print(f"({PROMPTS} not found: {n_default} prompts of 40 tokens)")
    return [40] * n_default


def features(lengths, width, dev, dtype, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    L = max(lengths)
    feats = torch.randn(len(lengths), L, width, generator=g) * 0.2
    mask = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    return feats.to(dev, dtype), mask.to(dev)


def t5_encoder(dev, small: bool):
    """A random T5 encoder, bfloat16, on ``dev``: flan-t5-xl's encoder shapes (1.22 B
    parameters), or a one-layer one of the same width when ``small``."""
    from transformers import T5Config, T5EncoderModel
    if small:
        cfg = T5Config(d_model=2048, d_kv=8, d_ff=64, num_layers=1, num_heads=2, feed_forward_proj="gated-gelu",
                       vocab_size=128)
    else:
        cfg = T5Config(d_model=2048, d_kv=64, d_ff=5120, num_layers=24, num_heads=32, feed_forward_proj="gated-gelu",
                       vocab_size=32128)
    with torch.device(dev):
        return T5EncoderModel(cfg).to(torch.bfloat16).eval()


class ShapedTextEncoder:
    """A random T5 encoder as a text encoder: ``encode(lengths)`` takes each prompt's token
    count and gives (B, L, 2048) features on the encoder's device and a (B, L) mask, so
    ``OffloadedTextEncoder`` can wrap it as it wraps the real one."""

    def __init__(self, enc):
        self.enc = enc

    @property
    def device(self):
        return self.enc.device

    def to(self, device=None, dtype=None):
        self.enc.to(device=device, dtype=dtype)
        return self

    @torch.no_grad()
    def encode(self, lengths):
        L, dev = max(lengths), self.enc.device
        g = torch.Generator(device="cpu").manual_seed(len(lengths))
        ids = torch.randint(3, self.enc.config.vocab_size, (len(lengths), L), generator=g).to(dev)
        mask = (torch.arange(L)[None] < torch.tensor(lengths)[:, None]).to(dev)
        return self.enc(input_ids=ids, attention_mask=mask.long()).last_hidden_state, mask


def memory_fit(model, lengths, dev, tokens: int, small: bool) -> dict:
    """Peak memory (GiB; None off CUDA) of a whole 3B run: the T5 encoder resident beside the
    prefix-LM or offloaded between encodings, two groups of B prompts (two text shapes, as a
    batch run keeps static caches for two), B = 16 and 32, ``tokens`` greedy tokens each."""
    cuda = dev.type == "cuda"
    cfg = SamplingConfig(greedy=True, max_tokens=tokens, min_tokens=tokens)
    enc = ShapedTextEncoder(t5_encoder(dev, small))
    out = {}
    for offload in (False, True):
        te = OffloadedTextEncoder(enc).to(dev, torch.bfloat16) if offload else enc.to(dev, torch.bfloat16)
        for B in (16, 32):
            sampler = Sampler(model)
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(dev)
            for group in (lengths[:B], lengths[B:2 * B] or lengths[:B]):
                feats, mask = te.encode(group)
                sampler.sample(feats.to(dev, model.lm_head.weight.dtype), mask, cfg=cfg)
            sync(dev)
            name = f"b{B}_{'offloaded' if offload else 'resident'}"
            out[f"peak_{name}_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2) if cuda else None
            out[f"reserved_{name}_gib"] = round(torch.cuda.max_memory_reserved(dev) / 2**30, 2) if cuda else None
            del sampler
    del enc, te
    if cuda:
        torch.cuda.empty_cache()
    return out


def t5_xl_encode_time(lengths, dev) -> str:
    enc = t5_encoder(dev, small=False)
    L = max(lengths)
    ids = torch.randint(3, 32000, (len(lengths), L), device=dev)
    att = (torch.arange(L, device=dev)[None] < torch.tensor(lengths, device=dev)[:, None]).long()
    with torch.no_grad():
        enc(input_ids=ids[:2], attention_mask=att[:2])
        _, t_all = timed(lambda: enc(input_ids=ids, attention_mask=att), dev)
        _, t_one = timed(lambda: enc(input_ids=ids[:1, :lengths[0]], attention_mask=att[:1, :lengths[0]]), dev, 3)
    del enc
    return f"T5-XL-shaped encoder (bf16, random): 1 prompt {t_one * 1e3:.1f} ms, all {len(lengths)} {t_all * 1e3:.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--preset", default="3B")
    ap.add_argument("--tokens", type=int, default=150)
    ap.add_argument("--no-release", action="store_true", help="skip the slow release loop")
    ap.add_argument("--no-t5", action="store_true", help="skip the T5-XL-shaped encoder timing and memory fit")
    ap.add_argument("--prompts", type=int, default=None, help="use the first N prompts (default all 126)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("gpu_sampler: no CUDA device here; nothing measured (run on a GPU machine for figures)")
        print(json.dumps({"device": None, "error": "no CUDA device"}))
        return 0
    summary: dict = {"preset": args.preset, "tokens": args.tokens, "torch": torch.__version__}
    small = args.preset not in ("3B", "7B")
    cfg = LMConfig.from_preset(args.preset, clip_dim=2048)
    low = torch.bfloat16 if dev.type == "cuda" else torch.float32
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    print(f"device: {name}; prefix-LM preset {args.preset} (n_layer {cfg.n_layer}, n_embd {cfg.n_embd}, vocab "
          f"{cfg.vocab_size}, clip_dim {cfg.clip_dim}), {args.tokens} tokens, torch {torch.__version__}")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # the release's fp32 is plain fp32

    lengths = text_lengths(126)[:args.prompts]
    full = SamplingConfig(greedy=True, max_tokens=args.tokens, min_tokens=args.tokens)
    model = random_model(cfg, dev, low)
    n_params = sum(p.numel() for p in model.parameters())
    elt = model.lm_head.weight.element_size()
    kv_row = 2 * cfg.n_layer * cfg.block_size * cfg.n_embd * elt  # k and v, every layer and position
    print(f"parameters: {n_params / 1e9:.2f} B; weights in {str(low).replace('torch.', '')}: "
          f"{n_params * elt / 1e9:.2f} GB; KV cache {kv_row / 2**20:.1f} MiB per prompt")
    summary.update(device=name, params_b=round(n_params / 1e9, 3), weights_gib=round(n_params * elt / 2**30, 3),
                   kv_cache_mib_per_prompt=round(kv_row / 2**20, 1))
    f1, m1 = features(lengths[:1], cfg.clip_dim, dev, low)

    # ---- ours, batch 1
    graphs = Sampler(model, static=True)  # CUDA graphs on CUDA
    eager = Sampler(model, cuda_graphs=False)
    for s in (graphs, eager):
        s.sample(f1, m1, cfg=SamplingConfig(greedy=True, max_tokens=8, min_tokens=8))
    _, t_graph = timed(lambda: graphs.sample(f1, m1, cfg=full), dev, repeat=3)
    _, t_eager = timed(lambda: eager.sample(f1, m1, cfg=full), dev, repeat=2)
    fast = "with CUDA graph" if graphs.cuda_graphs else "static path (no CUDA)"
    summary.update(batch1_graph_s=round(t_graph, 4), batch1_eager_s=round(t_eager, 4))
    print(f"ours batch 1, {args.tokens} tokens: {t_graph:.3f} s {fast} ({t_graph / args.tokens * 1e3:.2f} ms/token), "
          f"{t_eager:.3f} s eager   [target <= 0.45 s]")

    # ---- ours, all prompts in one batch
    fa, ma = features(lengths, cfg.clip_dim, dev, low)
    try:
        graphs.sample(fa, ma, cfg=SamplingConfig(greedy=True, max_tokens=4, min_tokens=4))
        _, t_all = timed(lambda: graphs.sample(fa, ma, cfg=full), dev)
        sampled = SamplingConfig(temperature=1.0, top_p=0.95, top_k=200, max_tokens=args.tokens, min_tokens=args.tokens)
        _, t_all_s = timed(lambda: graphs.sample(fa, ma, seeds=list(range(len(lengths))), cfg=sampled), dev)
        summary.update(prompts=len(lengths), all_greedy_s=round(t_all, 4), all_sampled_s=round(t_all_s, 4))
        print(f"ours {len(lengths)} prompts in one batch: {t_all:.3f} s greedy, {t_all_s:.3f} s top-k/top-p sampling "
              f"[target <= 3 s]")
    except torch.cuda.OutOfMemoryError as e:
        print(f"ours {len(lengths)} prompts in one batch: out of memory ({e})")
    if dev.type == "cuda":
        summary["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(dev) / 1e9:.1f} GB")

    # ---- does a 3B run fit a 16 GB card: T5 resident or offloaded, batch 16 and 32
    graphs._static_states.clear()  # the 126-prompt caches: not part of these runs
    eager._static_states.clear()
    if not args.no_t5:
        try:
            fit = memory_fit(model, lengths, dev, args.tokens, small)
            summary.update(fit)
            for B in (16, 32):
                print(f"batch {B} with the T5 encoder, peak allocated / reserved GiB: resident "
                      f"{fit[f'peak_b{B}_resident_gib']} / {fit[f'reserved_b{B}_resident_gib']}, offloaded "
                      f"{fit[f'peak_b{B}_offloaded_gib']} / {fit[f'reserved_b{B}_offloaded_gib']}   "
                      f"[a 16 GB card: 14.9 GiB, ~0.5 of it CUDA's own]")
        except Exception as e:  # report, never fail
            print(f"memory fit failed: {type(e).__name__}: {e}")
            summary["memory_fit_error"] = f"{type(e).__name__}: {e}"

    # ---- the release's loop (fp32, no cache, batch 1), and token identity in fp32
    if not args.no_release:
        del graphs, eager
        model32 = model.float()
        f32, m32 = f1.float(), m1
        _, t_rel = timed(lambda: reference_sample(model32, f32, m32, cfg=full), dev)
        summary["release_batch1_s"] = round(t_rel, 3)
        print(f"release loop batch 1 (fp32, no KV cache), {args.tokens} tokens: {t_rel:.2f} s "
              f"-> ours x{t_rel / t_graph:.1f} faster; all {len(lengths)} prompts one by one ~ {t_rel * len(lengths):.0f} s")
        short = SamplingConfig(greedy=True, max_tokens=min(30, args.tokens), min_tokens=min(30, args.tokens))
        ref = reference_sample(model32, f32, m32, cfg=short)
        ours32 = Sampler(model32).sample(f32, m32, cfg=short)[0]
        summary["fp32_tokens_identical"] = ours32.tolist() == ref.cpu().tolist()
        print(f"fp32 ours vs release loop, {short.max_tokens} greedy tokens: identical = {summary['fp32_tokens_identical']}")
        del model32
    if not args.no_t5 and not small:
        try:
            line = t5_xl_encode_time(lengths, dev)
            summary["t5"] = line
            print(line)
        except Exception as e:  # report, never fail
            print(f"T5-XL-shaped encoder timing failed: {type(e).__name__}: {e}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a benchmark prints; it never fails CI
        print(f"gpu_sampler: error {type(e).__name__}: {e}")
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(0)
