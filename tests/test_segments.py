"""A prompt's actions in order, and fitting their lengths to the requested limits."""

from __future__ import annotations

import itertools

import pytest

from motionprompt.text.segments import fit_lengths, split_actions, with_subject


@pytest.mark.parametrize("prompt, actions", [
    ("a person walks forward", ["a person walks forward"]),
    # punctuation and connector words cut; connector-only parts only mark the cut
    ("a lady walks forwards. Next, she greets with a wave", ["a lady walks forwards", "she greets with a wave"]),
    ("the athlete backpedals, afterwards he kicks", ["the athlete backpedals", "he kicks"]),
    ("a person walks forward, turns around, and waves with the right hand",
     ["a person walks forward", "turns around", "waves with the right hand"]),
    ("a woman runs; then she claps!", ["a woman runs", "she claps"]),
    # sequence words cut without punctuation too, with the "and" before them
    ("a man walks and then waves", ["a man walks", "waves"]),
    ("she jogs and later claps", ["she jogs", "claps"]),
    ("a boy jumps before he claps", ["a boy jumps", "he claps"]),
    ("a man squats, and after that he bows", ["a man squats", "he bows"]),
    # a plain "and" does not cut: one action of two verbs
    ("a man sits down on the floor and stands up", ["a man sits down on the floor and stands up"]),
    # a description of the action before it stays with it
    ("someone walks forward, swinging the arms", ["someone walks forward, swinging the arms"]),
    ("a man walks, with long strides", ["a man walks, with long strides"]),
    # ... unless a connector put it on its own
    ("a man walks, then jumping jacks", ["a man walks", "jumping jacks"]),
    # a part that only gets the body back up ends the action before it, in the prompt's words
    ("a lady sits on the ground briefly then gets up", ["a lady sits on the ground briefly then gets up"]),
    ("a human holds both arms up, afterwards they sit down. Then they stand back up again",
     ["a human holds both arms up", "they sit down. Then they stand back up again"]),
    ("a man squats and then rises, then he jumps", ["a man squats and then rises", "he jumps"]),
    ("  a man waves.  ", ["a man waves"]),
    # a leading manner or a simultaneous action goes with the action after it
    ("with the left hand, a man waves hello", ["with the left hand, a man waves hello"]),
    ("slowly, she sits down. Then she waves", ["slowly, she sits down", "she waves"]),
    ("while walking, the man waves", ["while walking, the man waves"]),
    ("as he walks, he waves", ["as he walks, he waves"]),
    ("waving, a man walks forward, then he jumps", ["waving, a man walks forward", "he jumps"]),
    ("a man jumps. Then, with both hands, he claps", ["a man jumps", "with both hands, he claps"]),
    ("a man walks, slowly", ["a man walks", "slowly"]),
    ("Next", ["Next"]),
    ("Then.", ["Then."]),
])
def test_split_actions(prompt, actions):
    assert split_actions(prompt) == actions


@pytest.mark.parametrize("lengths, low, high", [
    ([80, 30, 40], 0, 150), ([80, 30, 40], 0, 100), ([80, 30, 40], 0, 61), ([10, 20], 60, 150),
    ([1, 1, 1], 3, 3), ([5, 5, 5], 0, 3), ([100, 100], 0, 150), ([7, 0, 3], 40, 45), ([150, 2], 150, 150),
])
def test_fit_lengths(lengths, low, high):
    out = fit_lengths(lengths, low, high)
    kept = [max(x, 1) for x in lengths]
    assert len(out) == len(lengths) and min(out) >= 1
    assert low <= sum(out) <= high
    if low <= sum(kept) <= high:
        assert out == kept
    elif sum(kept) > high:
        assert sum(out) == high
        # only the longest are cut, to one level (give or take the rounding token)
        level = min(x for x, k in zip(out, kept) if x < k)
        assert all(x == k for x, k in zip(out, kept) if k <= level)
        assert all(x in (level, level + 1) for x, k in zip(out, kept) if x < k)
        # no other cut of the same total keeps the longest segment any longer
        assert max(out) <= min(max(c) for c in itertools.product(*[range(1, k + 1) for k in kept])
                               if sum(c) == high)
    else:
        assert sum(out) == low
        assert all(x >= k for x, k in zip(out, kept))
        for x, k in zip(out, kept):  # in proportion, within one token
            assert abs(x - k * low / sum(kept)) < 1


def test_fit_lengths_refuses_impossible_limits():
    with pytest.raises(ValueError, match="3 segments"):
        fit_lengths([5, 5, 5], 0, 2)
    with pytest.raises(ValueError):
        fit_lengths([5], 10, 5)


@pytest.mark.parametrize("text, read", [
    ("the athlete runs straight ahead", "a person runs straight ahead"),
    ("a lady waves with the left hand", "a person waves with the left hand"),
    ("An old man walks", "An old man walks"),  # longer noun phrases stay as written
    ("turns around", "a person turns around"),
    ("is waving, with both hands", "a person is waving, with both hands"),
    ("does squats", "a person does squats"),
    ("he jumps", "he jumps"), ("someone claps", "someone claps"), ("John walks", "John walks"),
    ("his arms go up", "his arms go up"), ("this dancer spins", "a person spins"),
    ("jump", "jump"), ("", ""),
])
def test_with_subject(text, read):
    assert with_subject(text) == read
    assert with_subject(text, "someone") == read.replace("a person", "someone")
