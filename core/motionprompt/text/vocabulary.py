"""A model's own vocabulary: its training captions and their sentence embeddings, and the
nearest-caption rewrite of one action of a prompt (the light version of the release's LLM
rewrite, ``app.rewrite``).

A small model knows the words of its corpus and little else ("ambles", "trudges" are no walk to
the demo model), while its sentence encoder places "somebody ambles forward" near "a person walks
forward". So each action of a prompt may be replaced by the nearest training caption in the
encoder's sentence-embedding space (unit vectors; similarity = cosine), under these rules:

- only captions that name the same sides as the action are candidates: "left" / "right" /
  "both" in the action must be in the caption, and none of them that is not in the action (a
  sentence encoder hardly tells "left" from "right", and "with the left hand, ..." must stay
  left);
- an action whose nearest caption is at least ``keep`` similar (0.95) is already in the model's
  words and stays as written;
- one under ``threshold`` is too far for a rewrite: it stays as written, and the model will
  likely not do it (``CaptionMatch.far``);
- a count ("twice", "three times") or a duration ("for 4 seconds") of the action is left out of
  what is matched (``matched_text``) and carried over to the end of the caption, since the
  captions have none (matched with them, "walks for 4 seconds" lands on "... quickly").

The index is numpy only (``CaptionIndex.load`` reads an ``.npz`` of ``texts`` (N,) str,
``actions`` (N,) str and ``embeddings`` (N, D) float16/32, unit rows); the embeddings are made
by the model's text encoder (``TextEncoder.sentence_embeddings``), once, when the model is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CaptionIndex", "CaptionMatch", "DEFAULT_THRESHOLD", "DEFAULT_KEEP", "side_words", "carried_words",
           "matched_text"]

#: Below this cosine similarity no caption is near enough to stand for the action.
DEFAULT_THRESHOLD = 0.55
#: At or above it the action is already in the model's words.
DEFAULT_KEEP = 0.95

_SIDES = ("left", "right", "both")
_WORD = re.compile(r"[a-z]+")
_NUM = r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|a few|several)"
_CARRIED = re.compile(rf"\b(?:once|twice|{_NUM} times|for {_NUM} seconds?)\b", re.IGNORECASE)


def side_words(text: str) -> frozenset[str]:
    """The sides a text names: a subset of {"left", "right", "both"}."""
    return frozenset(w for w in _WORD.findall(text.lower()) if w in _SIDES)


def carried_words(text: str) -> list[str]:
    """The counts and durations of ``text`` a rewrite keeps ("twice", "for 4 seconds"), in order."""
    return [m.group(0) for m in _CARRIED.finditer(text)]


def matched_text(text: str) -> str:
    """``text`` as it is compared with the captions: without its counts and durations."""
    return re.sub(r"\s+([,.;:!?])", r"\1", " ".join(_CARRIED.sub(" ", text).split())) or text


@dataclass(frozen=True)
class CaptionMatch:
    """The nearest caption of one action.

    Attributes:
        text: the action as matched (as the model reads it: with its subject).
        caption: the nearest caption with the same sides ("" when none has them).
        action: that caption's action label (from the corpus).
        similarity: their cosine similarity in [-1, 1] (-1 when no caption has the sides).
        rewritten: what the model is given: the caption plus carried words, or ``text``.
        used: whether ``rewritten`` is the caption (False: kept, far, or rewrite off).
        far: the similarity is under the threshold: the model will likely not do the action.
    """

    text: str
    caption: str
    action: str
    similarity: float
    rewritten: str
    used: bool
    far: bool

    def record(self) -> dict:
        """JSON-ready, for a manifest."""
        return dict(text=self.text, caption=self.caption, action=self.action,
                    similarity=round(float(self.similarity), 4), used=self.used, far=self.far,
                    **({"rewritten": self.rewritten} if self.used else {}))


class CaptionIndex:
    """A model's training captions and their unit sentence embeddings (N, D)."""

    def __init__(self, texts, actions, embeddings, threshold: float = DEFAULT_THRESHOLD,
                 keep: float = DEFAULT_KEEP):
        self.texts = [str(t) for t in texts]
        self.actions = [str(a) for a in actions]
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or len(emb) != len(self.texts) or len(self.actions) != len(self.texts):
            raise ValueError(f"caption index: {len(self.texts)} texts, {len(self.actions)} actions and "
                             f"embeddings of shape {emb.shape} do not match")
        self.embeddings = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        self.threshold = float(threshold)
        self.keep = float(keep)
        sides = [side_words(t) for t in self.texts]
        self._by_sides = {s: np.flatnonzero([x == s for x in sides]) for s in set(sides)}

    @classmethod
    def load(cls, path, threshold: float = DEFAULT_THRESHOLD, keep: float = DEFAULT_KEEP) -> "CaptionIndex":
        """An index from an ``.npz`` (``texts``, ``actions``, ``embeddings``); ValueError naming the
        file when it is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as d:
                return cls(d["texts"], d["actions"], d["embeddings"], threshold=threshold, keep=keep)
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{path}: not a caption index (texts, actions, embeddings): {e}") from None

    def save(self, path) -> Path:
        """Write the index as ``.npz`` (embeddings in float16: 0.7 KB per caption at D = 384)."""
        from ..atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, texts=np.array(self.texts), actions=np.array(self.actions),
                                    embeddings=self.embeddings.astype(np.float16))
        return path

    def match(self, texts: list[str], embeddings: np.ndarray, rewrite: bool = True) -> list[CaptionMatch]:
        """The nearest caption of each text (see the module's rules).

        Args:
            texts: actions as the model reads them.
            embeddings: (len(texts), D) sentence embeddings (any norm) of their ``matched_text``.
            rewrite: False gives the matches (for the warnings) with every text kept as written.
        """
        q = np.asarray(embeddings, dtype=np.float32).reshape(len(texts), -1)
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        sims = q @ self.embeddings.T  # (n, N)
        out = []
        for i, text in enumerate(texts):
            rows = self._by_sides.get(side_words(text), np.empty(0, int))
            if len(rows) == 0:
                out.append(CaptionMatch(text, "", "", -1.0, text, False, True))
                continue
            j = int(rows[np.argmax(sims[i, rows])])
            s = float(sims[i, j])
            far = s < self.threshold
            use = rewrite and not far and s < self.keep
            caption = self.texts[j]
            extra = [w for w in carried_words(text) if w.lower() not in caption.lower()]
            new = " ".join([caption, *extra]) if use else text
            out.append(CaptionMatch(text, caption, self.actions[j], s, new, use, far))
        return out
