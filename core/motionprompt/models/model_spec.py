"""Model descriptions: which text encoder, prefix-LM, VQ-VAE, weights and statistics make a model.

A description is a small TOML file; relative paths are relative to the file's folder::

    name = "motionmillion-3b"
    fps = 30

    [text_encoder]
    kind = "t5"                 # "t5" (flan-t5-xl / -xxl) or "minilm"
    path = "flan-t5-xl"         # a local folder; "minilm" may omit it (the packaged copy)
    max_tokens = 150
    pooling = "none"            # none / cls / mean / sum / mean+tokens / clauses+tokens / phrases+tokens

    [lm]
    preset = "3B"               # a prefix_lm.PRESETS name; any LMConfig field may follow
    checkpoint = "pretrained_models/motionmillion_3B_all.pth"

    [vqvae]
    preset = "released"         # a vqvae.VQVAE_PRESETS name; any VQVAEConfig field may follow
    checkpoint = "pretrained_models/fsq_net_6000000.pth"

    [normalization]             # optional: default = the shipped MotionMillion statistics
    mean = "mean.npy"
    std = "std.npy"

``vocab_size`` defaults to the VQ-VAE's code count + 2, ``clip_dim`` to the text encoder's width.

Built-in names: ``motionmillion-3b`` and ``motionmillion-7b`` look for the release's own
``checkpoints/`` layout (``checkpoints/flan-t5-xl`` or the Hugging Face cache the release's
script reads, ``checkpoints/models--google--flan-t5-xl/snapshots/<hash>/``, see
``hf_folders``; ``checkpoints/pretrained_models/...``) under ``$MOTIONPROMPT_CHECKPOINTS``
(default: ``./checkpoints``); ``demo`` is the small model shipped in
``motionprompt/data/demo/model.toml``. A T5 ``path`` may also be a Hugging Face cache folder.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .configs import VQVAE_PRESETS, LMConfig, VQVAEConfig

__all__ = ["ModelSpec", "ModelSpecError", "BUILTIN", "DEMO_SPEC", "TEXT_DIMS", "resolve_spec"]

DEMO_SPEC = Path(__file__).resolve().parents[1] / "data" / "demo" / "model.toml"
TEXT_DIMS = {"t5": 2048, "flan-t5-xl": 2048, "flan-t5-xxl": 4096, "minilm": 384}


class ModelSpecError(ValueError):
    """A model description that cannot be used; the message names the file and the fix."""


def _released(preset: str, lm_file: str) -> str:
    return f"""
