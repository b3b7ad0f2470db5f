"""The LLaMA-style prefix language model over FSQ motion tokens (MotionMillion's "LLaMAHF").

One sequence per prompt: the text encoder's token features, projected by ``llama_proj`` to
``n_embd``, are a PREFIX; motion tokens follow. Text positions attend to every valid text
position (bidirectional inside the prefix); motion positions attend causally to the text and
to earlier motion. RoPE positions start at 0 on the first text token, motion token j sits at
position ``L_text + j`` (``L_text`` = that row's own, unpadded text length).

Batches put the (right-padded) text of every row in columns ``0 .. L-1`` and motion token j of
every row in column ``L + j``; pad columns are masked out of attention and the RoPE positions are
per row, so every row computes exactly what it would compute alone.

Vocabulary: ids ``0 .. nb_code-1`` are FSQ codes, ``END = nb_code``, ``PAD = nb_code + 1`` (an
input id only: ``lm_head`` has ``vocab_size - 1`` outputs).

State-dict keys are those of the released checkpoints (``checkpoints.load_prefix_lm`` loads them strictly):
``transformer.wte.weight``, ``transformer.h.{i}.{rms_1.scale, attn.c_attn.weight, attn.c_proj.weight,
rms_2.scale, mlp.c_fc1.weight, mlp.c_fc2.weight, mlp.c_proj.weight}``, ``transformer.ln_f.scale``,
``lm_head.weight``, ``llama_proj.weight``, ``llama_proj.bias``.
"""

from __future__ import annotations

import math
import torch
import torch.nn as nn
import torch.nn.functional as F

from .configs import LMConfig

__all__ = ["PrefixLM", "KVCache"]

