"""Prompts -> motions: text encoder, prefix-LM sampler and VQ-VAE decoder in one object.

    gen = Generator.from_spec("demo")                       # or "motionmillion-3b", a .toml path
    motions = gen.generate(GenerateRequest(["a person waves"], seconds=6, seeds=[7]))
    motions[0]                                              # motionprompt.body.motion.Motion, 30 fps

Prompts are encoded and sampled in batches (every row exactly as if alone); each row's codes are
decoded to normalised 272-dim frames, de-normalised with the model's mean / std, and turned into
a ``Motion`` carrying the prompt, its seed and the model name.

With ``compose`` (the model's TOML ``compose``, else off), each action of a prompt
(``segments.split_actions``) is sampled as its own row and the rows' codes are decoded as one
sequence, so the decoder makes the joins; when the segments together miss the length limits,
``segments.fit_lengths`` cuts the longest or lengthens all. A model whose TOML names a
``subject`` reads each prompt or action with that subject (``segments.with_subject``).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from ..body import rep272
from ..body.motion import Motion
from ..models.checkpoints import load_prefix_lm, load_vqvae
from ..models.model_spec import ModelSpec, ModelSpecError, resolve_spec
from ..models.prefix_lm import PrefixLM
from ..models.text_encoders import build_text_encoder
from ..models.vqvae import HumanVQVAE
from ..text.segments import fit_lengths, split_actions, with_subject
from ..request import GenerateRequest, default_batch_size
from .devices import gpu_peak_mb, reset_gpu_peak
from .sampler import Sampler, SamplingConfig

__all__ = ["Generator", "OffloadedTextEncoder", "torch_device", "torch_dtype"]


def torch_device(device: str = "auto") -> torch.device:
    """A request's device name as a torch device ("auto": CUDA when available, else the CPU)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def torch_dtype(dtype: str = "auto") -> torch.dtype | None:
    """A request's dtype name as a torch dtype (None for "auto": the model's default)."""
    return None if dtype in (None, "auto") else getattr(torch, dtype)


class OffloadedTextEncoder:
    """A text encoder kept in CPU memory that moves to its device only to encode, and back
    after (``--offload-text-encoder``: flan-t5-xl's encoder is 1.22 B parameters, 2.3 GiB in
    bfloat16, that the prefix-LM's KV cache can use between encodings). Features come back on
    the device; everything else is the wrapped encoder's."""

    def __init__(self, inner):
        self.inner = inner
        self.target = torch.device("cpu")

    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def device(self) -> torch.device:
        return self.target

    def to(self, device=None, dtype=None) -> "OffloadedTextEncoder":
        if device is not None:
            self.target = torch.device(device)
        self.inner.to("cpu", dtype)
        return self

    def encode(self, prompts):
        self.inner.to(self.target)
        try:
            feats, mask = self.inner.encode(prompts)
        finally:
            self.inner.to("cpu")
            if self.target.type == "cuda":
                torch.cuda.empty_cache()  # the freed weights' blocks go back for the KV cache
        return feats, mask


def segment_seed(seed: int, index: int) -> int:
    """The seed of a prompt's ``index``-th action segment: the prompt's own for the first, a
    fixed 31-bit mix of (seed, index) for the others, so one seed reproduces every segment."""
    if index == 0:
        return int(seed)
    x = (int(seed) * 0x9E3779B1 + index * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    return (x ^ (x >> 12)) & 0x7FFFFFFF


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), where a small
    prefix-LM, bound by reading its weights at every token, decodes ~1.5x faster in bfloat16."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def _default_dtype(device: torch.device, spec: ModelSpec | None = None) -> torch.dtype:
    """bfloat16 on CUDA; on the CPU float32, or bfloat16 where the model's TOML says
    ``cpu_dtype = "bfloat16"`` and the CPU has it natively."""
    if device.type == "cuda":
        return torch.bfloat16
    if spec is not None and spec.extra.get("cpu_dtype") == "bfloat16" and native_bf16_cpu():
        return torch.bfloat16
    return torch.float32