name = "motionmillion-{preset.lower()}"
fps = 30
[text_encoder]
kind = "t5"
path = "flan-t5-xl"
max_tokens = 150
pooling = "none"
[lm]
preset = "{preset}"
block_size = 301
checkpoint = "pretrained_models/{lm_file}"
[vqvae]
preset = "released"
checkpoint = "pretrained_models/fsq_net_6000000.pth"
"""


BUILTIN = {
    "motionmillion-3b": _released("3B", "motionmillion_3B_all.pth"),
    "motionmillion-7b": _released("7B", "motionmillion_7B_all.pth"),
}


@dataclass
class ModelSpec:
    """A resolved model description (absolute paths, full configs)."""

    name: str
    text_encoder: dict  # kind, path (Path | None), max_tokens, pooling
    lm: LMConfig
    lm_checkpoint: Path | None
    vqvae: VQVAEConfig
    vqvae_checkpoint: Path | None
    mean: Path | None = None
    std: Path | None = None
    fps: float = 30.0
    source: Path | None = None  # the TOML file, or None for a built-in
    extra: dict = field(default_factory=dict)

    # -------------------------------------------------------------- reading
    @classmethod
    def load(cls, name_or_path) -> "ModelSpec":
        """A built-in name (``motionmillion-3b``, ``motionmillion-7b``, ``demo``) or a TOML path."""
        key = str(name_or_path)
        if key == "demo":
            if not DEMO_SPEC.is_file():
                raise ModelSpecError(f"the demo model is not installed ({DEMO_SPEC} is missing); "
                                     f"reinstall motionprompt or pass --model FILE.toml")
            return cls.from_toml(DEMO_SPEC)
        if key.lower() in BUILTIN:
            root = Path(os.environ.get("MOTIONPROMPT_CHECKPOINTS", "checkpoints")).expanduser().resolve()
            return cls.from_dict(tomllib.loads(BUILTIN[key.lower()]), base=root, source=None)
        path = Path(key).expanduser()
        if not path.is_file():
            raise ModelSpecError(f"model {key!r}: neither a built-in name ({', '.join([*BUILTIN, 'demo'])}) "
                                 f"nor an existing .toml file")
        return cls.from_toml(path)

    @classmethod
    def from_toml(cls, path) -> "ModelSpec":
        path = Path(path).resolve()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ModelSpecError(f"{path}: not valid TOML ({e})") from e
        return cls.from_dict(data, base=path.parent, source=path)

    @classmethod
    def from_dict(cls, data: dict, base: Path, source: Path | None = None) -> "ModelSpec":
        where = str(source) if source else f"built-in model {data.get('name', '?')!r}"

        def path_of(value):
            if value in (None, ""):
                return None
            p = Path(str(value)).expanduser()
            return p if p.is_absolute() else (base / p)

        def section(name):
            s = data.get(name, {})
            if not isinstance(s, dict):
                raise ModelSpecError(f"{where}: [{name}] must be a table")
            return dict(s)

        te = section("text_encoder")
        kind = str(te.pop("kind", "t5")).lower()
        if kind not in TEXT_DIMS:
            raise ModelSpecError(f"{where}: [text_encoder] kind {kind!r} unknown; use one of {', '.join(TEXT_DIMS)}")
        text = dict(kind=kind, path=path_of(te.pop("path", None)), max_tokens=int(te.pop("max_tokens", 150)),
                    pooling=str(te.pop("pooling", "none")))
        if kind != "minilm" and text["path"] is None:
            raise ModelSpecError(f"{where}: [text_encoder] kind {kind!r} needs a local 'path'")

        vq = section("vqvae")
        vq_ckpt = path_of(vq.pop("checkpoint", None))
        vq_preset = vq.pop("preset", "released")
        if vq_preset not in VQVAE_PRESETS:
            raise ModelSpecError(f"{where}: [vqvae] preset {vq_preset!r} unknown; use one of {', '.join(VQVAE_PRESETS)}")
        try:
            vq_cfg = VQVAEConfig(**{**VQVAE_PRESETS[vq_preset], **vq})
        except TypeError as e:
            raise ModelSpecError(f"{where}: [vqvae] {e}") from e

        lm = section("lm")
        lm_ckpt = path_of(lm.pop("checkpoint", None))
        preset = lm.pop("preset", None)
        lm.setdefault("vocab_size", vq_cfg.nb_code + 2)
        lm.setdefault("clip_dim", TEXT_DIMS[kind])
        try:
            lm_cfg = LMConfig.from_preset(preset, **lm) if preset else LMConfig(**lm)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelSpecError(f"{where}: [lm] {e}") from e
        if lm_cfg.nb_code != vq_cfg.nb_code:
            raise ModelSpecError(f"{where}: [lm] vocab_size {lm_cfg.vocab_size} does not match the VQ-VAE's "
                                 f"{vq_cfg.nb_code} codes (+2 for END and PAD)")

        norm = section("normalization")
        known = {"name", "fps", "text_encoder", "lm", "vqvae", "normalization"}
        return cls(name=str(data.get("name", source.stem if source else "model")), text_encoder=text,
                   lm=lm_cfg, lm_checkpoint=lm_ckpt, vqvae=vq_cfg, vqvae_checkpoint=vq_ckpt,
                   mean=path_of(norm.get("mean")), std=path_of(norm.get("std")),
                   fps=float(data.get("fps", 30.0)), source=source,
                   extra={k: v for k, v in data.items() if k not in known})

    def replace(self, **changes) -> "ModelSpec":
        return replace(self, **changes)

    @property
    def max_seconds(self) -> float:
        """The longest motion the prefix-LM's positions hold: ``block_size`` less one text
        token, in motion tokens, as seconds (the release's 3B / 7B: 20 s; the demo: 12 s)."""
        return (self.lm.block_size - 1) * self.vqvae.frames_per_token / self.fps

    def with_overrides(self, lm_checkpoint=None, vqvae_checkpoint=None, text_encoder_kind: str | None = None,
                       text_encoder_path=None, lm_preset: str | None = None) -> "ModelSpec":
        """This spec with the release's command-line overrides (``--resume-trans``,
        ``--resume-pth``, ``--text_encode``, ``--text-encoder-path``, ``--pretrained_llama``).
        A new text encoder kind sets ``clip_dim`` to its width; a new preset keeps the
        vocabulary, text width and block size."""
        spec = self
        if lm_checkpoint:
            spec = spec.replace(lm_checkpoint=Path(lm_checkpoint).expanduser().resolve())
        if vqvae_checkpoint:
            spec = spec.replace(vqvae_checkpoint=Path(vqvae_checkpoint).expanduser().resolve())
        if text_encoder_kind or text_encoder_path:
            te = dict(spec.text_encoder)
            if text_encoder_kind:
                if text_encoder_kind not in TEXT_DIMS:
                    raise ModelSpecError(f"text encoder {text_encoder_kind!r} unknown; use one of {', '.join(TEXT_DIMS)}")
                te["kind"] = text_encoder_kind
            if text_encoder_path:
                te["path"] = Path(text_encoder_path).expanduser().resolve()
            spec = spec.replace(text_encoder=te, lm=spec.lm.replace(clip_dim=TEXT_DIMS[te["kind"]]))
        if lm_preset:
            c = spec.lm
            try:
                lm = LMConfig.from_preset(lm_preset, vocab_size=c.vocab_size, clip_dim=c.clip_dim,
                                          block_size=c.block_size)
            except KeyError as e:
                raise ModelSpecError(str(e).strip("'\"")) from None
            spec = spec.replace(lm=lm)
        return spec

    # -------------------------------------------------------------- writing
    def to_toml(self, base: Path | None = None) -> str:
        """TOML text of this description; paths under ``base`` are written relative to it."""

        def rel(p):
            if p is None:
                return None
            p = Path(p)
            if base is not None:
                try:
                    return p.resolve().relative_to(Path(base).resolve()).as_posix()
                except ValueError:
                    pass
            return str(p)

        default_lm = LMConfig()
        lm = {k: v for k, v in self.lm.to_dict().items() if v != getattr(default_lm, k)
              or k in ("n_layer", "n_head", "n_embd", "vocab_size", "clip_dim")}
        vq = self.vqvae.to_dict()
        tables = {
            "text_encoder": {"kind": self.text_encoder["kind"], "path": rel(self.text_encoder.get("path")),
                             "max_tokens": self.text_encoder.get("max_tokens", 150),
                             "pooling": self.text_encoder.get("pooling", "none")},
            "lm": {**lm, "checkpoint": rel(self.lm_checkpoint)},
            "vqvae": {**vq, "checkpoint": rel(self.vqvae_checkpoint)},
            "normalization": {"mean": rel(self.mean), "std": rel(self.std)},
        }
        lines = [f"name = {_toml_value(self.name)}", f"fps = {_toml_value(self.fps)}"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in self.extra.items() if not isinstance(v, dict)]
        for table, values in tables.items():
            lines.append(f"\n[{table}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
        return "\n".join(lines) + "\n"

    def write(self, path) -> Path:
        """Write the TOML beside its weights (paths relative to the file's folder), atomically."""
        from ..atomic import atomic_path

        path = Path(path)
        text = self.to_toml(base=path.parent)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        return path


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def resolve_spec(spec_or_name) -> ModelSpec:
    """A ``ModelSpec`` from itself, a built-in name or a TOML path."""
    return spec_or_name if isinstance(spec_or_name, ModelSpec) else ModelSpec.load(spec_or_name)
