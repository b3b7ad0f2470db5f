"""A compact BERT encoder (the MiniLM sentence encoders) that loads a Hugging Face folder directly.

Why not ``transformers.AutoModel``: with transformers 5, importing its BERT modelling code pulls in
torch._dynamo, torch.distributed.tensor and scipy.optimize and costs ~2.5 s on a 2-core CPU —
half of the demo's cold-start budget for a 22M-parameter, 6-layer encoder. The maths is small and
standard (post-norm BERT), the tokenizer is the ``tokenizers`` library reading the folder's
``tokenizer.json``, and a test checks the features against ``transformers`` to 1e-5.

Reads ``config.json`` (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
layer_norm_eps, hidden_act gelu) and ``model.safetensors`` with the standard BertModel keys.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BertEncoder", "load_bert_folder"]


class _Layer(nn.Module):
    def __init__(self, n: int, n_head: int, inner: int, eps: float):
        super().__init__()
        self.n_head = n_head
        self.query, self.key, self.value = nn.Linear(n, n), nn.Linear(n, n), nn.Linear(n, n)
        self.attn_out, self.attn_norm = nn.Linear(n, n), nn.LayerNorm(n, eps=eps)
        self.inner, self.out, self.out_norm = nn.Linear(n, inner), nn.Linear(inner, n), nn.LayerNorm(n, eps=eps)

    def forward(self, h: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        B, L, n = h.shape
        hs = n // self.n_head

        def heads(x):
            return x.view(B, L, self.n_head, hs).transpose(1, 2)  # (B, nh, L, hs)

        q, k, v = heads(self.query(h)), heads(self.key(h)), heads(self.value(h))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs) + key_bias  # (B, nh, L, L)
        ctx = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, L, n)  # (B, L, n)
        h = self.attn_norm(h + self.attn_out(ctx))
        return self.out_norm(h + self.out(F.gelu(self.inner(h))))


class BertEncoder(nn.Module):
    """BERT encoder stack: embeddings (word + position + token type 0) then post-norm layers.

    ``forward(input_ids (B, L) int64, attention_mask (B, L) 0/1) -> (B, L, hidden)``: the
    ``last_hidden_state`` of ``transformers.BertModel`` (no pooler).
    """

    def __init__(self, vocab: int, n: int, n_layer: int, n_head: int, inner: int, max_pos: int,
                 type_vocab: int, eps: float):
        super().__init__()
        self.word = nn.Embedding(vocab, n)
        self.pos = nn.Embedding(max_pos, n)
        self.token_type = nn.Embedding(type_vocab, n)
        self.emb_norm = nn.LayerNorm(n, eps=eps)
        self.layers = nn.ModuleList(_Layer(n, n_head, inner, eps) for _ in range(n_layer))
        self.hidden_size = n

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        L = input_ids.shape[1]
        h = self.word(input_ids) + self.pos.weight[:L] + self.token_type.weight[0]
        h = self.emb_norm(h)
        # pad keys get a large negative bias (as BertModel's extended mask: dtype min)
        key_bias = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.layers:
            h = layer(h, key_bias)
        return h

    def load_hf_state_dict(self, sd: dict) -> None:
        """Load a ``BertModel`` state dict (standard key names; the pooler is ignored); strict."""
        names = {"word.weight": "embeddings.word_embeddings.weight",
                 "pos.weight": "embeddings.position_embeddings.weight",
                 "token_type.weight": "embeddings.token_type_embeddings.weight",
                 "emb_norm.weight": "embeddings.LayerNorm.weight", "emb_norm.bias": "embeddings.LayerNorm.bias"}
        per_layer = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
                     "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
                     "inner": "intermediate.dense", "out": "output.dense", "out_norm": "output.LayerNorm"}
        for i in range(len(self.layers)):
            for ours, theirs in per_layer.items():
                for p in ("weight", "bias"):
                    names[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
        prefix = "bert." if any(k.startswith("bert.") for k in sd) else ""
        missing = [v for v in names.values() if prefix + v not in sd]
        if missing:
            raise KeyError(f"BERT weights lack {len(missing)} tensors, e.g. {', '.join(missing[:3])}")
        self.load_state_dict({k: sd[prefix + v] for k, v in names.items()}, strict=True)


def load_bert_folder(folder) -> tuple[BertEncoder, "tokenizers.Tokenizer"]:  # noqa: F821
    """A BERT encoder and its fast tokenizer from a Hugging Face folder (config.json,
    model.safetensors, tokenizer.json). Raises FileNotFoundError naming what is missing."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    folder = Path(folder)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found: a BERT text encoder folder needs config.json, "
                                    "model.safetensors and tokenizer.json")
    cfg = json.loads((folder / "config.json").read_text())
    if cfg.get("model_type", "bert") != "bert" or cfg.get("hidden_act", "gelu") != "gelu" or \
            cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"{folder / 'config.json'}: only plain BERT encoders (gelu, absolute positions) are supported")
    model = BertEncoder(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                        cfg["intermediate_size"], cfg["max_position_embeddings"], cfg.get("type_vocab_size", 2),
                        cfg.get("layer_norm_eps", 1e-12))
    model.load_hf_state_dict(load_file(str(folder / "model.safetensors")))
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return model.eval().requires_grad_(False), tok
