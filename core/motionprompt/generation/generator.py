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

A model whose TOML names ``captions`` (an index of its training captions, ``text.vocabulary``)
may read each action as its nearest caption (``caption_rewrite``, on when the TOML says so; the
request's ``caption_rewrite`` overrides; ``caption_threshold`` / ``caption_keep`` set the
similarities). The rewrite sits here, after the actions are cut and given their subject and
before they are encoded, so each action is matched alone and the motion's segments keep the
words as written; each action's match goes into ``Motion.meta["caption_rewrite"]``.

What the motion will likely not show goes into ``Motion.meta["warnings"]`` (plain sentences, in
this order): a prompt not in the encoder's language (``text.language``), actions that cannot fit
the seconds given (under ``MIN_ACTION_SECONDS`` each, or cut to fit, or a motion stopped by the
limit before it ended), text cut at the encoder's token limit, actions whose nearest caption
is under the threshold, words of an action the model was never trained on
(``CaptionIndex.unknown_words``: "in a circle", "spins twice"), and an action whose text and
motion tokens together pass the prefix-LM's block (positions it was never trained on).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..body import rep272
from ..body.motion import Motion
from ..body.splice import align, pose_distance, splice
from ..postprocess.feet import plant_into_pose
from ..models.checkpoints import load_prefix_lm, load_vqvae
from ..models.model_spec import ModelSpec, ModelSpecError, resolve_spec
from ..models.prefix_lm import PrefixLM
from ..models.text_encoders import build_text_encoder
from ..models.vqvae import HumanVQVAE
from ..text.language import not_english
from ..text.segments import fit_lengths, split_actions, with_subject
from ..text.vocabulary import DEFAULT_KEEP, DEFAULT_THRESHOLD, CaptionIndex, CaptionMatch
from ..request import GenerateRequest, default_batch_size
from .devices import gpu_peak_mb, reset_gpu_peak
from .sampler import Sampler, SamplingConfig

__all__ = ["Generator", "OffloadedTextEncoder", "torch_device", "torch_dtype", "MIN_ACTION_SECONDS"]

#: The shortest time one action of a composed prompt needs to be done (a wave, a turn, a squat):
#: fewer seconds per action than this and the actions are cut to stubs (a warning says so).
MIN_ACTION_SECONDS = 1.5


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


