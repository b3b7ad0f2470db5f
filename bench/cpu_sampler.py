"""CPU benchmark: the release's sampling loop vs our cached batched sampler, small model.

Random weights, preset "mini" (4 layers, width 128) with the released vocabulary (64000 codes +
END + PAD) and MiniLM-width text features (384). Both decode the same number of tokens (END is
forbidden so every run is full length) and both are greedy, so they must produce the same tokens.

    .venv/bin/python bench/cpu_sampler.py [--tokens 150] [--prompts 16] [--threads 1]

Prints figures; never fails.
"""

from __future__ import annotations

import argparse
import time

import torch

from motionprompt.models.configs import LMConfig
from motionprompt.models.prefix_lm import PrefixLM
from motionprompt.generation.sampler import Sampler, SamplingConfig, reference_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mini")
    ap.add_argument("--tokens", type=int, default=150)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = PrefixLM(LMConfig.from_preset(args.preset, clip_dim=384)).init_weights().eval()
    cfg = SamplingConfig(greedy=True, max_tokens=args.tokens, min_tokens=args.tokens)
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(8, 40, (args.prompts,), generator=g)
    L = int(lengths.max())
    feats = torch.randn(args.prompts, L, 384, generator=g)
    mask = torch.arange(L)[None] < lengths[:, None]
    sampler = Sampler(model)
    sampler.sample(feats[:1, :8], mask[:1, :8], cfg=SamplingConfig(greedy=True, max_tokens=4))  # warm-up

    t0 = time.perf_counter()
    ref = reference_sample(model, feats[:1, :int(lengths[0])], cfg=cfg)
    t_ref1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = sampler.sample(feats[:1, :int(lengths[0])], mask[:1, :int(lengths[0])], cfg=cfg)[0]
    t_ours1 = time.perf_counter() - t0
    same1 = ours.tolist() == ref.tolist()

    t0 = time.perf_counter()
    batch = sampler.sample(feats, mask, cfg=cfg)
    t_batch = time.perf_counter() - t0
    est_ref_all = t_ref1 * args.prompts  # the release runs prompts one after another

    n = sum(p.numel() for p in model.parameters())
    print(f"model: preset {args.preset} ({n / 1e6:.1f} M params, vocab {model.config.vocab_size}), "
          f"{args.tokens} tokens, {torch.get_num_threads()} CPU thread(s)")
    print(f"batch 1 : release loop {t_ref1:.3f} s | ours (KV cache) {t_ours1:.3f} s | "
          f"speed-up x{t_ref1 / t_ours1:.1f} | same tokens: {same1}")
    print(f"{args.prompts} prompts: release (sequential, est.) {est_ref_all:.2f} s | ours (one batch) {t_batch:.3f} s "
          f"| speed-up x{est_ref_all / t_batch:.1f} | {t_batch / args.prompts * 1e3:.1f} ms per prompt")
    print(f"rows full length: {all(len(b) == args.tokens for b in batch)}")


if __name__ == "__main__":
    main()
