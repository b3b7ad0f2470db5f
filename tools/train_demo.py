"""Train the shipped demo model: procedural corpus -> FSQ VQ-VAE -> prefix-LM on MiniLM text.

    python tools/train_demo.py                  # everything, into core/motionprompt/data/demo/
    python tools/train_demo.py --work-dir build/demo_train --out build/demo_model   # try a build first
    python tools/eval_demo.py --model build/demo_model/model.toml                  # then measure it

Phases (each checkpointed in ``--work-dir``; a rerun resumes where it stopped):
  1. corpus: ``--clips`` procedural clips (``motionprompt_demo.synth``), several prompts each
     (``motionprompt_demo.captions``), 272-dim frames, mean / std, and the action recogniser
     fitted on the ground-truth clips (``motionprompt_demo.recognise``);
  2. vqvae: the FSQ VQ-VAE (``VQVAE_PRESETS[--vq-preset]``) on random crops;
  3. tokens: every clip encoded to token ids;
  4. text: MiniLM token features of every distinct prompt, computed once and cached;
  5. lm: the prefix-LM (teacher forcing, codes then END);
  6. export: safetensors, mean.npy / std.npy, model.toml into ``--out``, and ``captions.npz``:
     the training captions (``captions.training_captions``) with their MiniLM sentence
     embeddings and the training prompts' words, for the nearest-caption rewrite and the
     unknown-word warning (``motionprompt.text.vocabulary``), then each caption's reliability
     (the new model run on it, ``--caption-seeds`` seeds, recognised: ~40 min on 2 cores).
     ``--captions-only`` writes that file alone (no training; the reliability when ``--out``
     holds a model).

Deterministic for a given seed and thread count; 2 CPU cores take about 30 minutes with the
defaults (the prefix-LM is two thirds of it).
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core"))

from motionprompt_demo import captions, recognise, synth  # noqa: E402
from motionprompt.models.configs import VQVAE_PRESETS, LMConfig, VQVAEConfig  # noqa: E402
from motionprompt.models.prefix_lm import PrefixLM  # noqa: E402
from motionprompt.models.vqvae import HumanVQVAE  # noqa: E402

DEFAULT_OUT = ROOT / "core" / "motionprompt" / "data" / "demo"
NULL_TEXT = ""  # the prompt guidance steers away from (Generator.null_features encodes the same)
# Groups of the 272 layout whose std is averaged (as the published statistics are).
STD_GROUPS = [(0, 2), (2, 8), (8, 74), (74, 140), (140, 272)]


# --------------------------------------------------------------------------- helpers

def _save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".part.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(obj, fh, protocol=4)
    tmp.replace(path)


def _load(path: Path):
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _resume(model, opt, ckpt: Path) -> int:
    """Load a phase checkpoint if there is one; returns the step to continue from."""
    if not ckpt.exists():
        return 0
    st = torch.load(ckpt, weights_only=False)  # our own file, written by this script
    model.load_state_dict(st["model"])
    opt.load_state_dict(st["opt"])
    return int(st["step"])


def _cosine_lr(step: int, total: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    u = (step - warmup) / max(1, total - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(u, 1.0))))


def block_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (272,) and group-averaged std (272,) of stacked frames (N, 272)."""
    mean = x.mean(0)
    sd = x.std(0)
    std = np.empty_like(sd)
    for a, b in STD_GROUPS:
        std[a:b] = max(sd[a:b].mean(), 1e-4)
    return mean.astype(np.float32), std.astype(np.float32)


# --------------------------------------------------------------------------- phases

