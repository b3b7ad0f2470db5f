"""The shapes of the model stack as plain data (no torch): the prefix-LM's ``LMConfig`` and its
size presets, the VQ-VAE's ``VQVAEConfig`` and its presets, the released FSQ levels. Model specs
read and validate them without loading torch; the modules in torch build from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

__all__ = ["LMConfig", "PRESETS", "RELEASED_NB_CODE", "mlp_hidden_width", "VQVAEConfig", "VQVAE_PRESETS",
           "RELEASED_LEVELS"]

#: MotionMillion's FSQ levels: 8 * 8 * 8 * 5 * 5 * 5 = 64000 codes.
RELEASED_LEVELS = (8, 8, 8, 5, 5, 5)

# name -> LMConfig fields (n_layer, n_head, n_embd; small ones also a finer MLP rounding).
# The released sizes (44M .. 65B) and small ones for tests, benchmarks and the demo model.
PRESETS: dict[str, dict[str, int]] = {
    "44M": dict(n_layer=8, n_head=8, n_embd=512),
    "111M": dict(n_layer=12, n_head=12, n_embd=768),
    "343M": dict(n_layer=24, n_head=16, n_embd=1024),
    "775M": dict(n_layer=36, n_head=20, n_embd=1280),
    "1B": dict(n_layer=48, n_head=24, n_embd=1536),
    "3B": dict(n_layer=24, n_head=32, n_embd=3200),
    "5B": dict(n_layer=24, n_head=32, n_embd=4096),
    "6B": dict(n_layer=28, n_head=32, n_embd=4096),
    "7B": dict(n_layer=36, n_head=32, n_embd=4096),
    "13B": dict(n_layer=40, n_head=40, n_embd=5120),
    "30B": dict(n_layer=60, n_head=52, n_embd=6656),
    "65B": dict(n_layer=80, n_head=64, n_embd=8192),
    # small, not released: unit tests, CPU benchmarks, the shipped demo model
    "tiny": dict(n_layer=2, n_head=2, n_embd=32, mlp_multiple_of=32),
    "mini": dict(n_layer=4, n_head=4, n_embd=128, mlp_multiple_of=32),
    "small": dict(n_layer=6, n_head=6, n_embd=384, mlp_multiple_of=32),
}

RELEASED_NB_CODE = 64000  # FSQ levels [8, 8, 8, 5, 5, 5]


def mlp_hidden_width(n_embd: int, multiple_of: int = 256) -> int:
    """SwiGLU hidden width: int(2 * 4n / 3) rounded UP to a multiple of ``multiple_of``
    (3B: 8704, 7B: 11008)."""
    h = int(2 * 4 * n_embd / 3)
    return -(-h // multiple_of) * multiple_of


@dataclass(frozen=True)
class LMConfig:
    """Shape of a prefix-LM. Defaults: the released inference settings of the 44M size.

    ``vocab_size = nb_code + 2`` (codes, END, PAD); ``clip_dim`` is the text feature width
    (flan-t5-xl: 2048; MiniLM: 384); ``block_size`` is the longest sequence (text + motion) the
    model was trained for (301 in the release); positions beyond it still work (RoPE is computed
    on the fly) but leave the training distribution.
    """

    n_layer: int = 8
    n_head: int = 8
    n_embd: int = 512
    vocab_size: int = RELEASED_NB_CODE + 2
    block_size: int = 301
    clip_dim: int = 2048
    mlp_multiple_of: int = 256
    norm_eps: float = 1e-5
    rope_base: float = 10000.0

    def __post_init__(self):
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError(f"LMConfig: n_embd {self.n_embd} must split into {self.n_head} heads of even width")
        if self.vocab_size < 3:
            raise ValueError(f"LMConfig: vocab_size {self.vocab_size} must hold codes, END and PAD")

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "LMConfig":
        """A config from a ``PRESETS`` name (e.g. "3B", "tiny") with field overrides."""
        if name not in PRESETS:
            raise KeyError(f"unknown prefix-LM preset {name!r}; choose from {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes) -> "LMConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def nb_code(self) -> int:
        return self.vocab_size - 2

    @property
    def end_id(self) -> int:
        return self.vocab_size - 2

    @property
    def pad_id(self) -> int:
        return self.vocab_size - 1

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def mlp_hidden(self) -> int:
        return mlp_hidden_width(self.n_embd, self.mlp_multiple_of)

    def preset_name(self) -> str | None:
        """The ``PRESETS`` name with these (n_layer, n_head, n_embd), if any."""
        for name, p in PRESETS.items():
            if (p["n_layer"], p["n_head"], p["n_embd"]) == (self.n_layer, self.n_head, self.n_embd):
                return name
        return None


@dataclass(frozen=True)
class VQVAEConfig:
    """Shape of the FSQ VQ-VAE (defaults: the released one, about 11M parameters)."""

    input_dim: int = 272
    width: int = 512
    code_dim: int = 512  # output_emb_width
    down_t: int = 1
    depth: int = 3
    dilation_growth_rate: int = 3
    kernel_size: int = 3
    norm: str | None = "LN"  # "LN" or None
    levels: tuple = field(default=RELEASED_LEVELS)
    use_patcher: bool = True

    def __post_init__(self):
        object.__setattr__(self, "levels", tuple(int(x) for x in self.levels))
        if isinstance(self.norm, str) and self.norm.lower() in ("none", ""):
            object.__setattr__(self, "norm", None)  # TOML has no null
        if self.norm not in ("LN", None):
            raise ValueError(f"VQVAEConfig.norm must be 'LN' or None, got {self.norm!r}")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"VQVAEConfig.kernel_size must be odd, got {self.kernel_size}")

    @property
    def frames_per_token(self) -> int:
        return 2 ** self.down_t

    @property
    def nb_code(self) -> int:
        n = 1
        for x in self.levels:
            n *= x
        return n

    def to_dict(self) -> dict:
        d = asdict(self)
        d["levels"] = list(self.levels)
        d["norm"] = self.norm or "none"
        return d


VQVAE_PRESETS: dict[str, dict] = {
    "released": {},
    # small tokenizers for tests and the demo model (5 * 5 * 4 * 4 = 400 codes)
    "tiny": dict(width=32, code_dim=32, depth=1, levels=(5, 5, 4, 4)),
    "small": dict(width=128, code_dim=128, depth=2, levels=(8, 5, 5, 5)),
}
