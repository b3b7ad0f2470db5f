"""A prompt as a timeline: its actions in order (``split_actions``), their share of a length
(``fit_lengths``), the subject a one-body model reads them with (``with_subject``), and the
clauses a text encoder's clause pooling encodes one by one (``split_clauses``).

A small model follows one action per prompt far better than a sentence of several (the demo
model: 90 % of single held-out actions, about half of two-action sentences kept in order), so a
model whose TOML says ``compose = true`` generates each action of a prompt as its own segment
and plays the segments one after another (``Generator.generate``); the decoder smooths the
joins. The rules are plain, so a user can predict them:

- actions are separated by punctuation (, . ; : ! ?) and by the words "then", "after that",
  "afterwards", "later", "finally", "followed by", "before" ("walks forward, then waves" and
  "jumps before he claps" -> two actions each, in the order written);
- a plain "and" does not separate ("sits down and stands up" stays one action);
- a part after a comma that starts with an -ing word or "with" / "while" / "without" describes
  the part before it ("walks forward, swinging the arms" stays one action);
- a part that opens a sentence and ends at a comma, starting with "with" / "without" /
  "using", an -ly word, an -ing word or "while" / "as" / "when", goes with the part after it:
  a manner ("with the left hand, a man waves hello", "slowly, she sits down") or an action
  done at the same time ("while walking, the man waves", "as he walks, he waves") is one
  action with what follows;
- a part that only brings the body back up ("gets up", "stands back up", "rises again") ends
  the action before it ("sits on the floor, then gets up" stays one action);
- connector words at the start of a part are dropped ("Next, she waves" -> "she waves"); a part
  with nothing else ("Next") only marks the cut.
"""

from __future__ import annotations

import re

__all__ = ["split_actions", "split_clauses", "fit_lengths", "with_subject", "verb_like", "CLAUSE_END"]

#: Punctuation that ends a clause (where actions and the clauses of a clause pooling are cut).
CLAUSE_END = r"[,.;:!?\n]+"
# Where a prompt is cut: punctuation, or sequence words even without it ("walks and then
# waves", "jumps before he claps"); an "and" before a sequence word goes with it.
_CUT = re.compile(CLAUSE_END + r"|\s+(?:and\s+)?\b(?:then|after that|afterwards|later|finally|followed by|before)\b",
                  re.IGNORECASE)
# Connector words dropped from the start of a part (repeatedly: "and then", "and after that").
_LEAD = re.compile(r"^(?:(?:and|then|next|after that|afterwards|later|finally|subsequently|once done|"
                   r"when finished|followed by|after this|once finished)\b[\s,]*)+", re.IGNORECASE)
# A part that describes the one before it instead of being a new action.
_DESCRIBES = re.compile(r"^(?:\w+ing|with|while|without)\b", re.IGNORECASE)
# A leading part that describes the one after it: a manner ("with the left hand, ...",
# "slowly, ..."), or an action done at the same time ("while walking, ...", "as he walks, ...").
LEADING_MODIFIER = re.compile(r"^\s*(?:\w+ing|with|without|while|as|when|using|\w{3,}ly)\b", re.IGNORECASE)
# A part that only brings the body back up ends the action before it ("sits, then gets up").
_BACK_UP = re.compile(r"^(?:(?:he|she|they|it)\s+)?(?:gets?|stands?|comes?|rises?|climbs?)(?:\s+(?:back|again|up|"
                      r"on\s+\w+\s+feet|to\s+\w+\s+feet))*\s*(?:again)?$", re.IGNORECASE)
# Where a clause pooling cuts: punctuation, and for phrases also "and" / "then".
_CLAUSE_END = re.compile(CLAUSE_END)
_PHRASE_END = re.compile(CLAUSE_END + r"|\b(?:and|then)\b", re.IGNORECASE)


def split_clauses(prompt: str, at_words: bool = False) -> list[str]:
    """The prompt cut at punctuation (, . ; : ! ? and line breaks), stripped, empty parts dropped:
    "a man walks. Next, he waves" -> ["a man walks", "Next", "he waves"]. ``at_words`` also cuts
    at the words "and" / "then" ("walks and then waves" -> ["walks", "waves"]). A prompt with no
    words left gives [prompt.strip()] (one clause, possibly empty)."""
    parts = [c.strip() for c in (_PHRASE_END if at_words else _CLAUSE_END).split(prompt)]
    return [c for c in parts if c] or [prompt.strip()]