def build_corpus(n_clips: int, seed: int, texts_per_clip: int) -> dict:
    rng = np.random.default_rng(seed)
    motions, texts, labels, spans, rec_X, rec_y = [], [], [], [], [], []
    names = tuple(synth.ACTIONS)
    for _ in tqdm(range(n_clips), desc="corpus", unit="clip"):
        clip = synth.sample_clip(rng)
        motions.append(clip.to_272().astype(np.float32))
        labels.append(clip.labels)
        spans.append([(int(s), int(e)) for s, e in clip.spans])
        # Several prompts per clip; clip text must not depend on the held-out wordings.
        if len(clip.items) == 1:
            a, p = clip.items[0]
            texts.append([captions.describe(a, p, rng) for _ in range(texts_per_clip)])
        else:
            texts.append([captions.describe_sequence(clip.items, rng) for _ in range(texts_per_clip)])
        floor = clip.joints[..., 1].min()
        for a, (s, e) in zip(clip.labels, clip.spans):
            rec_X.append(recognise.features(clip.joints[s:e], floor))
            rec_y.append(names.index(a))
    mean, std = block_std(np.concatenate(motions))
    rec = recognise.fit_recogniser(np.array(rec_X), np.array(rec_y), names)
    return dict(motions=motions, texts=texts, labels=labels, spans=spans, mean=mean, std=std, recogniser=rec)


def _vq_forward(model: HumanVQVAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Training forward: (reconstruction (B, T, 272), FSQ input before the bound (B, N, levels))."""
    q = model.quantizer
    z = q.project_in(model._latent(x))
    zq = q.project_out(q.quantize(z))
    return model.vqvae.decoder(zq.transpose(1, 2)).transpose(1, 2), z


# Joints whose place tells the actions apart: ankles, feet, head, elbows, wrists.
END_EFFECTORS = (7, 8, 10, 11, 15, 18, 19, 20, 21)


def _vq_channel_weights() -> torch.Tensor:
    """(272,) loss weight per channel of the normalised frame."""
    w = torch.ones(272)
    # The whole travel of a clip lives in two root-velocity channels and its turning in six:
    # weigh them up, or side steps and jumps forward come back on the spot. Sideways velocity
    # (channel 0) weighs most: it is rare in the corpus, so it is the cheapest channel to drop.
    w[0], w[1] = 60.0, 15.0
    w[2:8] = 5.0
    w[8:74] = 2.0  # then where the joints are
    for j in END_EFFECTORS:  # hands and feet carry the action, and its side
        w[8 + 3 * j:11 + 3 * j] *= 3.0
        w[74 + 3 * j:77 + 3 * j] *= 3.0
    return w


def _path_loss(rec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Error of the integrated root track (velocity and heading change summed over the crop):
    a small steady velocity error that a per-frame loss shrugs off is a drift of metres."""
    scale = torch.ones(8, dtype=x.dtype)
    scale[0] = 4.0  # sideways: see _vq_channel_weights
    pr = torch.cumsum(rec[..., 0:8] * scale, 1) / 8.0
    px = torch.cumsum(x[..., 0:8] * scale, 1) / 8.0
    return torch.nn.functional.smooth_l1_loss(pr, px, beta=0.05)


def train_vqvae(corpus: dict, cfg: VQVAEConfig, steps: int, batch: int, crop: int, lr: float, seed: int,
                ckpt: Path, path_weight: float = 1.0) -> HumanVQVAE:
    torch.manual_seed(seed)
    model = HumanVQVAE(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    start = _resume(model, opt, ckpt)
    mean, std = corpus["mean"], corpus["std"]
    data = [(m - mean) / std for m in corpus["motions"]]
    lengths = np.array([len(m) for m in data])
    ok = np.flatnonzero(lengths >= crop)
    # Every action as often as every other: rare ones (side steps, punches) are otherwise what
    # an under-trained VQ-VAE gives up first.
    count = Counter(a for labels in corpus["labels"] for a in set(labels))
    p_clip = np.array([np.mean([1.0 / count[a] for a in corpus["labels"][i]]) for i in ok])
    p_clip /= p_clip.sum()
    w = _vq_channel_weights()
    rng = np.random.default_rng(seed + 1 + start)
    bar = tqdm(range(start, steps), desc="vqvae", initial=start, total=steps)
    for step in bar:
        idx = rng.choice(ok, size=batch, p=p_clip)
        offs = [int(rng.integers(0, lengths[i] - crop + 1)) for i in idx]
        x = torch.from_numpy(np.stack([data[i][o:o + crop] for i, o in zip(idx, offs)]))
        for g in opt.param_groups:
            g["lr"] = _cosine_lr(step, steps, lr)
        rec, z = _vq_forward(model, x)
        # Quadratic below one standard deviation: an L1 loss fits the median, and the median of
        # "left or right punch" is no punch at all; squared errors keep rare, large moves.
        err = torch.nn.functional.smooth_l1_loss(rec, x, reduction="none", beta=1.0)
        vel = torch.nn.functional.smooth_l1_loss(rec[:, 1:] - rec[:, :-1], x[:, 1:] - x[:, :-1],
                                                 reduction="none", beta=1.0)
        # Keep the FSQ inputs where tanh still has a slope: saturated latents stop learning and
        # collapse onto a handful of codes.
        loss = (err * w).mean() + 0.5 * (vel * w).mean() + 0.1 * torch.relu(z.abs() - 2.0).pow(2).mean()
        loss = loss + path_weight * _path_loss(rec, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if (step + 1) % 250 == 0 or step + 1 == steps:
            torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), step=step + 1), ckpt)
    return model.eval()


