"""Batched, KV-cached token sampling for the prefix-LM.

``Sampler.sample`` runs many prompts at once: one prefill over the (right-padded) text, then one
cached step per motion token for every row. Each row gets the tokens it would get alone: pad
columns are masked, RoPE positions are per row, and random draws come from a counter-based hash
of (row seed, step), not from a shared generator, so a prompt's seed reproduces its motion
whatever else is in the batch (and on any device, up to float rounding of the logits).

Choices per step: greedy (arg-max, the release's default) or sampling at a temperature, with
optional top-k and top-p (nucleus) filtering; END is forbidden before ``min_tokens``; a row stops
at END or at ``max_tokens``. On CUDA the decoding step is captured in a CUDA graph over a static
cache, once per (batch, text width bucket, max_tokens) and reused by later calls (batch-1
decoding is otherwise launch-bound); elsewhere it runs eagerly, and rows that ended leave the
batch (a quarter of it at a time), so a short row costs no steps after its end.

``reference_sample`` is the release's algorithm (batch 1, whole sequence recomputed each step,
no cache), kept as the ground truth for tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch

from ..models.prefix_lm import PrefixLM
from ..request import Cancelled

__all__ = ["SamplingConfig", "Sampler", "reference_sample", "hashed_uniform", "choose_tokens"]

_M32 = 0xFFFFFFFF


@dataclass(frozen=True)
class SamplingConfig:
    """How tokens are chosen. ``greedy`` wins over temperature / top-k / top-p."""

    greedy: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    max_tokens: int = 150  # 10 s
    min_tokens: int = 1
    # Classifier-free guidance: logits = null + guidance * (prompt - null); 1 = off (the
    # release's sampling). Needs a model trained with dropped prompts (the demo model is).
    guidance: float = 1.0

    def __post_init__(self):
        if not self.greedy and not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 (use greedy for arg-max), got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not self.guidance >= 0:
            raise ValueError(f"guidance must be >= 0 (1 = off), got {self.guidance}")
        if self.max_tokens < 1 or not 0 <= self.min_tokens <= self.max_tokens:
            raise ValueError(f"need 0 <= min_tokens <= max_tokens and max_tokens >= 1, got "
                             f"{self.min_tokens}, {self.max_tokens}")


# ---------------------------------------------------------------------- counter-based randomness
def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xor-shift / multiply rounds) on int64 tensors holding values < 2^32.
    Multipliers are < 2^31 so products stay below 2^63 (no signed overflow)."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x1B873593) & _M32
    return x ^ (x >> 16)


def hashed_uniform(seeds: torch.Tensor, step) -> torch.Tensor:
    """Uniform draws in (0, 1), a pure function of (seed, step).

    Args:
        seeds: (B,) int64 row seeds (any int64).
        step: int or (B,)/scalar int64 tensor, the token index.
    Returns:
        (B,) float64, multiples of 2^-24 offset by half a step (never 0 or 1).
    """
    lo, hi = seeds & _M32, (seeds >> 32) & _M32
    step = torch.as_tensor(step, dtype=torch.int64, device=seeds.device) & _M32
    h = _mix32(lo ^ _mix32(hi ^ 0x2545F491))
    h = _mix32(h ^ _mix32((step + 0x9E3779B9) & _M32))
    h = _mix32(h + 0x68E31DA4 & _M32)
    return ((h >> 8).double() + 0.5) / float(1 << 24)


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Set logits outside the top-k and outside the top-p nucleus to -inf.

    Args:
        logits: (B, V) float.
    Returns:
        (B, V) filtered logits; the most likely token always survives.
    """
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        srt, order = logits.sort(-1, descending=True)
        probs = srt.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass strictly before each sorted token
        drop_sorted = before >= top_p  # keeps the smallest prefix reaching top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def choose_tokens(logits: torch.Tensor, cfg: SamplingConfig, seeds: torch.Tensor, step: int,
                  end_id: int, min_tokens: torch.Tensor | None = None) -> torch.Tensor:
    """Pick one token per row.

    A row that may not end yet gets the token it would get if it could, unless that is END; only
    then is it drawn again, with the same uniform, from the other tokens. So a longer minimum
    length keeps a row's tokens up to where it ended before, and continues from there.

    Args:
        logits: (B, V) next-token logits (V = nb_code + 1: codes and END).
        seeds: (B,) int64 row seeds; step: the token index (same for all rows).
        min_tokens: (B,) int64 per-row shortest lengths, in place of ``cfg.min_tokens``.
    Returns:
        (B,) int64 token ids.
    """
    logits = logits.float()
    if min_tokens is not None:
        no_end = step < min_tokens.to(logits.device)
    elif step < cfg.min_tokens:
        no_end = torch.ones(logits.shape[:1], dtype=torch.bool, device=logits.device)
    else:
        no_end = None  # every row may end: nothing to mask, nothing to redraw
    if cfg.greedy:
        if no_end is None:
            return logits.argmax(-1)
        return logits.masked_fill(_end_column(logits, end_id) & no_end[:, None], float("-inf")).argmax(-1)
    probs = filter_logits(logits / cfg.temperature, cfg.top_k, cfg.top_p).softmax(-1).double()
    u = hashed_uniform(seeds, step).to(probs.device)
    idx = _draw(probs, u)
    if no_end is None:
        return idx
    redo = no_end & (idx == end_id)
    if bool(redo.any()):
        others = probs.masked_fill(_end_column(probs, end_id), 0.0)
        # the filters may have left END alone: then the likeliest other token
        best = logits.masked_fill(_end_column(logits, end_id), float("-inf")).argmax(-1)
        again = torch.where(others.sum(-1) > 0, _draw(others, u), best)
        idx = torch.where(redo, again, idx)
    return idx