def split_actions(prompt: str) -> list[str]:
    """The actions of a prompt in the order written (see the module's rules), each in the
    prompt's own words.

    "a man walks forward. Next, he waves" -> ["a man walks forward", "he waves"]. A prompt with
    no cut (or only connector words) gives ``[prompt.strip()]``.
    """
    parts: list[list[int]] = []  # [start, end) of each action's words in the prompt
    pos, after_comma = 0, False  # after_comma: the last cut was a bare comma (no connector word)
    held: int | None = None  # start of a leading modifier waiting for its action
    for cut in [*_CUT.finditer(prompt), None]:
        end = len(prompt) if cut is None else cut.start()
        start = pos + len(prompt[pos:end]) - len(prompt[pos:end].lstrip())
        lead = _LEAD.match(prompt[start:end])
        if lead:
            start += lead.end()
        text = prompt[start:end].strip()
        bare_comma = cut is not None and cut.group().strip() == ","
        if text:
            stop = start + len(prompt[start:end].rstrip())
            leading = held is None and (not parts or not after_comma or lead)
            if leading and bare_comma and LEADING_MODIFIER.match(text):
                held = start  # "with the left hand, a man waves": the modifier goes with what follows
            elif held is not None:
                parts.append([held, stop])
                held = None
            elif parts and (_BACK_UP.match(text) or (after_comma and not lead and _DESCRIBES.match(text))):
                parts[-1][1] = stop
            else:
                parts.append([start, stop])
        if cut is not None:
            if text or not bare_comma:  # the comma after a connector-only part ("Then,") is no cut of its own
                after_comma = bare_comma
            pos = cut.end()
    if held is not None:  # a modifier with nothing after it is an action of its own
        parts.append([held, len(prompt[held:].rstrip()) + held])
    return [prompt[a:b] for a, b in parts] or [prompt.strip()]


# First words that end in "s" but are not verbs.
_NOT_VERBS = {"his", "this", "its", "hers", "theirs", "ours", "yours", "was", "always", "sometimes", "perhaps",
              "afterwards", "towards", "backwards", "forwards", "sideways", "boss", "class"}
_ARTICLES = {"a", "an", "the", "this", "that", "one"}


def verb_like(word: str) -> bool:
    """A third-person present verb, by its form: "walks", "does", "is" (not "his", "this")."""
    return word == "is" or (len(word) > 2 and word.endswith("s") and word not in _NOT_VERBS)


def with_subject(text: str, subject: str = "a person") -> str:
    """``text`` with ``subject`` as the one who moves, for a model whose corpus has one body
    and no notion of who moves: "the athlete runs" / "a lady waves" -> "a person runs" /
    "a person waves" (an article, one word, then a verb), and "turns around" -> "a person
    turns around" (a verb first: an action cut from a longer prompt). Anything else (pronouns,
    names, longer noun phrases) is left as written."""
    words = text.split()
    low = [w.lower().strip(",.;:!?") for w in words]
    if low and verb_like(low[0]):
        return f"{subject} {text.strip()}"
    if len(low) >= 3 and low[0] in _ARTICLES and verb_like(low[2]):
        return " ".join([subject] + words[2:])
    return text


def fit_lengths(lengths: list[int], low: int, high: int) -> list[int]:
    """Segment lengths (tokens) whose sum lies in [low, high], changed as little as needed.

    Too long: the longest segments are cut to a common level, so short actions (a wave, a turn)
    stay whole and long ones (a walk, a wait) lose their ends. Too short: every segment grows
    in proportion to its length. Every segment keeps at least one token; ``high`` must be at
    least ``len(lengths)``.
    """
    n = len(lengths)
    if high < n or low > high:
        raise ValueError(f"cannot fit {n} segments into {low}..{high} tokens")
    lens = [max(int(x), 1) for x in lengths]
    total = sum(lens)
    if total > high:
        level = max(L for L in range(1, max(lens) + 1) if sum(min(x, L) for x in lens) <= high)
        out = [min(x, level) for x in lens]
        for i in [i for i, x in enumerate(lens) if x > level][:high - sum(out)]:
            out[i] += 1  # the rounding goes to the first of the cut segments
        return out
    if total < low:
        extra = [(low - total) * x / total for x in lens]
        out = [x + int(e) for x, e in zip(lens, extra)]
        order = sorted(range(n), key=lambda i: (int(extra[i]) - extra[i], i))  # largest remainder first
        for i in order[:low - sum(out)]:
            out[i] += 1
        return out
    return lens
