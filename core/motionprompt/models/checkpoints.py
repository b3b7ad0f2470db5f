"""Reading and writing model weights: safe formats only, strict loads, clear mismatch errors.

A checkpoint is read with ``torch.load(..., weights_only=True)`` (tensors and plain containers,
never code) or as ``.safetensors``. Released MotionMillion files hold the prefix-LM under
``'trans'`` and the VQ-VAE under ``'net'``; keys may carry ``module.`` prefixes (DDP), which are
stripped. Loading is strict: on any mismatch the error lists the first missing / unexpected keys
and shape clashes and, when the file's shapes match a known preset, names it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
import torch.nn as nn

from .configs import PRESETS, LMConfig, VQVAEConfig
from .prefix_lm import PrefixLM
from .vqvae import HumanVQVAE

__all__ = ["CheckpointError", "read_state_dict", "load_strict", "load_prefix_lm", "load_vqvae",
           "save_state_dict", "infer_lm_config", "SUBDICT_KEYS"]

SUBDICT_KEYS = {"lm": "trans", "vqvae": "net"}
_SHOW = 5


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


def _strip_prefix(state: dict) -> dict:
    out = {}
    for k, v in state.items():
        while k.startswith("module."):
            k = k[len("module."):]
        out[k] = v
    return out


def read_state_dict(path, key: str | None = None) -> dict[str, torch.Tensor]:
    """A flat ``name -> tensor`` dict from a checkpoint file.

    Args:
        path: ``.safetensors`` or a ``torch.save`` file (read with ``weights_only=True``).
        key: the sub-dict to take (``'trans'``, ``'net'``) when the file holds several; a file
            that is already flat is returned as it is.
    Raises:
        CheckpointError naming the file: missing, unreadable, would need code execution, or no
        ``key`` sub-dict.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found: check the path in the model description (TOML) "
                              f"or the --resume-trans / --resume-pth flags")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            obj = load_file(str(path))
        except Exception as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
    else:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:
            try:  # old (non-zip) serialisation cannot be memory-mapped
                obj = torch.load(str(path), map_location="cpu", weights_only=True)
            except Exception as e:
                raise CheckpointError(_unsafe_message(path, e)) from e
        except Exception as e:
            raise CheckpointError(_unsafe_message(path, e)) from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    if key is not None and isinstance(obj.get(key), dict):
        obj = obj[key]
    elif key is not None and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        subs = [k for k, v in obj.items() if isinstance(v, dict)]
        raise CheckpointError(f"{path}: no {key!r} weights in this file (its sub-dicts: {', '.join(subs) or 'none'}); "
                              f"the prefix-LM lives under 'trans', the VQ-VAE under 'net'")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: no tensors found")
    return _strip_prefix(tensors)


def _unsafe_message(path: Path, e: Exception) -> str:
    first = (str(e).splitlines() or [""])[0][:200]
    if "Weights only load failed" in first:
        first = "it holds Python objects besides tensors"
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:
        names = []
    found = f" It refers to: {', '.join(names[:6])}." if names else ""
    return (f"{path}: cannot be read as plain tensors ({type(e).__name__}: {first}).{found} "
            f"motionprompt never unpickles code from checkpoints; if you trust the file, re-save just its "
            f"weights (torch.save({{'trans': ckpt['trans']}}) / .safetensors) and load that")


def _mismatch(model: nn.Module, state: dict) -> tuple[list, list, list]:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    clashes = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in own
               if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    return missing, unexpected, clashes


def _first(items, n=_SHOW) -> str:
    items = list(items)
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(map(str, items[:n])) + more