class Generator:
    """A loaded model; ``generate`` turns prompts into ``Motion`` objects."""

    def __init__(self, spec: ModelSpec, text_encoder, lm: PrefixLM, vqvae: HumanVQVAE,
                 mean: np.ndarray, std: np.ndarray, device="cpu", dtype: torch.dtype | None = None,
                 offload_text_encoder: bool = False):
        self.spec = spec
        self.device = torch.device(device)
        self.dtype = dtype or _default_dtype(self.device, spec)
        # T5 overflows in float16: text encoders run in bfloat16 on CUDA, float32 elsewhere
        te_dtype = torch.bfloat16 if self.device.type == "cuda" else None
        if offload_text_encoder and self.device.type != "cpu":
            text_encoder = OffloadedTextEncoder(text_encoder)
        self.text_encoder = text_encoder.to(self.device, te_dtype)
        self.lm = lm.to(device=self.device, dtype=self.dtype).eval()
        self.vqvae = vqvae.to(self.device).eval()  # small: kept in float32
        self.sampler = Sampler(self.lm)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.timings: dict[str, float] = {}
        self._null: torch.Tensor | None = None  # the empty prompt's features, made on first use

    @classmethod
    def from_spec(cls, spec_or_name, device="cpu", dtype: torch.dtype | None = None,
                  offload_text_encoder: bool = False) -> "Generator":
        """Load the model a ``ModelSpec`` (or a built-in name / TOML path) describes.
        ``offload_text_encoder``: keep the text encoder in CPU memory, on the GPU only while it
        encodes (``OffloadedTextEncoder``)."""
        spec = resolve_spec(spec_or_name)
        where = spec.source or spec.name
        for what, path in (("[lm] checkpoint", spec.lm_checkpoint), ("[vqvae] checkpoint", spec.vqvae_checkpoint)):
            if path is None:
                raise ModelSpecError(f"{where}: {what} is not set")
        te = spec.text_encoder
        encoder = build_text_encoder(te["kind"], te.get("path"), pooling=te.get("pooling", "none"),
                                     max_tokens=te.get("max_tokens", 150))
        if encoder.dim != spec.lm.clip_dim:
            raise ModelSpecError(f"{where}: the text encoder gives {encoder.dim}-wide features but the prefix-LM "
                                 f"expects clip_dim {spec.lm.clip_dim}")
        lm = load_prefix_lm(spec.lm_checkpoint, spec.lm)
        vq = load_vqvae(spec.vqvae_checkpoint, spec.vqvae)
        mean, std = rep272.load_mean_std(spec.mean, spec.std)
        return cls(spec, encoder, lm, vq, mean, std, device=device, dtype=dtype,
                   offload_text_encoder=offload_text_encoder)

    # ------------------------------------------------------------------ helpers
    @property
    def default_guidance(self) -> float:
        """The model's classifier-free guidance scale (TOML ``guidance``; 1 = off)."""
        return float(self.spec.extra.get("guidance", 1.0))

    def model_text(self, text: str) -> str:
        """A prompt (or one action of it) as the prefix-LM reads it: with the model's TOML
        ``subject`` as the one who moves (``segments.with_subject``) when it names one."""
        subject = self.spec.extra.get("subject")
        return with_subject(text, subject) if subject else text

    @property
    def default_compose(self) -> bool:
        """Whether prompts are generated action by action (TOML ``compose``; default off)."""
        return bool(self.spec.extra.get("compose", False))

    def null_features(self) -> torch.Tensor:
        """(L0, D) features of the empty prompt (what guidance steers away from), cached."""
        if self._null is None:
            f, m = self.text_encoder.encode([""])
            self._null = f[0][m[0].bool()].to(self.device, self.dtype)
        return self._null

    def tokens_for(self, seconds: float) -> int:
        """Motion tokens covering ``seconds`` (rounded up; 1 token = 2 frames at 30 fps)."""
        frames = seconds * self.spec.fps
        return max(0, math.ceil(frames / self.vqvae.config.frames_per_token - 1e-9))

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> np.ndarray:
        """(N,) codes -> (2N, 272) de-normalised frames (float64)."""
        x = self.vqvae.decode(codes[None].to(self.device))[0].float().cpu().numpy().astype(np.float64)
        return rep272.denormalize(x, self.mean, self.std)

    # ------------------------------------------------------------------ the API
    @property
    def default_batch_size(self) -> int:
        """Texts per forward pass when a request names none (``request.default_batch_size``)."""
        return default_batch_size(self.device.type)

    @property
    def max_seconds(self) -> float:
        """The longest motion this model's positions hold (``ModelSpec.max_seconds``)."""
        return self.spec.max_seconds

    @torch.no_grad()
    def generate(self, request: GenerateRequest, progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> list[Motion]:
        """Generate one motion per prompt of ``request`` (validated here against this model's
        longest motion; ``device``, ``dtype``, ``post``, ``previews`` and ``out_dir`` are for the
        front ends: this generator runs on the device it was loaded on).

        Args:
            request: prompts, seeds (None = fresh random seeds, recorded in ``Motion.seed``),
                seconds / min_seconds, token choice, guidance (None = the model's TOML
                ``guidance``, else 1; each prompt then also runs against the empty prompt),
                compose (None = the model's TOML ``compose``: each action of a prompt generated
                on its own and played in order; a prompt of one action is generated exactly as
                without it), batch_size (None = ``default_batch_size`` of the device).
            progress: ``progress(step, total)`` over all batches' token steps.
            cancel: polled between steps; True raises ``request.Cancelled``.
        Returns:
            ``Motion`` objects in prompt order, at the model's fps (fps, prompt, seed set;
            ``source`` = model name; ``meta`` holds the token count, whether the model ended the
            motion itself and, when composed, ``segments``: each action's text and its
            ``start`` / ``end`` in seconds). Post-processing is the caller's (``postprocess``).
        """
        req = request.validate(max_seconds=self.max_seconds).with_seeds()
        prompts, seeds, seconds = list(req.prompts), [int(s) for s in req.seeds], req.seconds
        max_tokens = self.tokens_for(seconds)
        min_tokens = min(max(1, self.tokens_for(req.min_seconds)), max_tokens)
        guidance = self.default_guidance if req.guidance is None else float(req.guidance)
        cfg = SamplingConfig(greedy=req.greedy, temperature=req.temperature, top_k=req.top_k, top_p=req.top_p,
                             max_tokens=max_tokens, min_tokens=min_tokens, guidance=guidance)
        compose = self.default_compose if req.compose is None else req.compose
        # one row per action segment (a prompt's segments never outnumber its tokens)
        parts = [split_actions(p) if compose else [p] for p in prompts]
        for i, ps in enumerate(parts):
            if len(ps) > max_tokens:
                warnings.warn(f"prompt {i}: {len(ps)} actions do not fit in {max_tokens} tokens ({seconds} s); "
                              f"the last {len(ps) - max_tokens} are dropped", stacklevel=2)
                parts[i] = ps[:max_tokens]
        rows = [(i, k, text) for i, ps in enumerate(parts) for k, text in enumerate(ps)]
        row_seeds = [segment_seed(seeds[i], k) for i, k, _ in rows]
        single = [len(ps) == 1 for ps in parts]
        # a one-segment prompt keeps the caller's min_tokens; segments find their length first
        mins = [min_tokens if single[i] else 1 for i, _, _ in rows]

        self.timings = dict(text_s=0.0, sample_s=0.0, decode_s=0.0)
        reset_gpu_peak(self.device)
        bs = req.batch_size or self.default_batch_size
        texts = [self.model_text(t) for _, _, t in rows]
        codes = self._sample_rows(texts, row_seeds, cfg, mins, bs, progress, cancel)
        owned: list[list[int]] = [[] for _ in prompts]  # each prompt's rows, in order
        for r, (i, _, _) in enumerate(rows):
            owned[i].append(r)
        forced = self._fit_composed(codes, [mine for i, mine in enumerate(owned) if not single[i]],
                                    texts, row_seeds, cfg, bs, cancel)

        motions: list[Motion] = []
        t0 = time.perf_counter()
        fpt = self.vqvae.config.frames_per_token
        for i, (p, mine) in enumerate(zip(prompts, owned)):
            c = torch.cat([codes[r] for r in mine])
            m = Motion.from_272(self.decode(c), fps=self.spec.fps, prompt=p, seed=seeds[i], source=self.spec.name)
            m.meta.update(tokens=int(len(c)), ended=not any(r in forced for r in mine))
            if not single[i]:  # in seconds, which survive resampling
                ends = np.cumsum([len(codes[r]) * fpt / self.spec.fps for r in mine]).tolist()
                m.meta["segments"] = [dict(text=rows[r][2], start=round(a, 4), end=round(b, 4))
                                      for r, a, b in zip(mine, [0.0] + ends[:-1], ends)]
            motions.append(m)
        self.timings["decode_s"] += time.perf_counter() - t0
        peak = gpu_peak_mb(self.device)
        if peak is not None:  # this call's peak (all its prompts together), for the manifest
            for m in motions:
                m.meta["gpu_peak_mb"] = peak
        return motions

    def _fit_composed(self, codes: list[torch.Tensor], groups: list[list[int]], texts: list[str], seeds: list[int],
                      cfg: SamplingConfig, bs: int, cancel) -> set[int]:
        """Fit each composed prompt's segments (``groups`` of rows of ``codes``, changed in
        place) into [cfg.min_tokens, cfg.max_tokens] together: the longest are cut, or all grow
        (``segments.fit_lengths``). Growing rows are sampled again with END held off, which
        keeps their tokens up to the old end (draws depend on (seed, step) only).

        Returns:
            the rows whose length was not the model's choice (cut, or stopped by a limit).
        """
        forced = {r for r, c in enumerate(codes) if len(c) >= cfg.max_tokens}
        longer: dict[int, int] = {}
        for rows in groups:
            lens = [len(codes[r]) for r in rows]
            if cfg.min_tokens <= sum(lens) <= cfg.max_tokens:
                continue
            for r, n, want in zip(rows, lens, fit_lengths(lens, cfg.min_tokens, cfg.max_tokens)):
                if want < n:
                    codes[r] = codes[r][:want]
                    forced.add(r)
                elif want > n:
                    longer[r] = want
        if longer:
            rs = sorted(longer)
            again = self._sample_rows([texts[r] for r in rs], [seeds[r] for r in rs],
                                      replace(cfg, min_tokens=1, max_tokens=max(longer.values())),
                                      [longer[r] for r in rs], bs, None, cancel)
            for r, c in zip(rs, again):
                if len(c) > longer[r]:
                    forced.add(r)
                codes[r] = c[:longer[r]]
        return forced

    def _sample_rows(self, texts: list[str], seeds: list[int], cfg: SamplingConfig, mins: list[int], bs: int,
                     progress, cancel) -> list[torch.Tensor]:
        """Sample each text's codes in batches of ``bs`` (row ``r`` at least ``mins[r]`` tokens);
        text encoding and sampling times are added to ``self.timings``."""
        null = self.null_features() if cfg.guidance != 1.0 else None
        chunks = [range(i, min(i + bs, len(texts))) for i in range(0, len(texts), bs)]
        total = len(chunks) * cfg.max_tokens
        out: list[torch.Tensor] = []
        for ci, rows in enumerate(chunks):
            t0 = time.perf_counter()
            feats, mask = self.text_encoder.encode([texts[i] for i in rows])
            t1 = time.perf_counter()
            report = None if progress is None else (lambda s, _t, base=ci * cfg.max_tokens: progress(base + s, total))
            row_min = [mins[i] for i in rows]
            out += self.sampler.sample(feats.to(self.device, self.dtype), mask.to(self.device),
                                       seeds=[seeds[i] for i in rows], cfg=cfg, progress=report, cancel=cancel,
                                       null_feats=null,
                                       min_tokens=None if len(set(row_min)) == 1 and row_min[0] == cfg.min_tokens
                                       else row_min)
            self.timings["text_s"] += t1 - t0
            self.timings["sample_s"] += time.perf_counter() - t1
        return out