class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * scale, over the last dim (computed in float32)."""

    def __init__(self, size: int, eps: float = 1e-5):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.type_as(x) * self.scale


def rope_angles(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of RoPE angles pos * base^(-2i/d), i < d/2.

    Args:
        positions: (B, T) integer positions.
    Returns:
        cos, sin: (B, 1, T, d/2) float32 (broadcast over heads).
    """
    inv = base ** (-torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim)
    ang = positions.float()[..., None] * inv  # (B, T, d/2)
    return ang.cos()[:, None], ang.sin()[:, None]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate INTERLEAVED pairs (2i, 2i+1) of x (B, nh, T, d) by the angles; computed in float32."""
    xf = x.float().unflatten(-1, (-1, 2))  # (B, nh, T, d/2, 2)
    a, b = xf[..., 0], xf[..., 1]
    out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
    return out.flatten(-2).type_as(x)


class KVCache:
    """Static per-layer key/value buffers (n_layer x (B, nh, T_max, hs)) for incremental decoding.

    Static shapes let a CUDA graph capture the decoding step; CPU callers read only the filled
    columns (``upto``).
    """

    def __init__(self, config: LMConfig, batch: int, max_len: int, device, dtype):
        shape = (batch, config.n_head, max_len, config.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.max_len = max_len


class Attention(nn.Module):
    def __init__(self, c: LMConfig):
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=False)  # q, k, v
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=False)
        self.n_head = c.n_head

    def forward(self, x, cos, sin, mask, cache_kv=None, cols=None, upto=None):
        """x (B, T, n); mask (B, 1, T, Tk) bool, True = may attend.

        Without a cache, keys are x's own (Tk = T). With ``cache_kv = (K, V)`` the new keys and
        values are written at columns ``cols`` (T,) long and attention reads columns ``:upto``
        (all when None).
        """
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, -1).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, -1).transpose(1, 2)
        v = v.view(B, T, self.n_head, -1).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache_kv is not None:
            K, V = cache_kv
            K.index_copy_(2, cols, k)
            V.index_copy_(2, cols, v)
            k, v = (K, V) if upto is None else (K[:, :, :upto], V[:, :, :upto])
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    """SwiGLU: c_proj(silu(c_fc1 x) * c_fc2 x)."""

    def __init__(self, c: LMConfig):
        super().__init__()
        h = c.mlp_hidden
        self.c_fc1 = nn.Linear(c.n_embd, h, bias=False)
        self.c_fc2 = nn.Linear(c.n_embd, h, bias=False)
        self.c_proj = nn.Linear(h, c.n_embd, bias=False)

    def forward(self, x):
        return self.c_proj(F.silu(self.c_fc1(x)) * self.c_fc2(x))


class Block(nn.Module):
    """Pre-norm: x += attn(rms_1(x)); x += mlp(rms_2(x))."""

    def __init__(self, c: LMConfig):
        super().__init__()
        self.rms_1 = RMSNorm(c.n_embd, c.norm_eps)
        self.attn = Attention(c)
        self.rms_2 = RMSNorm(c.n_embd, c.norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask, cache_kv=None, cols=None, upto=None):
        x = x + self.attn(self.rms_1(x), cos, sin, mask, cache_kv, cols, upto)
        return x + self.mlp(self.rms_2(x))


def prefix_mask(text_mask: torch.Tensor, n_motion: int) -> torch.Tensor:
    """Attention mask of a text prefix followed by motion tokens.

    Args:
        text_mask: (B, L) bool, True on real text tokens (right- or arbitrarily padded).
        n_motion: number of motion columns after the L text columns.
    Returns:
        (B, 1, L+M, L+M) bool, True = query row may attend key column: valid text keys from
        every query, motion keys causally; every position also sees itself (keeps pad rows finite).
    """
    B, L = text_mask.shape
    T = L + n_motion
    dev = text_mask.device
    idx = torch.arange(T, device=dev)
    key_ok = torch.cat([text_mask.bool(), torch.ones(B, n_motion, dtype=torch.bool, device=dev)], 1)  # (B, T)
    structure = (idx[None, :] < L) | (idx[None, :] <= idx[:, None])  # (T, T): text keys, or causal
    mask = structure[None] & key_ok[:, None, :]
    mask |= torch.eye(T, dtype=torch.bool, device=dev)[None]
    return mask[:, None]


def prefix_positions(text_mask: torch.Tensor, n_motion: int) -> torch.Tensor:
    """(B, L+M) RoPE positions: text columns 0..L-1, motion token j at L_b + j (L_b = row's text length)."""
    B, L = text_mask.shape
    dev = text_mask.device
    lengths = text_mask.sum(1, keepdim=True)  # (B, 1)
    text_pos = torch.arange(L, device=dev).expand(B, L)
    motion_pos = lengths + torch.arange(n_motion, device=dev)[None]
    return torch.cat([text_pos, motion_pos], 1)


class PrefixLM(nn.Module):
    """Text-prefix LLaMA over motion tokens, released key names (see module docstring)."""

    def __init__(self, config: LMConfig):
        super().__init__()
        self.config = config
        c = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            h=nn.ModuleList([Block(c) for _ in range(c.n_layer)]),
            ln_f=RMSNorm(c.n_embd, c.norm_eps),
        ))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size - 1, bias=False)  # no output for PAD
        self.llama_proj = nn.Linear(c.clip_dim, c.n_embd)

    # ------------------------------------------------------------------ helpers
    def init_weights(self, std: float = 0.02) -> "PrefixLM":
        """Normal(0, std / sqrt(2 n_layer)) weights, zero bias, unit norms (for training from scratch)."""
        s = std / math.sqrt(2 * self.config.n_layer)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, s)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, RMSNorm):
                nn.init.ones_(m.scale)
        return self

    def _run(self, x, positions, mask, cache: KVCache | None = None, cols=None, upto=None):
        cos, sin = rope_angles(positions, self.config.head_dim, self.config.rope_base)
        for i, block in enumerate(self.transformer.h):
            kv = None if cache is None else (cache.k[i], cache.v[i])
            x = block(x, cos, sin, mask, kv, cols, upto)
        return self.transformer.ln_f(x)

    def _inputs(self, text_feats: torch.Tensor, tokens: torch.Tensor | None) -> torch.Tensor:
        x = self.llama_proj(text_feats.to(self.llama_proj.weight.dtype))  # (B, L, n)
        if tokens is not None and tokens.shape[1]:
            x = torch.cat([x, self.transformer.wte(tokens)], 1)  # (B, L+M, n)
        return x

    # ------------------------------------------------------------------ training / reference
    def forward(self, text_feats: torch.Tensor, text_mask: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token logits.

        Args:
            text_feats: (B, L, clip_dim) text token features, right-padded.
            text_mask: (B, L) bool, True on real text tokens (every row needs at least one).
            tokens: (B, M) motion targets: codes, then END, then PAD (PAD is never attended
                usefully: it only follows END).
        Returns:
            (B, M, vocab_size - 1) logits; ``logits[:, j]`` predicts ``tokens[:, j]`` from the
            text and ``tokens[:, :j]``.
        """
        L, M = text_feats.shape[1], tokens.shape[1]
        inputs = tokens[:, :-1]  # the last target is never an input
        x = self._inputs(text_feats, inputs)
        h = self._run(x, prefix_positions(text_mask, M - 1), prefix_mask(text_mask, M - 1))  # (B, L+M-1, n)
        last_text = text_mask.sum(1) - 1  # (B,) column predicting the first motion token
        first = h.gather(1, last_text[:, None, None].expand(-1, 1, h.shape[-1]))  # (B, 1, n)
        return self.lm_head(torch.cat([first, h[:, L:]], 1))

    def loss(self, text_feats: torch.Tensor, text_mask: torch.Tensor, tokens: torch.Tensor,
             weights: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy of ``forward`` against ``tokens``, PAD targets ignored; with
        ``weights`` (B, M), the weighted mean sum(w * CE) / sum(w) (PAD targets must weigh 0)."""
        logits = self(text_feats, text_mask, tokens)
        flat = logits.reshape(-1, logits.shape[-1]).float()
        if weights is None:
            return F.cross_entropy(flat, tokens.reshape(-1), ignore_index=self.config.pad_id)
        ce = F.cross_entropy(flat, tokens.reshape(-1), ignore_index=self.config.pad_id, reduction="none")
        w = weights.reshape(-1).to(ce.dtype)
        return (ce * w).sum() / w.sum()

    @torch.no_grad()
    def next_logits_full(self, text_feats: torch.Tensor, text_mask: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, vocab-1) for the token after ``tokens`` (B, M), recomputing the whole
        sequence (no cache) and, as released, the logits of every position: the release's
        algorithm and cost, used as the reference."""
        M = tokens.shape[1]
        x = self._inputs(text_feats, tokens)
        logits = self.lm_head(self._run(x, prefix_positions(text_mask, M), prefix_mask(text_mask, M)))
        if M == 0:
            last = text_mask.sum(1) - 1
            return logits.gather(1, last[:, None, None].expand(-1, 1, logits.shape[-1]))[:, 0]
        return logits[:, -1]

    # ------------------------------------------------------------------ cached decoding
    def new_cache(self, batch: int, max_len: int) -> KVCache:
        p = self.lm_head.weight
        return KVCache(self.config, batch, max_len, p.device, p.dtype)

    @torch.no_grad()
    def prefill(self, text_feats: torch.Tensor, text_mask: torch.Tensor, cache: KVCache,
                tokens: torch.Tensor | None = None, given: torch.Tensor | None = None) -> torch.Tensor:
        """Run the text prefix (and motion tokens already given) into ``cache`` columns
        0..L-1 (and L..L+P-1) in one pass.

        Args:
            tokens: (B, P) motion codes after the text (a motion being continued), left-aligned;
                ``given`` (B,) how many of each row's are real (the rest: padding no real token
                attends, causally after them).
        Returns:
            (B, vocab-1) logits of the next motion token: after each row's last given token, or
            its last real text token when it has none.
        """
        B, L = text_mask.shape
        P = 0 if tokens is None else tokens.shape[1]
        x = self._inputs(text_feats, tokens)
        cols = torch.arange(L + P, device=x.device)
        h = self._run(x, prefix_positions(text_mask, P), prefix_mask(text_mask, P), cache, cols, upto=L + P)
        last = text_mask.sum(1) - 1
        if P:
            last = torch.where(given > 0, L + given - 1, last)
        h = h.gather(1, last[:, None, None].expand(-1, 1, h.shape[-1]))[:, 0]
        return self.lm_head(h)

    @torch.no_grad()
    def decode_step(self, tokens: torch.Tensor, positions: torch.Tensor, col: torch.Tensor,
                    key_mask: torch.Tensor, cache: KVCache, upto: int | None = None) -> torch.Tensor:
        """One cached step for every row.

        Args:
            tokens: (B,) the previous motion token of each row.
            positions: (B,) its RoPE position (L_b + j).
            col: (1,) long, the cache column it is written to (L + j, the same for all rows).
            key_mask: (B, T_max) bool, True on the columns a row may attend (its real text and
                the motion columns up to and including ``col``).
            upto: attend columns ``:upto`` only (CPU); None = the whole static cache (CUDA graphs).
        Returns:
            (B, vocab-1) logits of the next token.
        """
        x = self.transformer.wte(tokens[:, None])  # (B, 1, n)
        km = key_mask if upto is None else key_mask[:, :upto]
        h = self._run(x, positions[:, None], km[:, None, None, :], cache, col, upto)
        return self.lm_head(h[:, 0])