def _join_speed(motion: Motion, join: int) -> float:
    """The fastest joint speed (metres per frame) of ``motion`` from frame ``join - 1`` on: how
    hard a continuation's join and what follows it are."""
    P = motion.joint_positions()[max(join - 1, 0):]
    return float(np.linalg.norm(np.diff(P, axis=0), axis=-1).max()) if len(P) > 1 else 0.0


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
        self.captions = self._caption_index(spec)

    @staticmethod
    def _caption_index(spec: ModelSpec) -> CaptionIndex | None:
        """The model's caption index (TOML ``captions``, relative to the TOML's folder), or None."""
        name = spec.extra.get("captions")
        if not name:
            return None
        path = Path(str(name)).expanduser()
        if not path.is_absolute() and spec.source is not None:
            path = Path(spec.source).parent / path
        where = spec.source or spec.name
        if not path.is_file():
            raise ModelSpecError(f"{where}: captions file {path} not found (remove 'captions' or rebuild it with "
                                 f"tools/train_demo.py --captions-only)")
        try:
            return CaptionIndex.load(path, threshold=float(spec.extra.get("caption_threshold", DEFAULT_THRESHOLD)),
                                     keep=float(spec.extra.get("caption_keep", DEFAULT_KEEP)))
        except ValueError as e:
            raise ModelSpecError(f"{where}: {e}") from None

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
    def default_caption_rewrite(self) -> bool:
        """Whether actions are read as their nearest training caption (TOML ``caption_rewrite``;
        only with a ``captions`` index)."""
        return self.captions is not None and bool(self.spec.extra.get("caption_rewrite", False))

    def caption_matches(self, texts: list[str], rewrite: bool) -> list[CaptionMatch] | None:
        """Each text's nearest training caption (``text.vocabulary``; ``rewrite`` False: matched,
        kept as written), or None for a model without captions."""
        if self.captions is None or not texts:
            return None
        return self.captions.match_actions(texts, self._sentence_embeddings, rewrite=rewrite)

    def _sentence_embeddings(self, texts: list[str]) -> np.ndarray:
        """(N, D) the text encoder's sentence embeddings of ``texts`` (what captions are matched in)."""
        return self.text_encoder.sentence_embeddings(texts).numpy()

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

    #: How much of a continued motion the prefix-LM reads (its last seconds, as motion tokens).
    CONTEXT_SECONDS = 2.0
    #: Text positions kept free beside a continued motion's tokens.
    CONTEXT_TEXT_TOKENS = 32

    @torch.no_grad()
    def encode(self, motion: Motion) -> torch.Tensor:
        """(T // frames_per_token,) int64 codes of ``motion`` (its 272 frames, anchored at its
        first frame, normalised with the model's mean / std, through the VQ-VAE encoder)."""
        x = rep272.normalize(motion.to_272(), self.mean, self.std)
        return self.vqvae.encode(torch.as_tensor(x, dtype=torch.float32, device=self.device)[None])[0].cpu()

    def _context_codes(self, context: Motion, max_tokens: int) -> torch.Tensor:
        """The codes of the last ``CONTEXT_SECONDS`` of ``context`` that fit beside
        ``max_tokens`` new ones in the model's positions (a whole number of tokens, ending at
        its last frame); ValueError naming the limit when none fit."""
        fpt = self.vqvae.config.frames_per_token
        room = self.spec.lm.block_size - 1 - max_tokens - self.CONTEXT_TEXT_TOKENS
        n = min(context.num_frames // fpt, self.tokens_for(self.CONTEXT_SECONDS), room)
        if context.num_frames < fpt:
            raise ValueError(f"continue-from: the motion has {context.num_frames} frame(s); give at least {fpt}")
        if n < 1:
            raise ValueError(f"continue-from: {max_tokens} new tokens leave no room for the given motion in the "
                             f"model's {self.spec.lm.block_size} positions; ask for fewer seconds")
        cut = context.num_frames - n * fpt
        # the pose alone (not frames(), which keeps a file's own 272 features): its tokens are the pose's
        ctx = context.with_(rotations=context.rotations[cut:], root_translation=context.root_translation[cut:])
        return self.encode(ctx)

    @torch.no_grad()
    def generate(self, request: GenerateRequest, progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None, context: Motion | None = None,
                 target: Motion | None = None) -> list[Motion]:
        """Generate one motion per prompt of ``request`` (validated here against this model's
        longest motion; ``device``, ``dtype``, ``post``, ``previews`` and ``out_dir`` are for the
        front ends: this generator runs on the device it was loaded on).

        Args:
            request: prompts, seeds (None = fresh random seeds, recorded in ``Motion.seed``),
                seconds / min_seconds, token choice, guidance (None = the model's TOML
                ``guidance``, else 1; each prompt then also runs against the empty prompt),
                compose (None = the model's TOML ``compose``: each action of a prompt generated
                on its own and played in order; a prompt of one action is generated exactly as
                without it), caption_rewrite (None = the model's TOML ``caption_rewrite``),
                batch_size (None = ``default_batch_size`` of the device).
            progress: ``progress(step, total)`` over all batches' token steps.
            cancel: polled between steps; True raises ``request.Cancelled``.
            context: a motion every prompt continues (``request.continue_from`` loaded and cut
                by the caller): its last ``CONTEXT_SECONDS`` become motion tokens the prefix-LM
                reads after the text (the first action's, when composed); the result is
                ``context`` unchanged followed by ``seconds`` of new motion, joined by
                ``body.splice`` (``meta["continued"]``; segments start after it). Each prompt
                is sampled ``CONTINUE_CANDIDATES`` times (seeds derived from its own) in the
                same batch and the candidate whose join is smoothest is kept
                (``meta["continued"]["candidate"]``), so a seed still reproduces the result.
            target: a pose (a motion's first frame) every prompt ends in (``request.to_pose``):
                ``INBETWEEN_CANDIDATES`` candidates, the one ending nearest it
                (``body.splice.pose_distance``; with no ``context``, each first moved so its
                end stands where the pose does) kept and its last ``INBETWEEN_BLEND`` frames
                eased into the pose, reached exactly on the last frame, the standing feet held by IK
                (``postprocess.feet.plant_into_pose``; ``meta["inbetween"]``).
        Returns:
            ``Motion`` objects in prompt order, at the model's fps (fps, prompt, seed set;
            ``source`` = model name; ``meta`` holds the token count, whether the model ended the
            motion itself, ``warnings`` (sentences, see the module docstring), for a model with
            captions ``caption_rewrite`` (each action's ``CaptionMatch.record()`` and its
            ``action_text`` as written) and, when composed, ``segments``: each action's text
            and its ``start`` / ``end`` in seconds). Post-processing is the caller's.
        """
        req = request.validate(max_seconds=self.max_seconds).with_seeds()
        longest = self.max_seconds if context is None else self.window_seconds
        if req.seconds > longest + 1e-9:
            if target is not None:
                raise ValueError(f"to-pose: an in-between holds at most {longest:.1f} s with this model; "
                                 "ask for fewer --seconds")
            return [self._long(req.replace(prompts=[p], seeds=[s]), progress, cancel, context)
                    for p, s in zip(req.prompts, req.seeds)]
        if context is None and target is None:
            return self._generate(req, progress, cancel, None)
        C = self.CONTINUE_CANDIDATES if target is None else self.INBETWEEN_CANDIDATES
        many = req.replace(prompts=[p for p in req.prompts for _ in range(C)],
                           seeds=[segment_seed(s, 1000 + j) if j else int(s) for s in req.seeds for j in range(C)])
        if target is not None:  # an in-between is as long as asked: it reaches the pose on its last frame
            many = many.replace(min_seconds=many.seconds)
        found = self._generate(many, progress, cancel, context)
        out = []
        for i, seed in enumerate(req.seeds):
            group = found[i * C:(i + 1) * C]
            if target is not None and context is None:  # a free start: each candidate ends where the pose stands
                group = [align(m, m.num_frames - 1, target.rotations[0, 0], target.root_translation[0]) for m in group]
            score = [(0.0 if context is None else _join_speed(m, context.num_frames))
                     + (0.0 if target is None else pose_distance(m, m.num_frames - 1, target)) for m in group]
            j = int(np.argmin(score))
            best = group[j]
            if target is not None:
                gap = pose_distance(best, best.num_frames - 1, target)
                best = plant_into_pose(best, target, self.INBETWEEN_BLEND)
                best.meta["inbetween"] = {"candidate": j, "gap": round(gap, 4)}
            best.seed = int(seed)
            if "continued" in best.meta:
                best.meta["continued"]["candidate"] = j
            out.append(best)
        return out

    #: Candidates sampled per prompt for an in-between (the one ending nearest the pose is kept).
    INBETWEEN_CANDIDATES = 8
    #: Frames over which an in-between's end eases into its target pose.
    INBETWEEN_BLEND = 15

    #: Candidates sampled per prompt when continuing a motion (the smoothest join is kept).
    CONTINUE_CANDIDATES = 4

    @property
    def window_seconds(self) -> float:
        """The most new seconds one continuation holds beside its given motion's tokens and
        the text (the model's positions, less ``CONTEXT_SECONDS`` and ``CONTEXT_TEXT_TOKENS``)."""
        tokens = self.spec.lm.block_size - 1 - self.CONTEXT_TEXT_TOKENS - self.tokens_for(self.CONTEXT_SECONDS)
        return tokens * self.vqvae.config.frames_per_token / self.spec.fps

    def _long(self, req: GenerateRequest, progress, cancel, context: Motion | None) -> Motion:
        """One prompt past what one pass holds, in windows: the first as long as the model
        makes (or a continuation of ``context``), then each continuing the motion so far with
        the prompt's last action, until ``req.seconds`` of new motion are made.
        ``meta["windows"]``: each window's start and end in seconds."""
        total, window = req.seconds, self.window_seconds
        given = 0.0 if context is None else context.duration
        text_room = self.CONTEXT_TEXT_TOKENS * self.vqvae.config.frames_per_token / self.spec.fps
        first = min(total, window if context is not None else self.max_seconds - text_room)
        sub = req.replace(seconds=first, min_seconds=first)
        motion = self.generate(sub, progress, cancel, context)[0]
        windows = [dict(start=round(given, 4), end=round(motion.duration, 4))]
        last = split_actions(req.prompts[0])[-1] if (self.default_compose if req.compose is None else req.compose) \
            else req.prompts[0]
        k = 0
        while motion.duration - given < total - 0.5 / self.spec.fps:
            k += 1
            more = min(window, total - (motion.duration - given))
            step = req.replace(prompts=[last], seeds=[segment_seed(req.seeds[0], 2000 + k)], seconds=more,
                               min_seconds=more)
            start = motion.duration
            nxt = self.generate(step, progress, cancel, motion)[0]
            nxt.meta = {**motion.meta, "tokens": motion.meta.get("tokens", 0) + nxt.meta.get("tokens", 0),
                        "warnings": list(dict.fromkeys(motion.meta.get("warnings", []) + nxt.meta.get("warnings", [])))}
            motion = nxt
            windows.append(dict(start=round(start, 4), end=round(motion.duration, 4)))
        motion.prompt, motion.seed = req.prompts[0], int(req.seeds[0])
        motion.meta["windows"] = windows
        return motion

    def _generate(self, req: GenerateRequest, progress, cancel, context: Motion | None) -> list[Motion]:
        """The body of ``generate`` for a validated request with seeds."""
        prompts, seeds, seconds = list(req.prompts), [int(s) for s in req.seeds], req.seconds
        max_tokens = self.tokens_for(seconds)
        min_tokens = min(max(1, self.tokens_for(req.min_seconds)), max_tokens)
        if context is not None:  # a continuation is as long as asked
            min_tokens = max_tokens
        guidance = self.default_guidance if req.guidance is None else float(req.guidance)
        cfg = SamplingConfig(greedy=req.greedy, temperature=req.temperature, top_k=req.top_k, top_p=req.top_p,
                             max_tokens=max_tokens, min_tokens=min_tokens, guidance=guidance)
        compose = self.default_compose if req.compose is None else req.compose
        rewrite = self.default_caption_rewrite if req.caption_rewrite is None else bool(req.caption_rewrite)
        warns: list[list[str]] = [[] for _ in prompts]
        for i, p in enumerate(prompts):
            odd = not_english(p)
            if odd:
                warns[i].append(f"the prompt is not in English ({', '.join(odd)}): the text encoder "
                                f"({self.spec.text_encoder['kind']}) reads English only, the motion will likely "
                                f"not follow it")
        # one row per action segment (a prompt's segments never outnumber its tokens)
        parts = [split_actions(p) if compose else [p] for p in prompts]
        crowded = set()
        asked = [len(ps) if compose else len(split_actions(p)) for p, ps in zip(prompts, parts)]
        for i, ps in enumerate(parts):
            n = asked[i]  # the actions asked, composed or not
            if n > 1 and seconds / n < MIN_ACTION_SECONDS - 1e-9:
                crowded.add(i)
                warns[i].append(self._crowded_words(n, seconds))
            if len(ps) > max_tokens:
                warns[i].append(f"{len(ps)} actions do not fit in {max_tokens} motion tokens ({seconds:g} s): "
                                f"the last {len(ps) - max_tokens} are dropped")
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
        t0 = time.perf_counter()
        # captions are single actions: a row of several (the whole prompt, compose off) is not matched
        alone = [r for r, (i, _, _) in enumerate(rows) if compose or asked[i] == 1]
        found = self.caption_matches([texts[r] for r in alone], rewrite)
        matches = None if found is None else dict(zip(alone, found))
        if matches is not None:
            texts = [matches[r].rewritten if r in matches else t for r, t in enumerate(texts)]
        cut = self.text_encoder.over_limit(texts)
        self.timings["text_s"] += time.perf_counter() - t0
        for r, (i, _, text) in enumerate(rows):
            if cut[r]:
                warns[i].append(f"text cut at the text encoder's limit of {self.text_encoder.max_tokens} tokens: "
                                f"{text[:60]!r}{'...' if len(text) > 60 else ''} is longer; the rest is not read")
            if matches is not None and r in matches and matches[r].far:
                m = matches[r]
                near = f"the nearest known caption is {m.caption!r} (similarity {m.similarity:.2f}, under " \
                       f"{self.captions.threshold:g})" if m.caption else "no known caption names the same sides"
                warns[i].append(f"{rows[r][2]!r}: {near}: the model will likely not do it")
            elif matches is not None and r in matches:
                unknown = self.captions.unknown_words(matches[r], self._sentence_embeddings)
                if unknown:
                    one = len(unknown) == 1
                    m = matches[r]
                    read = f"read as {m.rewritten!r}" if m.used else f"nearest known caption {m.caption!r}"
                    warns[i].append(f"{rows[r][2]!r}: {', '.join(map(repr, unknown))} {'is' if one else 'are'} "
                                    f"beyond the words the model was trained on ({read}): the motion will likely "
                                    f"not show {'it' if one else 'them'}")
        given = None if context is None else self._context_codes(context, max_tokens)
        empty = torch.zeros(0, dtype=torch.int64)
        row_prefix = None if given is None else [given if k == 0 else empty for _, k, _ in rows]
        over: dict[int, int] = {}
        codes = self._sample_rows(texts, row_seeds, cfg, mins, bs, progress, cancel, row_prefix, over)
        owned: list[list[int]] = [[] for _ in prompts]  # each prompt's rows, in order
        for r, (i, _, _) in enumerate(rows):
            owned[i].append(r)
        natural = [len(c) for c in codes]
        forced = self._fit_composed(codes, [mine for i, mine in enumerate(owned) if not single[i]],
                                    texts, row_seeds, cfg, bs, cancel, row_prefix)
        fpt = self.vqvae.config.frames_per_token
        for r, n in sorted(over.items()):
            room = max(self.spec.lm.block_size - n - (0 if row_prefix is None else len(row_prefix[r])), 0)
            if len(codes[r]) > room:
                warns[rows[r][0]].append(
                    f"{rows[r][2][:60]!r}{'...' if len(rows[r][2]) > 60 else ''}: its text ({n} tokens) and "
                    f"{len(codes[r])} motion tokens pass the model's block of {self.spec.lm.block_size} positions: "
                    f"after {room * fpt / self.spec.fps:.1f} s the motion comes from positions the model was never "
                    f"trained on and may break up; use fewer --seconds or a shorter prompt")
        for i, mine in enumerate(owned):
            took = sum(natural[r] for r in mine) * fpt / self.spec.fps
            if i in crowded:
                continue
            if not single[i] and sum(natural[r] for r in mine) > max_tokens:
                warns[i].append(f"{len(mine)} actions took {took:.1f} s together and were cut to fit {seconds:g} s; "
                                f"{self._longer_words(took, seconds)}")
            elif single[i] and natural[mine[0]] >= max_tokens and min_tokens < max_tokens:
                warns[i].append(f"the motion reached {seconds:g} s before the model ended it: the action may be "
                                f"cut short; {self._longer_words(None, seconds)}")

        motions: list[Motion] = []
        t0 = time.perf_counter()
        for i, (p, mine) in enumerate(zip(prompts, owned)):
            c = torch.cat([codes[r] for r in mine])
            whole = c if given is None else torch.cat([given, c])
            m = Motion.from_272(self.decode(whole), fps=self.spec.fps, prompt=p, seed=seeds[i], source=self.spec.name)
            m.meta.update(tokens=int(len(c)), ended=not any(r in forced for r in mine), warnings=warns[i])
            if matches is not None:
                m.meta["caption_rewrite"] = [dict(matches[r].record(), action_text=rows[r][2]) for r in mine
                                             if r in matches]
            after = 0.0
            if given is not None:
                if len(c) == 0:
                    raise ValueError(f"prompt {i}: the model ended at once after the given motion; try another seed")
                m = splice(context, m, len(given) * fpt)
                after = context.duration
            if not single[i]:  # in seconds, which survive resampling
                ends = np.cumsum([len(codes[r]) * fpt / self.spec.fps for r in mine]).tolist()
                m.meta["segments"] = [dict(text=rows[r][2], start=round(after + a, 4), end=round(after + b, 4))
                                      for r, a, b in zip(mine, [0.0] + ends[:-1], ends)]
            motions.append(m)
        self.timings["decode_s"] += time.perf_counter() - t0
        peak = gpu_peak_mb(self.device)
        if peak is not None:  # this call's peak (all its prompts together), for the manifest
            for m in motions:
                m.meta["gpu_peak_mb"] = peak
        return motions

    def _longer_words(self, took: float | None, seconds: float) -> str:
        """Advice for a longer motion than ``seconds``: "use --seconds N" (N: ``took`` rounded
        up, else the model's most), or that the model holds no more."""
        most = self.max_seconds
        want = most if took is None else float(math.ceil(took))
        if want > most or seconds >= most:
            return f"the model's longest motion is {most:g} s: split the prompt into several"
        return f"use --seconds {want:g} (the model's longest: {most:g} s)"

    def _crowded_words(self, n: int, seconds: float) -> str:
        """"8 actions in 4.0 s: 0.5 s each, about 1.5 s each needed; use --seconds 12"."""
        need = float(math.ceil(n * MIN_ACTION_SECONDS))
        advice = (f"use --seconds {need:g}" if need <= self.max_seconds else
                  f"the model's longest motion is {self.max_seconds:g} s: split the prompt into several")
        return (f"{n} actions in {seconds:.1f} s: {seconds / n:.1f} s each, about {MIN_ACTION_SECONDS:g} s each "
                f"needed; {advice}")

    def _fit_composed(self, codes: list[torch.Tensor], groups: list[list[int]], texts: list[str], seeds: list[int],
                      cfg: SamplingConfig, bs: int, cancel, prefix: list[torch.Tensor] | None = None) -> set[int]:
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
                                      [longer[r] for r in rs], bs, None, cancel,
                                      None if prefix is None else [prefix[r] for r in rs],
                                      {})  # rows past the block were found (and warned) at their first sampling
            for r, c in zip(rs, again):
                if len(c) > longer[r]:
                    forced.add(r)
                codes[r] = c[:longer[r]]
        return forced

    def _sample_rows(self, texts: list[str], seeds: list[int], cfg: SamplingConfig, mins: list[int], bs: int,
                     progress, cancel, prefix: list[torch.Tensor] | None = None,
                     over: dict[int, int] | None = None) -> list[torch.Tensor]:
        """Sample each text's codes in batches of ``bs`` (row ``r`` at least ``mins[r]`` tokens,
        after ``prefix[r]``); text encoding and sampling times are added to ``self.timings``.
        ``over`` (filled when given): row -> its text tokens, for each row whose text, prefix and
        ``cfg.max_tokens`` pass the prefix-LM's block size (the sampler's own warning is
        silenced: the caller words it per prompt)."""
        null = self.null_features() if cfg.guidance != 1.0 else None
        chunks = [range(i, min(i + bs, len(texts))) for i in range(0, len(texts), bs)]
        total = len(chunks) * cfg.max_tokens
        out: list[torch.Tensor] = []
        for ci, rows in enumerate(chunks):
            t0 = time.perf_counter()
            with warnings.catch_warnings():  # a cut is in the motions' warnings (generate)
                warnings.filterwarnings("ignore", message=r".*text tokens were cut")
                feats, mask = self.text_encoder.encode([texts[i] for i in rows])
            t1 = time.perf_counter()
            report = None if progress is None else (lambda s, _t, base=ci * cfg.max_tokens: progress(base + s, total))
            row_min = [mins[i] for i in rows]
            if over is not None:
                block = self.spec.lm.block_size
                for i, n in zip(rows, mask.sum(1).tolist()):
                    if int(n) + (0 if prefix is None else len(prefix[i])) + cfg.max_tokens > block:
                        over[i] = int(n)
            with warnings.catch_warnings():
                if over is not None:
                    warnings.filterwarnings("ignore", message=r".*exceeds the model's block size")
                out += self.sampler.sample(feats.to(self.device, self.dtype), mask.to(self.device),
                                           seeds=[seeds[i] for i in rows], cfg=cfg, progress=report, cancel=cancel,
                                           null_feats=null,
                                           min_tokens=None if len(set(row_min)) == 1 and row_min[0] == cfg.min_tokens
                                           else row_min,
                                           prefix=None if prefix is None else [prefix[i] for i in rows])
            self.timings["text_s"] += t1 - t0
            self.timings["sample_s"] += time.perf_counter() - t1
        return out