@torch.no_grad()
def tokenize(corpus: dict, model: HumanVQVAE) -> tuple[list, float]:
    """Token ids of every clip and the mean reconstruction error (normalised units)."""
    fpt = model.config.frames_per_token
    out, errs = [], []
    for m in tqdm(corpus["motions"], desc="tokens", unit="clip"):
        T = (len(m) // fpt) * fpt
        x = torch.from_numpy((m[:T] - corpus["mean"]) / corpus["std"])[None]
        ids = model.encode(x)
        rec = model.decode(ids)
        errs.append((rec - x).abs().mean().item())
        out.append(ids[0].numpy().astype(np.int16))
    return out, float(np.mean(errs))


@torch.no_grad()
def encode_texts(texts: list[str], pooling: str, batch: int = 128) -> dict:
    """MiniLM features of distinct prompts as the generator will see them: text -> float16 (L, 384)."""
    from motionprompt.models.text_encoders import MiniLMTextEncoder

    enc = MiniLMTextEncoder(pooling=pooling)
    out = {}
    uniq = sorted(set(texts))
    for i in tqdm(range(0, len(uniq), batch), desc="text", unit="batch"):
        chunk = uniq[i:i + batch]
        f, m = enc.encode(chunk)
        for t, fi, mi in zip(chunk, f, m):
            out[t] = fi[mi].numpy().astype(np.float16)
    return out


def _drop_tokens(f: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Drop inner text tokens (never the first / last) with probability p: the model must read
    the whole prompt, not one memorised word."""
    if p <= 0 or len(f) <= 3:
        return f
    keep = rng.random(len(f)) >= p
    keep[0] = keep[-1] = True
    return f[keep]


def _start_weights(spans: list, n_tokens: int, fpt: int, window: int, boost: float) -> np.ndarray:
    """(n_tokens + 1,) loss weights of a clip's targets (codes, then END): ``boost`` on the first
    ``window`` codes of every action. Which action comes next is decided in those few codes
    (the rest of an action follows from its start), so with uniform weights a wrong choice at
    a transition costs almost nothing against the ~100 predictable codes around it."""
    w = np.ones(n_tokens + 1, np.float32)
    for s, _ in spans:
        a = s // fpt
        w[a:min(a + window, n_tokens)] = boost
    return w


def _lm_batch(idx, corpus, tokens, feats, rng, end_id, pad_id, token_drop=0.0, p_uncond=0.0,
              fpt=2, start_window=0, start_boost=1.0):
    texts = [corpus["texts"][i][int(rng.integers(len(corpus["texts"][i])))] for i in idx]
    # Some rows see the empty prompt: the model also learns motion without text, which
    # classifier-free guidance at sampling time steers away from.
    texts = [NULL_TEXT if rng.random() < p_uncond else t for t in texts]
    fs = [_drop_tokens(feats[t], rng, token_drop) for t in texts]
    L = max(len(f) for f in fs)
    tf = torch.zeros(len(idx), L, fs[0].shape[1])
    tm = torch.zeros(len(idx), L, dtype=torch.bool)
    for r, f in enumerate(fs):
        tf[r, :len(f)] = torch.from_numpy(f.astype(np.float32))
        tm[r, :len(f)] = True
    M = max(len(tokens[i]) for i in idx) + 1
    tok = torch.full((len(idx), M), pad_id, dtype=torch.long)
    wt = torch.zeros(len(idx), M)
    for r, i in enumerate(idx):
        n = len(tokens[i])
        tok[r, :n] = torch.from_numpy(tokens[i].astype(np.int64))
        tok[r, n] = end_id
        boost = 1.0 if texts[r] == NULL_TEXT else start_boost
        wt[r, :n + 1] = torch.from_numpy(_start_weights(corpus["spans"][i], n, fpt, start_window, boost))
    return tf, tm, tok, wt


def train_lm(corpus: dict, tokens: list, feats: dict, cfg: LMConfig, steps: int, batch: int, lr: float,
             seed: int, ckpt: Path, token_drop: float = 0.1, p_uncond: float = 0.1, fpt: int = 2,
             start_window: int = 0, start_boost: float = 1.0) -> PrefixLM:
    torch.manual_seed(seed)
    model = PrefixLM(cfg).init_weights()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=0.05), dict(params=no_decay, weight_decay=0.0)],
                            lr=lr, betas=(0.9, 0.95))
    start = _resume(model, opt, ckpt)
    rng = np.random.default_rng(seed + 7 + start)
    n = len(tokens)
    # Bucket by length so that a batch pads little: sort a random pool, then cut batches.
    bar = tqdm(range(start, steps), desc="lm", initial=start, total=steps)
    avg = None
    for step in bar:
        pool = rng.choice(n, size=batch * 8, replace=False)
        pool = pool[np.argsort([len(tokens[i]) for i in pool])]
        k = int(rng.integers(8))
        idx = pool[k * batch:(k + 1) * batch]
        tf, tm, tok, wt = _lm_batch(idx, corpus, tokens, feats, rng, cfg.end_id, cfg.pad_id, token_drop, p_uncond,
                                    fpt, start_window, start_boost)
        for g in opt.param_groups:
            g["lr"] = _cosine_lr(step, steps, lr)
        loss = model.loss(tf, tm, tok, wt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 10 == 0:
            bar.set_postfix(loss=f"{avg:.3f}")
        if (step + 1) % 200 == 0 or step + 1 == steps:
            torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), step=step + 1), ckpt)
    return model.eval()


def export(out: Path, vq: HumanVQVAE, lm: PrefixLM, corpus: dict, info: dict) -> None:
    """Weights (safetensors), statistics, recogniser, training record and model.toml."""
    from motionprompt.models.checkpoints import save_state_dict
    from motionprompt.models.model_spec import ModelSpec

    out.mkdir(parents=True, exist_ok=True)
    save_state_dict(vq, out / "vqvae.safetensors", metadata=dict(model="demo", part="vqvae"))
    # The prefix-LM is stored in float16 (half the size; the generator runs it in float32, or in
    # bfloat16 on CPUs that have it natively: ``cpu_dtype``).
    save_state_dict({k: v.half() for k, v in lm.state_dict().items()}, out / "lm.safetensors",
                    metadata=dict(model="demo", part="lm", stored="float16"))
    np.save(out / "mean.npy", corpus["mean"])
    np.save(out / "std.npy", corpus["std"])
    corpus["recogniser"].save(out / "recogniser.npz")
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    spec = ModelSpec(name="demo", text_encoder=dict(kind="minilm", path=None, max_tokens=150,
                                                    pooling=info["text_pooling"]),
                     lm=lm.config, lm_checkpoint=out / "lm.safetensors", vqvae=vq.config,
                     vqvae_checkpoint=out / "vqvae.safetensors", mean=out / "mean.npy", std=out / "std.npy",
                     extra=dict(description="motionprompt demo model: procedural corpus, see MODEL_CARD.md",
                                guidance=float(info["guidance"]), compose=bool(info["compose"]),
                                **({"subject": info["subject"]} if info.get("subject") else {}),
                                **({"cpu_dtype": info["cpu_dtype"]} if info.get("cpu_dtype") != "float32" else {}),
                                **info.get("captions", {})))
    spec.write(out / "model.toml")


CAPTIONS_FILE = "captions.npz"


def write_captions(out: Path, threshold: float, keep: float, reliability=None) -> Path:
    """``captions.npz`` in ``out``: every training caption, its action and its MiniLM sentence
    embedding (float16, unit rows), made by the runtime's own encoder (deterministic), the
    words of the training prompts per action (``captions.training_words``) and, when given,
    each caption's ``reliability`` (N,) (``measure_reliability``)."""
    from motionprompt.models.text_encoders import build_text_encoder
    from motionprompt.text.vocabulary import CaptionIndex

    pairs = captions.training_captions()
    enc = build_text_encoder("minilm")
    emb = enc.sentence_embeddings([t for t, _ in pairs]).numpy()
    out.mkdir(parents=True, exist_ok=True)
    return CaptionIndex([t for t, _ in pairs], [a for _, a in pairs], emb, threshold, keep, reliability,
                        words=captions.training_words()).save(out / CAPTIONS_FILE)


def measure_reliability(out: Path, seeds: int, threads: int = 2) -> Path | None:
    """Rewrite ``captions.npz`` in ``out`` with each caption's reliability: the share of
    ``seeds`` seeds from 100 (as ``eval_demo.RELIABILITY_SEEDS``: none of the evaluation's) whose motion from
    the model in ``out`` (float32) the recogniser in ``out`` labels as the caption's action.
    None (nothing written) when ``seeds`` is 0 or ``out`` holds no model."""
    if seeds <= 0 or not (out / "model.toml").is_file() or not (out / "recogniser.npz").is_file():
        return None
    sys.path.insert(0, str(ROOT / "tools"))
    import eval_demo
    from motionprompt.generation.generator import Generator
    from motionprompt_demo.recognise import Recogniser
    from motionprompt.text.vocabulary import CaptionIndex

    torch.set_num_threads(threads)
    path = out / CAPTIONS_FILE
    idx = CaptionIndex.load(path)
    gen = Generator.from_spec(str(out / "model.toml"), dtype=torch.float32)
    rel = eval_demo.caption_reliability(gen, idx.texts, idx.actions, seeds=range(100, 100 + seeds),
                                        recogniser=Recogniser.load(out / "recogniser.npz"), batch_size=16)
    return idx.with_reliability(rel).save(path)


def caption_settings(args: argparse.Namespace) -> dict:
    """model.toml keys of the nearest-caption rewrite."""
    return dict(captions=CAPTIONS_FILE, caption_rewrite=bool(args.caption_rewrite),
                caption_threshold=float(args.caption_threshold), caption_keep=float(args.caption_keep))


def work_files(args: argparse.Namespace) -> dict[str, str]:
    """The work-dir file of each phase, named by every argument its content depends on, directly
    or through the phases it reads, so a run with other values never reuses another run's files
    (the corpus draws motions and texts from one generator: the text count changes the clips)."""
    corpus = f"{args.clips}_{args.seed}_x{args.texts_per_clip}"
    vq = (f"{corpus}_{args.vq_preset}_t{args.vq_down_t}_L{args.vq_levels.replace(',', '-')}_{args.vq_steps}"
          f"_b{args.vq_batch}_c{args.vq_crop}_lr{args.vq_lr:g}")
    boost = f"_b{args.lm_start_boost:g}x{args.lm_start_frames}" if args.lm_start_boost != 1 else ""
    lm = (f"{vq}_{args.text_pooling}_{args.lm_layers}x{args.lm_heads}x{args.lm_embd}_{args.lm_steps}"
          f"_b{args.lm_batch}_lr{args.lm_lr:g}_u{args.p_uncond}{boost}")
    return dict(corpus=f"corpus_{corpus}.pkl", vqvae=f"vqvae_{vq}.pt", tokens=f"tokens_{vq}.pkl",
                text=f"text_{corpus}_{args.text_pooling}.pkl", lm=f"lm_{lm}.pt")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "build" / "demo_train")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clips", type=int, default=6000)
    ap.add_argument("--texts-per-clip", type=int, default=3)
    ap.add_argument("--vq-preset", default="small")
    ap.add_argument("--vq-down-t", type=int, default=1, help="2x down-samplings: 1 = 2 frames per token")
    ap.add_argument("--vq-levels", default="4,4,4,4,4,4", help="FSQ levels (their product is the code count)")
    ap.add_argument("--vq-steps", type=int, default=4000)
    ap.add_argument("--vq-batch", type=int, default=64)
    ap.add_argument("--vq-crop", type=int, default=48)
    ap.add_argument("--vq-lr", type=float, default=2e-3)
    ap.add_argument("--lm-layers", type=int, default=4)
    ap.add_argument("--lm-heads", type=int, default=4)
    ap.add_argument("--lm-embd", type=int, default=256)
    ap.add_argument("--lm-steps", type=int, default=1500)
    ap.add_argument("--lm-batch", type=int, default=32)
    ap.add_argument("--lm-lr", type=float, default=1e-3)
    ap.add_argument("--text-pooling", default="clauses+tokens", help="text prefix: none, mean+tokens, clauses+tokens or phrases+tokens")
    ap.add_argument("--lm-start-frames", type=int, default=24,
                    help="frames at the start of every action whose codes get --lm-start-boost")
    ap.add_argument("--lm-start-boost", type=float, default=4.0,
                    help="loss weight of the codes that start an action (1 = plain cross-entropy)")
    ap.add_argument("--p-uncond", type=float, default=0.1, help="share of LM rows trained on the empty prompt")
    ap.add_argument("--guidance", type=float, default=1.5, help="guidance scale written to model.toml (1 = off)")
    ap.add_argument("--compose", action=argparse.BooleanOptionalAction, default=True,
                    help="model.toml: generate prompts action by action (see motionprompt.text.segments)")
    ap.add_argument("--subject", default="a person",
                    help="model.toml: the subject every action is read with ('' = as written)")
    ap.add_argument("--cpu-dtype", default="bfloat16", choices=["bfloat16", "float32"],
                    help="model.toml: prefix-LM precision on CPUs with native bfloat16")
    ap.add_argument("--threads", type=int, default=2,
                    help="torch threads (use 1 on a busy shared machine)")
    ap.add_argument("--caption-rewrite", action=argparse.BooleanOptionalAction, default=True,
                    help="model.toml: rewrite each action to its nearest training caption by default")
    ap.add_argument("--caption-threshold", type=float, default=0.55,
                    help="model.toml: least caption similarity for a rewrite (under it: the far-prompt warning)")
    ap.add_argument("--caption-keep", type=float, default=0.95,
                    help="model.toml: similarity from which an action counts as in the model's words already")
    ap.add_argument("--captions-only", action="store_true",
                    help=f"only write {CAPTIONS_FILE} (caption embeddings, words, reliability) into --out; no training")
    ap.add_argument("--caption-seeds", type=int, default=8,
                    help="seeds per caption for its reliability, from seed 100 (the model in --out run on "
                         "each caption: 425 x 4 motions took 19-22 min on 2 busy cores; 0 = none)")
    ap.add_argument("--stop-after", choices=["corpus", "vqvae", "tokens", "text", "lm"], default=None)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    files = work_files(args)
    if args.captions_only:
        print(write_captions(args.out, args.caption_threshold, args.caption_keep))
        if measure_reliability(args.out, args.caption_seeds, args.threads):
            print(f"reliability of each caption measured with {args.caption_seeds} seeds")
        return 0

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # denormal floats slow CPU training down ~20x
    wd = args.work_dir
    wd.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    times = {}

    path = wd / files["corpus"]
    if path.exists():
        corpus = _load(path)
    else:
        corpus = build_corpus(args.clips, args.seed, args.texts_per_clip)
        _save(corpus, path)
    times["corpus"] = time.time() - t0
    if args.stop_after == "corpus":
        return 0

    levels = tuple(int(v) for v in args.vq_levels.split(","))
    vq_cfg = VQVAEConfig(**{**VQVAE_PRESETS[args.vq_preset], "down_t": args.vq_down_t, "levels": levels})
    vq = train_vqvae(corpus, vq_cfg, args.vq_steps, args.vq_batch, args.vq_crop, args.vq_lr, args.seed,
                     wd / files["vqvae"])
    times["vqvae"] = time.time() - t0
    if args.stop_after == "vqvae":
        return 0

    tok_path = wd / files["tokens"]
    if tok_path.exists():
        tokens, vq_err = _load(tok_path)
    else:
        tokens, vq_err = tokenize(corpus, vq)
        _save((tokens, vq_err), tok_path)
    print(f"VQ-VAE reconstruction error (normalised L1): {vq_err:.4f}")
    times["tokens"] = time.time() - t0
    if args.stop_after == "tokens":
        return 0

    feat_path = wd / files["text"]
    if feat_path.exists():
        feats = _load(feat_path)
    else:
        feats = encode_texts([NULL_TEXT] + [t for ts in corpus["texts"] for t in ts], args.text_pooling)
        _save(feats, feat_path)
    times["text"] = time.time() - t0
    if args.stop_after == "text":
        return 0

    max_tokens = max(len(t) for t in tokens) + 1
    max_text = max(len(f) for f in feats.values())
    lm_cfg = LMConfig(n_layer=args.lm_layers, n_head=args.lm_heads, n_embd=args.lm_embd,
                      vocab_size=vq_cfg.nb_code + 2, clip_dim=384, block_size=max_text + max_tokens,
                      mlp_multiple_of=32)
    fpt = vq.config.frames_per_token
    lm = train_lm(corpus, tokens, feats, lm_cfg, args.lm_steps, args.lm_batch, args.lm_lr, args.seed,
                  wd / files["lm"],
                  p_uncond=args.p_uncond, fpt=fpt, start_window=-(-args.lm_start_frames // fpt),
                  start_boost=args.lm_start_boost)
    times["lm"] = time.time() - t0
    if args.stop_after == "lm":
        return 0

    info = dict(seed=args.seed, clips=args.clips, texts_per_clip=args.texts_per_clip,
                vq_preset=args.vq_preset, vq_down_t=args.vq_down_t, vq_levels=list(levels), vq_steps=args.vq_steps, vq_recon_l1=vq_err,
                lm=dict(n_layer=args.lm_layers, n_head=args.lm_heads, n_embd=args.lm_embd,
                        steps=args.lm_steps, batch=args.lm_batch, p_uncond=args.p_uncond,
                        start_frames=args.lm_start_frames, start_boost=args.lm_start_boost),
                text_pooling=args.text_pooling, guidance=args.guidance, compose=args.compose,
                subject=args.subject, cpu_dtype=args.cpu_dtype,
                threads=args.threads, seconds_cumulative={k: round(v, 1) for k, v in times.items()},
                actions=list(synth.ACTIONS), captions=caption_settings(args))
    write_captions(args.out, args.caption_threshold, args.caption_keep)
    export(args.out, vq, lm, corpus, info)
    measure_reliability(args.out, args.caption_seeds, args.threads)
    print(f"demo model written to {args.out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