def load_strict(model: nn.Module, state: dict, path, what: str, hint: str = "") -> nn.Module:
    """``model.load_state_dict(state, strict=True)`` with a short, useful error on mismatch."""
    missing, unexpected, clashes = _mismatch(model, state)
    if missing or unexpected or clashes:
        lines = [f"{path}: the {what} weights do not fit the configured model"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {_first(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {_first(unexpected)}")
        if clashes:
            lines.append(f"  shape clashes ({len(clashes)}): " +
                         _first(f"{k} file {a} vs model {b}" for k, a, b in clashes))
        if hint:
            lines.append("  " + hint)
        raise CheckpointError("\n".join(lines))
    broken = [k for k, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if broken:  # a NaN weight would give NaN logits: END at once and a 2-frame "motion"
        raise CheckpointError(f"{path}: the {what} weights hold NaN or infinite values ({len(broken)} tensor(s): "
                              f"{_first(broken)}); the checkpoint is damaged: download or export it again")
    meta = any(t.is_meta for t in model.state_dict().values())
    model.load_state_dict(state, strict=True, assign=meta)
    return model


# ---------------------------------------------------------------------- prefix-LM
def infer_lm_config(state: dict) -> dict:
    """Shape facts read from a prefix-LM state dict: n_layer, n_embd, vocab_size, clip_dim,
    mlp_hidden, and ``preset`` (the PRESETS name with that depth and width, or None)."""
    facts: dict = {}
    if "transformer.wte.weight" in state:
        facts["vocab_size"], facts["n_embd"] = map(int, state["transformer.wte.weight"].shape)
    if "llama_proj.weight" in state:
        facts["clip_dim"] = int(state["llama_proj.weight"].shape[1])
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"transformer\.h\.(\d+)\.", k))}
    facts["n_layer"] = len(blocks)
    if "transformer.h.0.mlp.c_fc1.weight" in state:
        facts["mlp_hidden"] = int(state["transformer.h.0.mlp.c_fc1.weight"].shape[0])
    facts["preset"] = next((name for name, p in PRESETS.items()
                            if p["n_layer"] == facts["n_layer"] and p["n_embd"] == facts.get("n_embd")), None)
    return facts


def _lm_hint(state: dict, config: LMConfig) -> str:
    f = infer_lm_config(state)
    desc = (f"the file has {f['n_layer']} blocks, n_embd {f.get('n_embd')}, vocab {f.get('vocab_size')} "
            f"(nb_code {f.get('vocab_size', 2) - 2}), clip_dim {f.get('clip_dim')}")
    if f["preset"] and f["preset"] != config.preset_name():
        return f"{desc}: it fits preset {f['preset']!r} (set [lm] preset = \"{f['preset']}\")"
    if f.get("clip_dim") and f["clip_dim"] != config.clip_dim:
        return f"{desc}: its text features are {f['clip_dim']}-wide (check the text encoder / [lm] clip_dim)"
    return desc


def load_prefix_lm(path, config: LMConfig) -> PrefixLM:
    """A ``PrefixLM`` with ``config`` and the weights of ``path`` (sub-dict ``'trans'``), strict.
    Large models are built on the meta device and filled by assignment: no second copy of
    their weights. Small ones are built directly: a meta-device context routes parameter
    initialisation through torch._refs, whose first use imports torch._dynamo (~1.6 s of a
    small model's cold start)."""
    state = read_state_dict(path, SUBDICT_KEYS["lm"])
    approx_params = 12 * config.n_layer * config.n_embd ** 2 + 2 * config.vocab_size * config.n_embd
    if approx_params < 200_000_000:
        model = PrefixLM(config)
    else:
        with torch.device("meta"):
            model = PrefixLM(config)
    return load_strict(model, state, path, "prefix-LM", _lm_hint(state, config)).eval()


# ---------------------------------------------------------------------- VQ-VAE
def _vq_hint(state: dict) -> str:
    w = state.get("vqvae.encoder.model.1.weight", state.get("vqvae.encoder.model.0.weight"))
    proj = state.get("vqvae.quantizer.project_in.weight")
    patcher = "vqvae.encoder.model.0.wavelets" in state
    parts = []
    if w is not None and w.ndim == 3:
        parts.append(f"width {w.shape[0]}, input {w.shape[1]}")
    if proj is not None:
        parts.append(f"code_dim {proj.shape[1]}, {proj.shape[0]} FSQ levels")
    parts.append("patcher buffers present" if patcher else "no patcher (set use_patcher = false)")
    return "the file has " + ", ".join(parts)


def load_vqvae(path, config: VQVAEConfig) -> HumanVQVAE:
    """A ``HumanVQVAE`` with ``config`` and the weights of ``path`` (sub-dict ``'net'``), strict."""
    state = read_state_dict(path, SUBDICT_KEYS["vqvae"])
    model = HumanVQVAE(config)
    return load_strict(model, state, path, "VQ-VAE", _vq_hint(state)).eval()


# ---------------------------------------------------------------------- writing
def save_state_dict(module_or_state, path, metadata: dict | None = None) -> Path:
    """Write weights atomically: ``.safetensors`` (flat; ``metadata`` stored as JSON strings) or,
    for any other suffix, ``torch.save`` of the plain state dict. Returns the path."""
    from ..atomic import atomic_path

    state = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else dict(module_or_state)
    state = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
            save_file(state, str(tmp), metadata=meta)
        else:
            torch.save(state, str(tmp))
    return path
