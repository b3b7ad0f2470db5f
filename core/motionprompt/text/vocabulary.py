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
- an action whose nearest caption is at least ``keep`` similar (0.95, the whole of it) is
  already in the model's words and stays as written (not when only its subject differs from
  the captions': then it is given as the caption);
- one under ``threshold`` is too far for a rewrite: it stays as written, and the model will
  likely not do it (``CaptionMatch.far``);
- a count ("twice", "three times") or a duration ("for 4 seconds") of the action is left out of
  what is matched (``matched_text``) and carried over to the end of the caption, since the
  captions have none (matched with them, "walks for 4 seconds" lands on "... quickly");
- the action is matched with the captions' own subject ("a tired woman trudges ahead" is
  compared as "a person trudges ahead": a subject the captions never have pulls toward the
  wrong ones), and twice (``focus_texts``): whole, and as its core, the subject with the verb
  phrase up to the first adjunct ("at an easy pace", "along the street", "to greet the
  audience", "and ..."), so the verb counts more than the circumstances; the similarity is
  ``CORE_WEIGHT`` of the core's and the rest of the whole's;
- among the captions of the nearest one's action within ``RELIABLE_MARGIN`` of its similarity,
  the one the model does most reliably is given (``reliability``: per caption, the share of
  seeds whose motion is recognised as its action, measured by the tools that write the index;
  ``RELIABILITY_WEIGHT`` similarity per unit of it), so a rare wording of a known action
  ("dashes forward") gives way to a plain one the model follows;
- an action of things done at once ("while walking, the man waves", "he claps while
  jumping": ``action_parts``) whose parts are nearest captions of different actions keeps
  them all: its main clause is given as its caption, first, the other parts as written after it.

Words of an action beyond what the model was trained on are said in a warning
(``CaptionIndex.unknown_words``): a caption can be near while a key word is unknown ("the
character jogs in a circle" is near "a person jogs in place"). Those are the content words (not
``_FUNCTION_WORDS``, numbers or the subject; compared by a crude stem, ``word_stem``: "waving" =
"waves") in no training prompt of any action, when the caption does not stand for them (the
action without the word's phrase comes more than ``COVER_MARGIN`` nearer the caption: "in a
circle" counts, "round" in "gives a round of applause" -> "a person is clapping" does not), and a
count or duration its action was never trained with ("spins twice": the turns have no counts).
A rewritten action's verb is what the caption stands for and is not said again; an action warned
as far is not warned twice.

The index is numpy only (``CaptionIndex.load`` reads an ``.npz`` of ``texts`` (N,) str,
``actions`` (N,) str, ``embeddings`` (N, D) float16/32, unit rows, and optionally
``reliability`` (N,) float in [0, 1], else all 1, and ``words`` / ``word_actions`` (M,) str: the
words of the training prompts and the action each goes with, "" for any, else the captions'
own words); the embeddings are made
by the model's text encoder (``TextEncoder.sentence_embeddings``), once, when the model is built.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .segments import LEADING_MODIFIER, verb_like

__all__ = ["CaptionIndex", "CaptionMatch", "DEFAULT_THRESHOLD", "DEFAULT_KEEP", "side_words", "carried_words",
           "matched_text", "focus_texts", "action_parts", "word_stem", "CORE_WEIGHT", "RELIABLE_MARGIN",
           "RELIABILITY_WEIGHT", "COVER_MARGIN"]

#: Below this cosine similarity no caption is near enough to stand for the action.
DEFAULT_THRESHOLD = 0.55
#: At or above it the action is already in the model's words.
DEFAULT_KEEP = 0.95
#: Share of an action's similarity that comes from its core (subject and verb phrase).
CORE_WEIGHT = 0.5
#: How far under the nearest caption's similarity a more reliable caption of its action may be.
RELIABLE_MARGIN = 0.08
#: Similarity one unit of reliability is worth when choosing among those captions.
RELIABILITY_WEIGHT = 0.2
#: How much nearer its caption an action must come without an unknown word for the word to be
#: said unknown (``CaptionIndex.unknown_words``): nearer, the caption does not stand for it.
COVER_MARGIN = 0.1

_SIDES = ("left", "right", "both")
_WORD = re.compile(r"[a-z]+")
_WORD_OR_NUMBER = re.compile(r"[a-z]+(?:['-][a-z]+)*|\d+(?:\.\d+)?")
_NUM = r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|a few|several)"
_CARRIED = re.compile(rf"\b(?:once|twice|{_NUM} times|for {_NUM} seconds?)\b", re.IGNORECASE)


# Words that say nothing the motion shows by themselves: articles, pronouns, prepositions,
# auxiliaries, conjunctions, quantifiers (numbers are left out separately).
_FUNCTION_WORDS = frozenset("""a an the this that these those some any each every all both either neither one ones
he she they it him her them his hers its their theirs i me my we us our you your someone somebody something anyone
anybody everyone everybody person people who whom whose which what there here
is are was were be been being am do does did doing has have had having can could will would shall should may might
must and or but nor so then than as if when while until after before because though although
of in on at to from by with without into onto over under above below across along around through toward towards
about against among between beyond during near off out up down upon via per within behind beside past
not no very just also again too much many more most few several lot lots times time once twice thrice
two three four five six seven eight nine ten half""".split())
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def word_stem(word: str) -> str:
    """A crude stem, so that inflections of a known word count as known: "waving", "waves",
    "waved" -> "wav"; "jogging" -> "jog"; "circles", "circle" -> "circl"."""
    w = word.lower().strip("'")
    w = w[:-2] if w.endswith("'s") else w
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[:-len(suffix)]
            if suffix in ("ing", "ed") and len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiousl":
                w = w[:-1]  # "jogging" -> "jogg" -> "jog"
            break
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


# Words that open an adjunct (where, how, why, what else) after the verb phrase.
_ADJUNCT = frozenset("at along across through toward towards to into onto around over under past by near from like "
                     "as while until after before beside behind within without with and then but so".split())


def _verb_phrase(text: str, subject: str | None) -> tuple[list[str], int, int | None, int]:
    """(words, start, verb, end) of ``matched_text(text)`` with its subject replaced by
    ``subject`` (see ``focus_texts``): the words, where the clause with the verb starts (after a
    leading ", "-clause), the verb's index (None without one) and where its core ends."""
    words = matched_text(text).split()
    low = [w.lower().strip(",.;:!?") for w in words]
    lead = next((i + 1 for i, w in enumerate(words) if w.endswith(",")), 0) if LEADING_MODIFIER.match(text) else 0
    v = next((i for i, w in enumerate(low) if i >= lead and verb_like(w)), None)
    if v is None:
        return words, 0, None, len(words)
    start = max([i + 1 for i in range(v) if words[i][-1:] in ",;:"], default=0)
    if subject and v - start <= 4 and low[start:start + len(subject.split())] != subject.lower().split():
        words = words[:start] + subject.split() + words[v:]
        low = low[:start] + subject.lower().split() + low[v:]
        v = start + len(subject.split())
    end = next((j for j in range(v + 1, len(words)) if low[j] in _ADJUNCT or words[j - 1][-1:] in ",.;:!?"),
               len(words))
    return words, start, v, end


# Where an action splits into things done at once: commas, and "while" / "whilst" / "when".
_PARTS = re.compile(r",|\s(?=(?:while|whilst|when)\s)", re.IGNORECASE)
_MANNER = frozenset({"with", "without", "using", "by"})  # opens a manner, not a thing done of its own
_ING = re.compile(r"\b[a-z]{2,}ing\b", re.IGNORECASE)


def action_parts(text: str) -> list[str]:
    """The things one action does at once, each a clause with a verb: "while walking, the man
    waves" -> ["while walking", "the man waves"]; a clause without a verb, or one that opens
    with "with" / "without" / "using" / "by" (a manner: "using the right foot,", "slowly,"),
    goes with the next; one part: [text]."""
    parts, held = [], ""
    for piece in _PARTS.split(matched_text(text)):
        piece = f"{held} {piece.strip()}" if held else piece.strip()
        if not piece:
            continue
        words = [w.lower().strip(".;:!?") for w in piece.split()]
        if words and words[0] not in _MANNER and (any(verb_like(w) for w in words) or _ING.search(piece)):
            parts.append(piece)
            held = ""
        else:
            held = piece + ","
    if held:
        parts = parts[:-1] + [parts[-1] + ", " + held.rstrip(",")] if parts else [held.rstrip(",")]
    return parts or [text]


_PHRASE_START = _ADJUNCT | {"in", "on", "up", "down", "off", "out", "of"}


def _phrase_of(low: list[str], word: str, verb: int | None) -> tuple[int, int]:
    """[a, b) of the adjunct ``word`` is in (from the adjunct word before it, after the verb,
    to the next one or a clause end: "in a circle"), else of the word alone."""
    i = low.index(word)
    a = next((j for j in range(i - 1, -1 if verb is None else verb, -1) if low[j] in _PHRASE_START), None)
    if a is None:
        return i, i + 1
    b = next((j for j in range(i + 1, len(low)) if low[j] in _PHRASE_START), len(low))
    return a, b


def focus_texts(text: str, subject: str | None = None) -> tuple[str, str]:
    """(whole, core) of an action as it is matched: ``matched_text`` with its subject (the
    words before the first verb, after any leading ", "-clause, at most four) replaced by
    ``subject``, and that subject with the verb phrase up to the first adjunct word
    (``_ADJUNCT``) or punctuation. "a tired woman trudges ahead at an easy pace" ->
    ("a person trudges ahead at an easy pace", "a person trudges ahead"). Without a verb
    (or a subject of more than four words), both are the whole text."""
    words, start, _, end = _verb_phrase(text, subject)
    return " ".join(words), " ".join(words[start:end]).rstrip(",.;:!?")


def _subject_of(text: str) -> str | None:
    """The words of ``text`` before its first verb (one to four), or None."""
    words = text.split()
    v = next((i for i, w in enumerate(words) if verb_like(w.lower())), None)
    return " ".join(words[:v]).lower() if v is not None and 1 <= v <= 4 else None


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
        caption: the caption chosen (same sides; "" when none has them).
        action: that caption's action label (from the corpus).
        similarity: the nearest caption's similarity in [-1, 1] (``CORE_WEIGHT`` of the core's;
            -1 when no caption has the sides); ``caption`` may be a more reliable one of its
            action a little farther.
        rewritten: what the model is given: the caption plus carried words, or ``text``.
        used: whether ``rewritten`` is the caption (False: kept, far, or rewrite off).
        far: the similarity is under the threshold: the model will likely not do the action.
        parts: for an action of things done at once (``action_parts``) whose parts are nearest
            captions of different actions, those actions in order (then only its main clause is
            given as a caption, the other parts stay as written: ``CaptionIndex.match_actions``);
            else ().
    """

    text: str
    caption: str
    action: str
    similarity: float
    rewritten: str
    used: bool
    far: bool
    parts: tuple[str, ...] = ()

    def record(self) -> dict:
        """JSON-ready, for a manifest."""
        return dict(text=self.text, caption=self.caption, action=self.action,
                    similarity=round(float(self.similarity), 4), used=self.used, far=self.far,
                    **({"rewritten": self.rewritten} if self.used else {}),
                    **({"parts": list(self.parts)} if self.parts else {}))


class CaptionIndex:
    """A model's training captions and their unit sentence embeddings (N, D)."""

    def __init__(self, texts, actions, embeddings, threshold: float = DEFAULT_THRESHOLD,
                 keep: float = DEFAULT_KEEP, reliability=None, words=None):
        self.texts = [str(t) for t in texts]
        self.actions = [str(a) for a in actions]
        emb = np.asarray(embeddings, dtype=np.float32)
        rel = np.ones(len(self.texts), np.float32) if reliability is None else np.asarray(reliability, np.float32)
        if emb.ndim != 2 or len(emb) != len(self.texts) or len(self.actions) != len(self.texts) \
                or rel.shape != (len(self.texts),):
            raise ValueError(f"caption index: {len(self.texts)} texts, {len(self.actions)} actions, embeddings of "
                             f"shape {emb.shape} and reliability of shape {rel.shape} do not match")
        self.embeddings = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        self.reliability = np.clip(np.nan_to_num(rel, nan=1.0), 0.0, 1.0)
        self.threshold = float(threshold)
        self.keep = float(keep)
        sides = [side_words(t) for t in self.texts]
        self._by_sides = {s: np.flatnonzero([x == s for x in sides]) for s in set(sides)}
        heads = [h.split() for h in (_subject_of(t) for t in self.texts) if h]
        common = os.path.commonprefix(heads) if heads and len(heads) == len(self.texts) else []
        #: the words every caption starts with before its verb ("a person"), or None: what actions are matched with
        self.subject = " ".join(common) or None
        if words is None:  # the captions' own words
            words = {}
            for t, a in zip(self.texts, self.actions):
                words.setdefault(a, set()).update(_WORD.findall(t.lower()))
        #: action ("" = any) -> the words the model was trained with (as given, for ``save``)
        self.words = {str(a): frozenset(str(w).lower() for w in ws) for a, ws in dict(words).items()}
        self._stems = {a: frozenset(word_stem(w) for w in ws) for a, ws in self.words.items()}
        self._known = frozenset().union(*self._stems.values())

    @classmethod
    def load(cls, path, threshold: float = DEFAULT_THRESHOLD, keep: float = DEFAULT_KEEP) -> "CaptionIndex":
        """An index from an ``.npz`` (``texts``, ``actions``, ``embeddings``, optional
        ``reliability``); ValueError naming the file when it is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as d:
                words = None
                if "words" in d.files:
                    words = {}
                    for w, a in zip(d["words"].tolist(), d["word_actions"].tolist()):
                        words.setdefault(a, set()).add(w)
                return cls(d["texts"], d["actions"], d["embeddings"], threshold=threshold, keep=keep,
                           reliability=d["reliability"] if "reliability" in d.files else None, words=words)
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{path}: not a caption index (texts, actions, embeddings): {e}") from None

    def save(self, path) -> Path:
        """Write the index as ``.npz`` (embeddings in float16: 0.7 KB per caption at D = 384)."""
        from ..atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, texts=np.array(self.texts), actions=np.array(self.actions),
                                    embeddings=self.embeddings.astype(np.float16), reliability=self.reliability,
                                    words=np.array([w for ws in self.words.values() for w in sorted(ws)], dtype=str),
                                    word_actions=np.array([a for a, ws in self.words.items() for _ in ws], dtype=str))
        return path

    def match_actions(self, texts: list[str], embed, rewrite: bool = True) -> list[CaptionMatch]:
        """``match`` of each action with the embeddings it needs (``embed``: texts -> (n, D)
        sentence embeddings): each whole and core (``focus_texts``), and, for an action of
        things done at once (``action_parts``: "while walking, the man waves"), each part with
        the action's sides. When the parts are nearest captions of different actions
        (``CaptionMatch.parts`` names them), one caption would drop all but one: the main
        clause (the first not opening with "while", "as", an -ing word, ...) is given as its
        caption, first, and the other parts follow as written ("while walking, the man waves"
        -> "a person waves, while walking"); the action stays as written when that clause is
        far."""
        if not texts:
            return []
        focus = [focus_texts(t, self.subject) for t in texts]
        parts = [action_parts(t) for t in texts]
        multi = [(i, p) for i, ps in enumerate(parts) if len(ps) > 1 for p in ps]
        pf = [focus_texts(p, self.subject) for _, p in multi]
        e = np.asarray(embed([w for w, _ in focus] + [c for _, c in focus] + [w for w, _ in pf] + [c for _, c in pf]))
        n, k = len(texts), len(multi)
        out = self.match(texts, e[:n], rewrite, core_embeddings=e[n:2 * n],
                         as_written=[w == " ".join(matched_text(t).split()) for t, (w, _) in zip(texts, focus)])
        if multi:
            pm = self.match([p for _, p in multi], e[2 * n:2 * n + k], False, core_embeddings=e[2 * n + k:],
                            sides=[side_words(texts[i]) for i, _ in multi])
            for i in sorted({i for i, _ in multi}):
                mine = [(p, m) for (j, p), m in zip(multi, pm) if j == i]
                acts = tuple(m.action for _, m in mine)
                if len(set(acts)) < 2 or out[i].far:
                    continue
                # the main clause (not "while ...", "walking ...", "with ..."): its caption, the rest as written
                main = next((x for x, (p, _) in enumerate(mine) if not LEADING_MODIFIER.match(p)), 0)
                m = mine[main][1]
                if rewrite and not m.far:
                    extra = [w for w in carried_words(texts[i]) if w.lower() not in m.caption.lower()]
                    rest = [p for x, (p, _) in enumerate(mine) if x != main]
                    new = " ".join([", ".join([m.caption, *rest]), *extra])
                    out[i] = replace(out[i], caption=m.caption, action=m.action, similarity=m.similarity,
                                     rewritten=new, used=True, parts=acts)
                else:
                    out[i] = replace(out[i], rewritten=texts[i], used=False, parts=acts)
        return out

    def with_reliability(self, reliability) -> "CaptionIndex":
        """The same index with another per-caption ``reliability`` (N,) in [0, 1]."""
        return CaptionIndex(self.texts, self.actions, self.embeddings, self.threshold, self.keep, reliability,
                            self.words)

    def unknown_words(self, match: "CaptionMatch", embed=None) -> list[str]:
        """The words of ``match.text`` beyond what the model was trained on, in order, once each:
        its content words (not the subject; not the verb when the action is rewritten: the
        caption stands for it) in no training prompt of any action, and the words of its counts
        and durations ("twice", "times", "seconds") its action was never trained with. With
        ``embed`` (texts -> (n, D) sentence embeddings), a content word is kept only when the
        caption does not stand for it: the text without it is more than ``COVER_MARGIN`` nearer
        the caption ("round" in "gives a round of applause" -> "a person is clapping" is not
        kept, "circle" in "jogs in a circle" -> "a person jogs in place" is). [] for a far match
        (its own warning says more)."""
        if match.far or not match.action:
            return []
        words, start, v, _ = _verb_phrase(match.text, self.subject)
        low = [w.lower().strip(",.;:!?'\"()") for w in words]
        skip = set(range(start, v + (1 if match.used else 0))) if v is not None else set()
        cand = list(dict.fromkeys(w for i, w in enumerate(low) if i not in skip and _WORD_OR_NUMBER.fullmatch(w)
                                  and w not in _FUNCTION_WORDS and not _NUMBER.match(w) and len(w) > 2
                                  and word_stem(w) not in self._known))
        if cand and embed is not None and match.caption:
            whole = " ".join(words)
            without = [" ".join(words[:a] + words[b:]) for a, b in (_phrase_of(low, w, v) for w in cand)]
            e = np.asarray(embed([whole, *without]), dtype=np.float32)
            e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
            sims = e @ self.embeddings[self.texts.index(match.caption)]
            cand = [w for w, s in zip(cand, sims[1:]) if s - sims[0] > COVER_MARGIN]
        mine = self._stems.get(match.action, frozenset())
        out = cand + [w for c in carried_words(match.text) for w in _WORD_OR_NUMBER.findall(c.lower())
                      if w in ("once", "twice", "times", "seconds", "second") and word_stem(w) not in mine]
        return list(dict.fromkeys(out))

    def match(self, texts: list[str], embeddings: np.ndarray, rewrite: bool = True,
              core_embeddings: np.ndarray | None = None, sides: list[frozenset] | None = None,
              as_written: list[bool] | None = None) -> list[CaptionMatch]:
        """The nearest caption of each text (see the module's rules).

        Args:
            texts: actions as the model reads them.
            embeddings: (len(texts), D) sentence embeddings (any norm) of their whole
                ``focus_texts`` (with ``self.subject``).
            rewrite: False gives the matches (for the warnings) with every text kept as written.
            core_embeddings: (len(texts), D) the same of their cores; None: the whole only.
            sides: the sides each text is matched with (default: its own ``side_words``).
            as_written: whether each whole embedded is the text as the model reads it (not with
                another subject; default all): only then can a near caption keep it as written.
        """
        def unit(x):
            x = np.asarray(x, dtype=np.float32).reshape(len(texts), -1)
            return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

        whole = unit(embeddings) @ self.embeddings.T  # (n, N)
        sims = whole if core_embeddings is None else \
            (1 - CORE_WEIGHT) * whole + CORE_WEIGHT * (unit(core_embeddings) @ self.embeddings.T)
        actions = np.asarray(self.actions)
        out = []
        for i, text in enumerate(texts):
            rows = self._by_sides.get(side_words(text) if sides is None else sides[i], np.empty(0, int))
            if len(rows) == 0:
                out.append(CaptionMatch(text, "", "", -1.0, text, False, True))
                continue
            best = int(rows[np.argmax(sims[i, rows])])
            s = float(sims[i, best])
            near = rows[(actions[rows] == actions[best]) & (sims[i, rows] >= s - RELIABLE_MARGIN)]
            j = int(near[np.argmax(sims[i, near] + RELIABILITY_WEIGHT * self.reliability[near])])
            far = s < self.threshold
            kept = float(whole[i, best]) >= self.keep and (as_written is None or as_written[i])
            use = rewrite and not far and not kept
            caption = self.texts[j]
            extra = [w for w in carried_words(text) if w.lower() not in caption.lower()]
            new = " ".join([caption, *extra]) if use else text
            out.append(CaptionMatch(text, caption, self.actions[j], s, new, use, far))
        return out
