"""The FSQ VQ-VAE motion tokenizer (MotionMillion's "HumanVQVAE").

Normalised 272-dim frames (B, T, 272) <-> token ids (B, T / 2^down_t). Released config: one 2x
down-sampling (1 token = 2 frames at 30 fps), width 512, 3 residual blocks per stage (dilations
9, 3, 1), LayerNorm over channels, ReLU, FSQ levels [8, 8, 8, 5, 5, 5], a Haar patcher of size 1
(identity, but its ``wavelets`` / ``_arange`` buffers are in the checkpoint).

State-dict keys (checkpoint ``'net'`` dict), ``nn.Sequential`` indices as released:
  vqvae.encoder.model.0.{wavelets,_arange}       patcher (when use_patcher)
  vqvae.encoder.model.1                          Conv1d(272 -> width, k3)
  (ReLU)
  vqvae.encoder.model.3.0 / .3.1.model.{0,1,2}   [Conv1d(k4, s2, p1), Resnet1D] per down stage
  vqvae.encoder.model.4                          Conv1d(width -> code_dim, k3)
  vqvae.decoder.model.0                          Conv1d(code_dim -> width, k3)
  (ReLU)
  vqvae.decoder.model.2.0.model.* / .2.2         [Resnet1D, Upsample x2, Conv1d(k3)] per stage
  vqvae.decoder.model.3, (ReLU), .5              Conv1d(k3), Conv1d(width -> 272, k3)
  vqvae.decoder.model.6.{wavelets,_arange}       un-patcher (when use_patcher)
  vqvae.quantizer.project_in / project_out       FSQ projections (code_dim <-> len(levels))
Residual block keys: ``norm1``, ``conv1`` (dilated k3), ``norm2``, ``conv2`` (1x1).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .configs import VQVAEConfig
from .fsq import FSQ

__all__ = ["HumanVQVAE"]

HAAR = (0.7071067811865476, 0.7071067811865476)


class Patcher(nn.Module):
    """Haar wavelet patcher of size 1: the identity, kept for its checkpoint buffers."""

    def __init__(self):
        super().__init__()
        self.register_buffer("wavelets", torch.tensor(HAAR))
        self.register_buffer("_arange", torch.arange(len(HAAR)))

    def forward(self, x):
        return x


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of (B, C, T)."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ResBlock(nn.Module):
    """x + conv2(relu(norm2(conv1(relu(norm1(x)))))); conv1 dilated k, conv2 1x1."""

    def __init__(self, width: int, dilation: int, kernel_size: int, norm: str | None):
        super().__init__()
        self.norm1 = ChannelNorm(width) if norm == "LN" else nn.Identity()
        self.conv1 = nn.Conv1d(width, width, kernel_size, 1, dilation * (kernel_size - 1) // 2, dilation)
        self.norm2 = ChannelNorm(width) if norm == "LN" else nn.Identity()
        self.conv2 = nn.Conv1d(width, width, 1)

    def forward(self, x):
        h = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(h)))


class Resnet1D(nn.Module):
    """``depth`` residual blocks, dilations growth^(depth-1) .. 1 (9, 3, 1)."""

    def __init__(self, width: int, depth: int, growth: int, kernel_size: int, norm: str | None):
        super().__init__()
        dil = [growth ** d for d in reversed(range(depth))]
        self.model = nn.Sequential(*[ResBlock(width, d, kernel_size, norm) for d in dil])

    def forward(self, x):
        return self.model(x)


def _conv(cin: int, cout: int, k: int) -> nn.Conv1d:
    return nn.Conv1d(cin, cout, k, 1, (k - 1) // 2)


class Encoder(nn.Module):
    def __init__(self, c: VQVAEConfig):
        super().__init__()
        blocks: list[nn.Module] = [Patcher()] if c.use_patcher else []
        blocks += [_conv(c.input_dim, c.width, c.kernel_size), nn.ReLU()]
        for _ in range(c.down_t):
            blocks.append(nn.Sequential(nn.Conv1d(c.width, c.width, 4, 2, 1),
                                        Resnet1D(c.width, c.depth, c.dilation_growth_rate, c.kernel_size, c.norm)))
        blocks.append(_conv(c.width, c.code_dim, c.kernel_size))
        self.model = nn.Sequential(*blocks)

    def forward(self, x):
        return self.model(x)


class Decoder(nn.Module):
    def __init__(self, c: VQVAEConfig):
        super().__init__()
        blocks: list[nn.Module] = [_conv(c.code_dim, c.width, c.kernel_size), nn.ReLU()]
        for _ in range(c.down_t):
            blocks.append(nn.Sequential(Resnet1D(c.width, c.depth, c.dilation_growth_rate, c.kernel_size, c.norm),
                                        nn.Upsample(scale_factor=2, mode="nearest"),
                                        _conv(c.width, c.width, 3)))
        blocks += [_conv(c.width, c.width, c.kernel_size), nn.ReLU(), _conv(c.width, c.input_dim, c.kernel_size)]
        if c.use_patcher:
            blocks.append(Patcher())
        self.model = nn.Sequential(*blocks)

    def forward(self, x):
        return self.model(x)


class _Core(nn.Module):
    def __init__(self, c: VQVAEConfig):
        super().__init__()
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.quantizer = FSQ(c.levels, dim=c.code_dim)


class HumanVQVAE(nn.Module):
    """FSQ VQ-VAE over normalised 272-dim frames; all tensors batch-first, time on axis 1."""

    def __init__(self, config: VQVAEConfig | None = None):
        super().__init__()
        self.config = config or VQVAEConfig()
        self.vqvae = _Core(self.config)

    @property
    def quantizer(self) -> FSQ:
        return self.vqvae.quantizer

    def _latent(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"HumanVQVAE expects (B, T, {self.config.input_dim}) frames, got {tuple(x.shape)}")
        w = self.vqvae.decoder.model[0].weight
        return self.vqvae.encoder(x.to(w.dtype).transpose(1, 2)).transpose(1, 2)  # (B, N, code_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 272) normalised frames -> (B, T // 2^down_t) int64 token ids."""
        return self.vqvae.quantizer(self._latent(x))[1]

    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, N) token ids -> (B, N * 2^down_t, 272) normalised frames."""
        if ids.ndim != 2:
            raise ValueError(f"HumanVQVAE.decode expects (B, N) ids, got {tuple(ids.shape)}")
        z = self.vqvae.quantizer.dequantize(ids)  # (B, N, code_dim)
        w = self.vqvae.decoder.model[0].weight
        return self.vqvae.decoder(z.to(w.dtype).transpose(1, 2)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training: (B, T, 272) -> (reconstruction (B, T', 272), ids (B, T' / 2^down_t)),
        straight-through through the rounding. T' = T rounded down to a multiple of 2^down_t."""
        zq, ids = self.vqvae.quantizer(self._latent(x))
        rec = self.vqvae.decoder(zq.transpose(1, 2)).transpose(1, 2)
        return rec, ids