def _end_column(x: torch.Tensor, end_id: int) -> torch.Tensor:
    """(1, V) bool, True at END."""
    return (torch.arange(x.shape[-1], device=x.device) == end_id)[None]


def _draw(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draw per row: (B, V) probabilities (any positive total), (B,) uniforms."""
    cdf = probs.cumsum(-1)
    idx = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True)[:, 0]
    return idx.clamp_max(probs.shape[-1] - 1)


# ---------------------------------------------------------------------- the release's loop
@torch.no_grad()
def reference_sample(model: PrefixLM, text_feats: torch.Tensor, text_mask: torch.Tensor | None = None,
                     cfg: SamplingConfig = SamplingConfig(greedy=True, max_tokens=50), seed: int = 0,
                     prefix: torch.Tensor | None = None) -> torch.Tensor:
    """One prompt, the whole sequence recomputed every step (no KV cache), as released.

    Args:
        text_feats: (1, L, D) features of one prompt (only its real tokens, or with ``text_mask``).
        prefix: (P,) motion codes already there (a motion being continued): the loop starts
            from [text + prefix]; steps (the seed's draws, the length limits) count new tokens.
    Returns:
        (N,) int64 new motion codes, END excluded.
    """
    if text_mask is None:
        text_mask = torch.ones(text_feats.shape[:2], dtype=torch.bool, device=text_feats.device)
    end = model.config.end_id
    seeds = torch.tensor([seed], dtype=torch.int64, device=text_feats.device)
    out = torch.zeros(1, 0, dtype=torch.int64, device=text_feats.device)
    if prefix is not None:
        out = torch.as_tensor(prefix, dtype=torch.int64, device=text_feats.device).reshape(1, -1)
    given = out.shape[1]
    for step in range(cfg.max_tokens):
        logits = model.next_logits_full(text_feats, text_mask, out)
        tok = choose_tokens(logits, cfg, seeds, step, end)
        if int(tok) == end:
            break
        out = torch.cat([out, tok[:, None]], 1)
    return out[0, given:]


# ---------------------------------------------------------------------- the fast path
class _GraphedStep:
    """The decoding step captured in a CUDA graph over static inputs and a static cache."""

    def __init__(self, model: PrefixLM, cache, key_mask: torch.Tensor):
        B = key_mask.shape[0]
        dev = key_mask.device
        self.tokens = torch.zeros(B, dtype=torch.int64, device=dev)
        self.positions = torch.zeros(B, dtype=torch.int64, device=dev)
        self.col = torch.zeros(1, dtype=torch.int64, device=dev)
        self.key_mask = key_mask
        self.col.fill_(key_mask.shape[1] - 1)  # warm-up writes go to the last column (rewritten later)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                model.decode_step(self.tokens, self.positions, self.col, key_mask, cache)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.logits = model.decode_step(self.tokens, self.positions, self.col, key_mask, cache)

    def __call__(self, tokens, positions, col: int):
        self.tokens.copy_(tokens)
        self.positions.copy_(positions)
        self.col.fill_(col)
        self.graph.replay()
        return self.logits


class Sampler:
    """Batched cached sampling with a prefix-LM.

    Args:
        model: the prefix-LM (its device and dtype are used as they are).
        cuda_graphs: capture the decoding step on CUDA (None = whenever the model is on CUDA).
        static: static-shape decoding: the text width is rounded up to a multiple of
            ``TEXT_BUCKET`` (extra pad columns are masked), every step attends the whole static
            cache under a key mask, and caches (and CUDA graphs) are kept per (batch, text
            width, max_tokens) for the next call. None = whenever CUDA graphs are used; the CPU
            can run it too (that is how the graph's computation is tested without a GPU).
    """

    SMALL_CPU_MODEL = 60_000_000  # parameters: below this, one CPU thread decodes faster
    #: eager decoding drops ended rows once 1 / this of the rows it computes have ended
    COMPACT_FRACTION = 4
    TEXT_BUCKET = 16
    KEEP_STATIC = 2  # static caches kept (least recently used dropped)

    def __init__(self, model: PrefixLM, cuda_graphs: bool | None = None, static: bool | None = None):
        self.model = model.eval()
        dev = model.lm_head.weight.device
        self.cuda_graphs = (dev.type == "cuda") if cuda_graphs is None else (cuda_graphs and dev.type == "cuda")
        self.static = self.cuda_graphs if static is None else (static or self.cuda_graphs)
        small = sum(p.numel() for p in model.parameters()) < self.SMALL_CPU_MODEL
        self._one_thread = dev.type == "cpu" and small
        self._static_states: OrderedDict = OrderedDict()

    @contextlib.contextmanager
    def _threads(self):
        """Small models on the CPU: one thread (per-step work is too small to share; thread
        hand-offs cost more than they save, badly so on a busy machine). Restored afterwards."""
        before = torch.get_num_threads()
        if self._one_thread and before > 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)

    def sample(self, text_feats: torch.Tensor, text_mask: torch.Tensor, seeds=None,
               cfg: SamplingConfig = SamplingConfig(),
               progress: Callable[[int, int], None] | None = None,
               cancel: Callable[[], bool] | None = None,
               null_feats: torch.Tensor | None = None, min_tokens=None, prefix=None) -> list[torch.Tensor]:
        """Sample motion codes for a batch of prompts.

        Args:
            text_feats: (B, L, D) text features, right-padded; text_mask: (B, L) bool.
            seeds: B ints (or a (B,) tensor); None = 0 for every row.
            cfg: token choice and length limits.
            progress: called as ``progress(step, total)`` after each token step.
            cancel: polled before each step; returning True raises ``Cancelled``.
            null_feats: (L0, D) features of the empty prompt; needed when ``cfg.guidance`` != 1
                (each prompt then runs beside a null row that sees the same tokens).
            min_tokens: B ints, each row's shortest length in place of ``cfg.min_tokens``
                (each at most ``cfg.max_tokens``); a row's tokens are those it gets alone with
                that ``min_tokens``.
            prefix: B int64 tensors (P_b,) (empty for none): motion codes each row continues
                from, run into the cache after its text; seeds, steps and length limits count
                the new tokens only (the reference: ``reference_sample(..., prefix=)``).
        Returns:
            B int64 tensors (N_b,) of new codes (END excluded), on the CPU.
        """
        with self._threads():
            return self._sample(text_feats, text_mask, seeds, cfg, progress, cancel, null_feats, min_tokens, prefix)

    @torch.no_grad()
    def _sample(self, text_feats: torch.Tensor, text_mask: torch.Tensor, seeds=None,
                cfg: SamplingConfig = SamplingConfig(),
                progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None,
                null_feats: torch.Tensor | None = None, min_tokens=None, prefix=None) -> list[torch.Tensor]:
        """The body of ``sample``."""
        model, c = self.model, self.model.config
        dev = model.lm_head.weight.device
        text_feats = text_feats.to(dev)
        text_mask = text_mask.to(dev).bool()
        B, L = text_mask.shape
        if not bool(text_mask.any(1).all()):
            raise ValueError("every prompt needs at least one text token")
        seeds = torch.zeros(B, dtype=torch.int64) if seeds is None else torch.as_tensor(seeds, dtype=torch.int64)
        if seeds.shape != (B,):
            raise ValueError(f"need one seed per prompt ({B}), got shape {tuple(seeds.shape)}")
        seeds = seeds.to(dev)
        if min_tokens is not None:
            min_tokens = torch.as_tensor(min_tokens, dtype=torch.int64).to(dev)
            if min_tokens.shape != (B,) or bool((min_tokens < 0).any() | (min_tokens > cfg.max_tokens).any()):
                raise ValueError(f"need one min_tokens per prompt ({B}), each in 0..{cfg.max_tokens}, "
                                 f"got {min_tokens.tolist()}")
        guided = cfg.guidance != 1.0
        if guided:
            if null_feats is None:
                raise ValueError("guidance != 1 needs the empty prompt's features (null_feats)")
            text_feats, text_mask = _with_null_rows(text_feats, text_mask, null_feats.to(dev, text_feats.dtype))
            L = text_mask.shape[1]
        lengths = text_mask.sum(1)
        given = torch.zeros(B, dtype=torch.int64)  # each row's prefix length
        if prefix is not None:
            if len(prefix) != B:
                raise ValueError(f"need one prefix per prompt ({B}), got {len(prefix)}")
            prefix = [torch.as_tensor(p, dtype=torch.int64).reshape(-1) for p in prefix]
            given = torch.tensor([len(p) for p in prefix], dtype=torch.int64)
        P = int(given.max())
        ptok = torch.zeros(B, P, dtype=torch.int64)
        for b in range(B if P else 0):
            ptok[b, :int(given[b])] = prefix[b]
        ptok, given = ptok.to(dev), given.to(dev)
        if guided:  # the null rows see the same motion tokens
            ptok, given = torch.cat([ptok, ptok]), torch.cat([given, given])
        if int((lengths + given).max()) + cfg.max_tokens > c.block_size:
            warnings.warn(f"text ({int(lengths.max())} tokens) + motion ({P} given + {cfg.max_tokens}) exceeds the "
                          f"model's block size {c.block_size}: positions beyond it were never trained", stacklevel=2)
        if cancel is not None and cancel():
            raise Cancelled("generation cancelled")
        if self.static:
            text_feats, text_mask = _pad_text(text_feats, text_mask, self.TEXT_BUCKET)
            L = text_mask.shape[1]
            cache, key_mask, step_fn = self._static_state(len(text_mask), L, P + cfg.max_tokens)
            key_mask.zero_()
        else:
            cache = model.new_cache(len(text_mask), L + P + cfg.max_tokens)
            key_mask = torch.zeros(len(text_mask), L + P + cfg.max_tokens, dtype=torch.bool, device=dev)
            step_fn = self._eager_step(cache, key_mask, static=False)
        key_mask[:, :L] = text_mask
        # text and prefix in one pass; a shorter row's extra prefix columns stay masked for
        # the steps after (nothing real attends them before: they come last, causally)
        key_mask[:, L:L + P] = torch.arange(P, device=dev)[None] < given[:, None]
        logits = model.prefill(text_feats, text_mask, cache, ptok if P else None, given)
        lengths = lengths + given

        end = c.end_id
        out = torch.full((B, cfg.max_tokens), end, dtype=torch.int64, device=dev)
        done = torch.zeros(B, dtype=torch.bool, device=dev)
        n = torch.full((B,), cfg.max_tokens, dtype=torch.int64, device=dev)
        rows = torch.arange(B, device=dev)  # the prompts still computed (their null rows follow when guided)
        for step in range(cfg.max_tokens):
            b = len(rows)
            if guided:  # rows b.. are the null prompt's: move the prompt's logits away from them
                cond, null = logits[:b].float(), logits[b:].float()
                logits = null + cfg.guidance * (cond - null)
            was = done[rows]
            tok = choose_tokens(logits, cfg, seeds[rows], step, end, None if min_tokens is None else min_tokens[rows])
            tok = torch.where(was, end, tok)
            newly = (tok == end) & ~was
            n[rows] = torch.where(newly, step, n[rows])
            done[rows] = was | newly
            out[rows, step] = tok
            if progress is not None:
                progress(step + 1, cfg.max_tokens)
            if step + 1 == cfg.max_tokens or bool(done.all()):
                break
            if cancel is not None and cancel():
                raise Cancelled("generation cancelled")
            col = L + P + step
            key_mask[:, col] = True
            if not self.static and int((was | newly).sum()) >= max(1, b // self.COMPACT_FRACTION):
                # drop the ended rows from the cache: every row's maths is its own, the rest go on
                # as they would (rows ended after a long one would otherwise run to its end)
                keep = (~(was | newly)).nonzero()[:, 0]
                rows, tok = rows[keep], tok[keep]
                both = torch.cat([keep, keep + b]) if guided else keep
                cache.k = [k.index_select(0, both) for k in cache.k]
                cache.v = [v.index_select(0, both) for v in cache.v]
                key_mask, lengths = key_mask.index_select(0, both), lengths.index_select(0, both)
                step_fn = self._eager_step(cache, key_mask, static=False)
            logits = step_fn(torch.cat([tok, tok]) if guided else tok, lengths + step, col)
        if progress is not None and step + 1 < cfg.max_tokens:
            progress(cfg.max_tokens, cfg.max_tokens)
        out, n = out.cpu(), n.cpu()
        return [out[b, :int(n[b])].clone() for b in range(B)]

    def _static_state(self, B: int, L: int, max_tokens: int):
        """(cache, key_mask, step function) for this shape, reused from an earlier call when
        possible; a new one captures its CUDA graph (falling back to eager on failure)."""
        key = (B, L, max_tokens)
        if key in self._static_states:
            self._static_states.move_to_end(key)
            return self._static_states[key]
        while len(self._static_states) >= self.KEEP_STATIC:
            self._static_states.popitem(last=False)
        dev = self.model.lm_head.weight.device
        cache = self.model.new_cache(B, L + max_tokens)
        key_mask = torch.zeros(B, L + max_tokens, dtype=torch.bool, device=dev)
        step_fn = self._eager_step(cache, key_mask, static=True)
        if self.cuda_graphs and max_tokens > 1:
            try:
                step_fn = _GraphedStep(self.model, cache, key_mask)
            except Exception as e:  # a driver / capture problem must not stop generation
                warnings.warn(f"CUDA graph capture failed ({e}); decoding eagerly", stacklevel=3)
        self._static_states[key] = (cache, key_mask, step_fn)
        return self._static_states[key]

    def _eager_step(self, cache, key_mask, static: bool):
        model = self.model
        cols = torch.zeros(1, dtype=torch.int64, device=key_mask.device)

        def step(tokens, positions, col: int):
            cols.fill_(col)
            return model.decode_step(tokens, positions, cols, key_mask, cache, upto=None if static else col + 1)

        return step


def _with_null_rows(feats: torch.Tensor, mask: torch.Tensor, null: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L, D) prompts + (L0, D) null prompt -> (2B, max(L, L0), D) features and mask: the B
    prompts, then B copies of the null prompt (right-padded, masked)."""
    B, L, D = feats.shape
    L0 = null.shape[0]
    W = max(L, L0)
    out = feats.new_zeros(2 * B, W, D)
    m = mask.new_zeros(2 * B, W)
    out[:B, :L], m[:B, :L] = feats, mask
    out[B:, :L0], m[B:, :L0] = null, True
    return out, m


def _pad_text(feats: torch.Tensor, mask: torch.Tensor, bucket: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad (B, L, D) features and (B, L) mask to a multiple of ``bucket`` columns (masked)."""
    B, L = mask.shape
    extra = -L % bucket
    if not extra:
        return feats, mask
    feats = torch.cat([feats, feats.new_zeros(B, extra, feats.shape[2])], 1)
    mask = torch.cat([mask, mask.new_zeros(B, extra)], 1)
    return feats, mask
