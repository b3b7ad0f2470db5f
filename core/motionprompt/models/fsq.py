"""Finite scalar quantisation (FSQ): a fixed grid of codes, no codebook parameters.

Each of d channels is bounded and rounded to one of L_i levels; code values are
``c_i = level_i / floor(L_i / 2)`` centred on zero, and a code's index is the mixed-radix number
of its levels. MotionMillion: levels [8, 8, 8, 5, 5, 5] -> 64000 codes, basis
[1, 8, 64, 512, 2560, 12800].

Key names (checkpoint ``'net'`` dict, under ``vqvae.quantizer.``): ``project_in`` (Linear dim -> d)
and ``project_out`` (Linear d -> dim), present when ``dim != d``. The level / basis tensors are
non-persistent buffers (not in the state dict).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

__all__ = ["FSQ"]


class FSQ(nn.Module):
    """FSQ with optional projections from/to a ``dim``-wide latent.

    Args:
        levels: number of levels per channel (each >= 2).
        dim: latent width; ``None`` = ``len(levels)`` (no projections).
        eps: the bound's margin (1e-3: keeps tanh(.) * h strictly inside the outer levels).
    """

    def __init__(self, levels, dim: int | None = None, eps: float = 1e-3):
        super().__init__()
        levels = [int(x) for x in levels]
        if not levels or min(levels) < 2:
            raise ValueError(f"FSQ levels must be integers >= 2, got {levels}")
        self.levels = tuple(levels)
        self.codebook_dim = len(levels)
        self.dim = self.codebook_dim if dim is None else int(dim)
        self.codebook_size = math.prod(levels)
        self.eps = eps
        lv = torch.tensor(levels, dtype=torch.int64)
        basis = torch.cumprod(torch.tensor([1] + levels[:-1], dtype=torch.int64), 0)
        self.register_buffer("_levels", lv, persistent=False)
        self.register_buffer("_basis", basis, persistent=False)
        self.has_projections = self.dim != self.codebook_dim
        if self.has_projections:
            self.project_in = nn.Linear(self.dim, self.codebook_dim)
            self.project_out = nn.Linear(self.codebook_dim, self.dim)

    # ---------------------------------------------------------------- grid maths (d channels)
    def _half(self, like: torch.Tensor) -> torch.Tensor:
        return (self._levels // 2).to(like.dtype)

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """tanh(z + s) * h - o per channel: h = (L-1)(1+eps)/2, o = 0.5 for even L else 0,
        s = atanh(o / h). Rounding the result gives integers in [-floor(L/2), ceil(L/2) - 1]."""
        L = self._levels.to(z.dtype)
        h = (L - 1) * (1 + self.eps) / 2
        o = torch.where(self._levels % 2 == 0, 0.5, 0.0).to(z.dtype)
        s = torch.atanh(o / h)
        return torch.tanh(z + s) * h - o

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """(..., d) latent -> (..., d) codes in [-1, 1], rounded with a straight-through gradient."""
        b = self.bound(z)
        q = b + (torch.round(b) - b).detach()
        return q / self._half(q)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """(..., d) codes -> (...,) int64 indices: sum_i (c_i * half_i + half_i) * basis_i."""
        half = self._half(codes)
        level = torch.round(codes * half + half).long()
        return (level * self._basis).sum(-1)

    def indices_to_codes(self, ids: torch.Tensor) -> torch.Tensor:
        """(...,) int64 indices -> (..., d) float32 codes: level_i = (id // basis_i) mod L_i,
        c_i = (level_i - half_i) / half_i."""
        ids = ids.long()
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.codebook_size):
            raise ValueError(f"FSQ indices must lie in [0, {self.codebook_size}), got "
                             f"[{int(ids.min())}, {int(ids.max())}]")
        level = (ids[..., None] // self._basis) % self._levels
        half = self._half(torch.empty(0))
        return (level.float() - half) / half

    # ---------------------------------------------------------------- latent-width API
    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., dim) latent -> (quantised latent (..., dim), indices (...,))."""
        z_in = self.project_in(z) if self.has_projections else z
        codes = self.quantize(z_in)
        ids = self.codes_to_indices(codes)
        out = self.project_out(codes) if self.has_projections else codes
        return out, ids

    def dequantize(self, ids: torch.Tensor) -> torch.Tensor:
        """(...,) indices -> (..., dim) latent (codes through ``project_out``)."""
        codes = self.indices_to_codes(ids)
        if self.has_projections:
            codes = self.project_out(codes.to(self.project_out.weight.dtype))
        return codes
