"""The T5 token ids the MotionMillion release feeds its text encoder, straight from ``spiece.model``.

The release loads flan-t5-xl's tokenizer with transformers 4.x ``T5Tokenizer`` (the slow,
sentencepiece one; ``legacy`` unset, so legacy mode). For a text that is::

    ids = concat(sp.encode(chunk) or [special id] for chunk in text split at special tokens)
    ids = ids[:max_length - 1]; ids += [</s>] unless ids already end with </s>

(``sp``: the folder's sentencepiece model; special tokens ``<pad>``, ``</s>``, ``<unk>`` and
``<extra_id_0..N-1>``, ``<extra_id_i>`` = piece count + N - 1 - i; ``max_length``: the folder's
``model_max_length``, 512 for flan-t5-xl). transformers 5 has no sentencepiece T5 tokenizer any
more: its ``T5Tokenizer`` is the *tokenizers* (fast) one, which splits at every Unicode space
before the model sees the text, so it gives other ids where sentencepiece's normaliser keeps
a character (U+0085, U+2028: unknown for sentencepiece, spaces for it), and it adds a second
``</s>`` to a text that ends in one; tests/test_t5_tokenizer.py compares both. This module gives the release's ids with the ``sentencepiece`` library alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

__all__ = ["T5SentencePieceTokenizer"]


class T5SentencePieceTokenizer:
    """``tok(texts, padding=True, truncation=True, return_tensors="pt")`` -> ``{"input_ids":
    (B, L) int64, "attention_mask": (B, L) int64}``, rows right-padded with ``<pad>``; the ids
    of transformers 4.x's slow ``T5Tokenizer`` (legacy mode), see the module docstring."""

    def __init__(self, folder):
        import sentencepiece

        folder = Path(folder)
        model = folder / "spiece.model"
        if not model.is_file():
            raise FileNotFoundError(f"{model} not found: a T5 folder carries its sentencepiece model as spiece.model")
        cfg = {}
        cfg_file = folder / "tokenizer_config.json"
        if cfg_file.is_file():
            cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(model))
        n = self.sp.get_piece_size()
        extra = int(cfg.get("extra_ids", 100))

        def piece(name, default):
            v = cfg.get(name, default)
            return v.get("content", default) if isinstance(v, dict) else str(v)

        self.pad_id = self.sp.piece_to_id(piece("pad_token", "<pad>"))
        self.eos_id = self.sp.piece_to_id(piece("eos_token", "</s>"))
        specials = {piece("pad_token", "<pad>"): self.pad_id, piece("eos_token", "</s>"): self.eos_id,
                    piece("unk_token", "<unk>"): self.sp.piece_to_id(piece("unk_token", "<unk>"))}
        specials.update({f"<extra_id_{i}>": n + extra - 1 - i for i in range(extra)})
        self.specials = specials
        # longest first, so that "<extra_id_10>" is never read as "<extra_id_1>" + "0>"
        self._split = re.compile("(" + "|".join(map(re.escape, sorted(specials, key=len, reverse=True))) + ")")
        limit = cfg.get("model_max_length", 512)
        self.model_max_length = int(limit) if isinstance(limit, (int, float)) and limit < 1e9 else 512
        self.vocab_size = n + extra

    def ids(self, text: str, max_length: int | None = None) -> list[int]:
        """One text's ids, ``</s>`` last; at most ``max_length`` (default ``model_max_length``)."""
        out: list[int] = []
        for chunk in self._split.split(text):
            if chunk in self.specials:
                out.append(self.specials[chunk])
            elif chunk:
                out += self.sp.encode(chunk)
        out = out[:(max_length or self.model_max_length) - 1]
        if not out or out[-1] != self.eos_id:
            out.append(self.eos_id)
        return out

    def __call__(self, texts, padding: bool = True, truncation: bool = True, return_tensors: str = "pt",
                 max_length: int | None = None) -> dict[str, torch.Tensor]:
        if isinstance(texts, str):
            texts = [texts]
        rows = [self.ids(t, max_length if truncation else 10**9) for t in texts]
        width = max(map(len, rows)) if rows else 0
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, :len(r)] = 1
        return {"input_ids": ids, "attention_mask": mask}
