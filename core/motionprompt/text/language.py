"""Is a prompt in the text encoder's language? A plain check by characters, no language model.

Both text encoders motionprompt runs (MiniLM for the demo, flan-T5 for MotionMillion) were trained
on English, so ``not_english(prompt)`` names what makes a prompt unlikely to be read right:

- CJK: any Han, kana or Hangul character;
- emoji: any pictograph (Unicode category So in the emoji blocks U+1F000-U+1FAFF and
  U+2600-U+27BF, or a variation selector / zero-width joiner that builds one);
- other letters: more than ``MAX_OTHER_SHARE`` (20 %) of the letters are not ASCII (Cyrillic,
  Greek, Arabic, ... and Latin with many accents, e.g. "une femme marche à côté" passes with 2 of
  20, "ходьба вперёд" does not).

Only letters count for the share, so digits, punctuation and a stray "é" in a name change
nothing. An empty list means the prompt looks English.
"""

from __future__ import annotations

import unicodedata

__all__ = ["not_english", "MAX_OTHER_SHARE"]

#: Largest share of non-ASCII letters an English prompt may have (names, loan words).
MAX_OTHER_SHARE = 0.2

_CJK = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0x1100, 0x11FF),
        (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0x20000, 0x2FA1F))
_EMOJI = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF))
_JOINERS = {0x200D, 0xFE0F}


def _within(code: int, spans) -> bool:
    return any(a <= code <= b for a, b in spans)


def not_english(text: str) -> list[str]:
    """What makes ``text`` not English for the encoder: a subset of "CJK characters", "emoji",
    "non-English letters (N % of the letters)", in that order; [] when it looks English."""
    codes = [ord(c) for c in text]
    found = []
    if any(_within(c, _CJK) for c in codes):
        found.append("CJK characters")
    if any(c in _JOINERS or (_within(c, _EMOJI) and unicodedata.category(chr(c)) == "So") for c in codes):
        found.append("emoji")
    letters = [c for c in text if c.isalpha() and not _within(ord(c), _CJK)]
    other = sum(not c.isascii() for c in letters)
    if letters and other / len(letters) > MAX_OTHER_SHARE:
        found.append(f"non-English letters ({100 * other / len(letters):.0f} % of the letters)")
    return found
