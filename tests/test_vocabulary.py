"""Known words for the model (``text.vocabulary``: the nearest-caption rewrite), the language
check (``text.language``) and the warnings of a generation in the CLI's stderr and the manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionprompt.models.model_spec import DEMO_SPEC
from motionprompt.request import GenerateRequest, RequestError
from motionprompt.text.language import not_english
from motionprompt.text.vocabulary import CaptionIndex, carried_words, matched_text, side_words

needs_demo = pytest.mark.skipif(not (DEMO_SPEC.parent / "captions.npz").is_file(), reason="demo model not built")


def _index(threshold=0.5, keep=0.95):
    # three captions on orthogonal axes, so similarities are the query's coordinates
    texts = ["a person walks forward", "a person waves the left hand", "a person waves the right hand"]
    return CaptionIndex(texts, ["walk", "wave_left", "wave_right"], np.eye(3), threshold=threshold, keep=keep)


def test_nearest_caption_threshold_keep_and_sides():
    idx = _index()
    q = ["somebody ambles", "a person walks forward", "a cat sleeps", "with the left hand, he greets",
         "he greets with the right hand", "an odd dance"]
    # a sideless action has the sideless caption as its only candidate: similarity = x / |q|
    emb = np.array([[0.8, 0.6, 0.0], [1, 0, 0], [0.3, 0.9, 0.0],
                    [0.1, 0.6, 0.8],  # nearest overall is "right", but the action says left
                    [0.1, 0.9, 0.6], [0.0, 0.0, 0.0]])
    m = idx.match(q, emb)
    assert m[0].used and m[0].rewritten == "a person walks forward" and m[0].action == "walk"
    assert not m[1].used and m[1].rewritten == "a person walks forward" and m[1].similarity == pytest.approx(1)
    assert m[2].far and not m[2].used and m[2].rewritten == "a cat sleeps"
    assert m[3].used and m[3].caption == "a person waves the left hand"
    assert m[4].caption == "a person waves the right hand"
    assert m[5].far and not m[5].used
    # the threshold decides: at 0.9 the amble is too far and stays as written
    strict = _index(threshold=0.9).match(q[:1], emb[:1])[0]
    assert strict.far and not strict.used and strict.rewritten == q[0]
    # switched off: matched (for the warnings), never rewritten
    off = idx.match(q, emb, rewrite=False)
    assert [x.rewritten for x in off] == q and [x.far for x in off] == [x.far for x in m]


def test_counts_and_durations_are_carried_and_sides_read():
    assert carried_words("jumps twice, then walks for 4 seconds") == ["twice", "for 4 seconds"]
    assert carried_words("claps three times") == ["three times"]
    assert matched_text("a person jumps twice, then walks for 4 seconds") == "a person jumps, then walks"
    assert side_words("With the LEFT hand, then both arms") == {"left", "both"}
    m = _index().match(["he strolls for 3 seconds"], np.array([[0.8, 0.6, 0.0]]))[0]
    assert m.rewritten == "a person walks forward for 3 seconds"
    assert m.record()["rewritten"] == m.rewritten and m.record()["used"] is True


def test_caption_index_round_trip(tmp_path):
    idx = _index()
    back = CaptionIndex.load(idx.save(tmp_path / "c.npz"), threshold=0.5)
    assert back.texts == idx.texts and back.actions == idx.actions
    np.testing.assert_allclose(back.embeddings, idx.embeddings, atol=1e-3)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ValueError, match="bad.npz"):
        CaptionIndex.load(tmp_path / "bad.npz")


def test_not_english():
    assert not_english("a man walks forward, then waves twice (3 s) - André's move") == []
    assert not_english("一个人向前走") == ["CJK characters"]
    assert not_english("a person dances \U0001F483") == ["emoji"]
    assert not_english("человек идёт вперёд")[0].startswith("non-English letters (100 %")
    assert not_english("une femme marche à côté") == []  # 2 accented letters of 19


def test_request_caption_rewrite_option():
    assert GenerateRequest(["a"], caption_rewrite=False).validate().caption_rewrite is False
    with pytest.raises(RequestError, match="caption_rewrite"):
        GenerateRequest(["a"], caption_rewrite="yes").validate()
    back = GenerateRequest.from_json(GenerateRequest(["a"], caption_rewrite=False).to_json())
    assert back.caption_rewrite is False


@pytest.fixture(scope="module")
def demo():
    import torch

    from motionprompt.generation.generator import Generator

    torch.set_num_threads(1)
    return Generator.from_spec("demo")


@needs_demo
def test_demo_rewrites_unseen_verbs_and_keeps_its_own_words(demo):
    assert demo.default_caption_rewrite and demo.captions.threshold == 0.55
    texts = ["a person ambles forward across the room", "a person walks forward",
             "a person waves hello with their left arm", "a person plays the guitar"]
    amble, known, left, guitar = demo.caption_matches(texts, rewrite=True)
    assert amble.used and amble.action == "walk_forward" and amble.rewritten in demo.captions.texts
    assert not known.used and known.rewritten == texts[1] and known.similarity > 0.99
    assert not left.used and left.rewritten == texts[2]
    assert guitar.far and not guitar.used
    # a duration is matched without, then carried: the walk stays a walk, at no new speed
    timed = demo.caption_matches(["a person proceeds forward on foot for 4 seconds"], rewrite=True)[0]
    assert timed.rewritten == "a person goes forward on foot for 4 seconds", timed
    # the shipped embeddings are the runtime encoder's (file written by train_demo --captions-only)
    i = demo.captions.texts.index("a person walks forward")
    fresh = demo.text_encoder.sentence_embeddings(["a person walks forward"]).numpy()[0]
    assert float(fresh @ demo.captions.embeddings[i]) > 0.999
    # and its captions are the corpus's (a change of the phrases needs train_demo --captions-only)
    from motionprompt_demo.captions import training_captions

    assert list(zip(demo.captions.texts, demo.captions.actions)) == training_captions()


@needs_demo
def test_demo_records_the_rewrite_and_can_switch_it_off(demo):
    prompt = "somebody ambles forward across the room"
    on, off = demo.generate(GenerateRequest([prompt, prompt], seeds=[0, 0], seconds=2)), \
        demo.generate(GenerateRequest([prompt], seeds=[0], seconds=2, caption_rewrite=False))
    rec = on[0].meta["caption_rewrite"][0]
    assert rec["used"] and rec["action"] == "walk_forward" and rec["action_text"] == prompt
    assert not off[0].meta["caption_rewrite"][0]["used"]
    assert not np.allclose(on[0].features[:10], off[0].features[:10])


@needs_demo
def test_warnings_reach_stderr_and_the_manifest(tmp_path, capsys):
    from motionprompt.app.cli import main

    long = "a person plays the guitar " + " ".join(["and sings a song"] * 60)  # far: read as written
    lines = ["a man walks forward, turns around, jumps, claps, waves, squats, bows, then kicks",  # 8 in 4 s
             "一个人向前走", "a man plays the guitar", long, "the character jogs in a circle"]
    (tmp_path / "p.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc = main(["batch", str(tmp_path / "p.txt"), "--seconds", "4", "--seed", "0", "--out-dir", str(tmp_path),
               "--exp-name", "w", "--no-preview"])
    err = capsys.readouterr().err
    recs = {r["line"]: r for r in map(json.loads, (tmp_path / "w" / "manifest.jsonl").read_text().splitlines())}
    assert rc == 0 and recs[1]["settings"]["caption_rewrite"] == "on (threshold 0.55)"
    want = {1: "8 actions in 4.0 s: 0.5 s each, about 1.5 s each needed; use --seconds 12",
            2: "not in English (CJK characters)", 3: "the model will likely not do it",
            4: "text cut at the text encoder's limit of 150 tokens",
            5: "'circle' is beyond the words the model was trained on"}
    for line, words in want.items():
        assert any(words in w for w in recs[line]["warnings"]), (line, recs[line]["warnings"])
        assert f"line {line}: warning: " in err and words in err
    assert "caption_rewrite" in recs[3] and recs[3]["caption_rewrite"][0]["far"]
    # the prefix-LM's block: 150 text tokens leave 31 of its 181 positions, the 4 s motion takes more
    block = [w for w in recs[4]["warnings"] if "block of 181 positions" in w]
    assert len(block) == 1 and "its text (1" in block[0] and "after " in block[0], recs[4]["warnings"]
    assert "exceeds the model's block size" not in err and "block of 181 positions" in err
    assert not any("circle" in w for r in recs.values() if r["line"] != 5 for w in r["warnings"])
    # switched off: recorded, and no caption is used
    rc = main(["generate", "somebody ambles forward across the room", "--seconds", "2", "--seed", "0",
               "--out-dir", str(tmp_path), "--exp-name", "off", "--no-preview", "--no-caption-rewrite"])
    rec = json.loads((tmp_path / "off" / "manifest.jsonl").read_text())
    assert rc == 0 and rec["settings"]["caption_rewrite"] == "off" and not rec["caption_rewrite"][0]["used"]


# --------------------------------------------------------------- matching: subject, core, reliability
def test_focus_texts_take_the_captions_subject_and_the_verb_phrase():
    from motionprompt.text.vocabulary import focus_texts

    assert focus_texts("a tired woman trudges ahead at an easy pace", "a person") == \
        ("a person trudges ahead at an easy pace", "a person trudges ahead")
    assert focus_texts("someone bends forward to greet the audience", "a person")[1] == "a person bends forward"
    assert focus_texts("a person sprints as fast as he can", "a person")[1] == "a person sprints"
    # a leading manner clause is kept in the whole, the subject after it replaced; counts are left out
    assert focus_texts("with the left hand, a man waves hello twice", "a person") == \
        ("with the left hand, a person waves hello", "a person waves hello")
    assert focus_texts("as he walks, he waves", "a person") == ("as he walks, a person waves", "a person waves")
    # no verb, or no subject asked: as matched
    assert focus_texts("a big jump", "a person") == ("a big jump", "a big jump")
    assert focus_texts("the man waves", None) == ("the man waves", "the man waves")


def test_subject_of_an_index_is_its_captions_common_start():
    assert _index().subject == "a person"
    assert CaptionIndex(["a person walks", "someone claps"], ["w", "c"], np.eye(2)).subject is None


def test_core_weight_and_reliability_choose_the_caption():
    from motionprompt.text import vocabulary as V

    texts = ["a person runs", "a person dashes forward", "a person walks", "a person waves the left hand"]
    acts = ["run", "run", "walk", "wave_left"]
    emb = np.eye(4)
    # the whole is nearest "dashes" (0.8), the core nearest "runs": mixed by CORE_WEIGHT
    whole, core = np.array([[0.5, 0.8, 0.3, 0.0]]), np.array([[0.9, 0.2, 0.3, 0.0]])
    w = V.CORE_WEIGHT
    mixed = (1 - w) * whole / np.linalg.norm(whole) + w * core / np.linalg.norm(core)
    m = CaptionIndex(texts, acts, emb, threshold=0.3).match(["x"], whole, core_embeddings=core)[0]
    assert m.caption == texts[int(np.argmax(mixed[0]))] and m.similarity == pytest.approx(mixed[0].max(), abs=1e-6)
    # "dashes" nearest by a little; the model does it in 1 of 4 seeds and "runs" in 4 of 4: "runs" is given,
    # the similarity stays the nearest's
    q = np.array([[0.70, 0.74, 0.1, 0.0]])
    rel = np.array([1.0, 0.25, 1.0, 1.0])
    idx = CaptionIndex(texts, acts, emb, threshold=0.3, reliability=rel)
    m = idx.match(["a boy dashes down the track"], q)[0]
    s = q[0] / np.linalg.norm(q[0])
    assert m.caption == "a person runs" and m.used and m.similarity == pytest.approx(s[1], abs=1e-6)
    # too far under the nearest (over RELIABLE_MARGIN), or of another action: never chosen for reliability
    far_q = np.array([[0.5, 0.85, 0.0, 0.0]])
    assert idx.match(["x"], far_q)[0].caption == "a person dashes forward"
    walk_q = np.array([[0.0, 0.74, 0.72, 0.0]])
    assert CaptionIndex(texts, acts, emb, threshold=0.3, reliability=[1, 0.0, 1, 1]).match(["x"], walk_q)[0] \
        .caption == "a person dashes forward"
    # without reliability: the nearest, as before
    assert CaptionIndex(texts, acts, emb, threshold=0.3).match(["x"], q)[0].caption == "a person dashes forward"


def test_index_round_trip_keeps_reliability_and_words(tmp_path):
    words = {"": {"person", "then"}, "walk": {"walks", "forward", "seconds"}}
    idx = _index().with_reliability([0.5, 1.0, 0.25])
    idx = CaptionIndex(idx.texts, idx.actions, idx.embeddings, reliability=idx.reliability, words=words)
    back = CaptionIndex.load(idx.save(tmp_path / "c.npz"))
    np.testing.assert_allclose(back.reliability, [0.5, 1.0, 0.25])
    assert back.words == {a: frozenset(w) for a, w in words.items()}
    # an index written before reliability and words: all reliable, the captions' own words
    np.savez(tmp_path / "old.npz", texts=np.array(idx.texts), actions=np.array(idx.actions), embeddings=np.eye(3))
    old = CaptionIndex.load(tmp_path / "old.npz")
    assert np.all(old.reliability == 1) and old.words["walk"] == {"a", "person", "walks", "forward"}


# --------------------------------------------------------------- unknown words
def _words_index():
    texts = ["a person jogs in place", "a person turns around", "a person claps"]
    words = {"": {"a", "person", "man", "then"}, "jog": {"jogs", "in", "place", "for", "seconds"},
             "turn": {"turns", "around", "back"}, "clap": {"claps", "hands", "twice", "times", "once"}}
    return CaptionIndex(texts, ["jog", "turn", "clap"], np.eye(3), threshold=0.5, words=words)


def test_unknown_words_name_what_the_model_never_saw():
    from motionprompt.text.vocabulary import CaptionMatch, word_stem

    idx = _words_index()

    def m(text, action, used=True, far=False):
        return CaptionMatch(text, idx.texts[["jog", "turn", "clap"].index(action)], action, 0.8, text, used, far)

    assert idx.unknown_words(m("a person jogs in a circle", "jog")) == ["circle"]
    # a count or a duration counts only when the action itself was trained with one
    assert idx.unknown_words(m("a dancer spins twice", "turn")) == ["twice"]
    assert idx.unknown_words(m("a man claps three times", "clap")) == []
    assert idx.unknown_words(m("a man turns around for 3 seconds", "turn")) == ["seconds"]
    assert idx.unknown_words(m("a man jogs in place for 3 seconds", "jog")) == []
    # inflections of known words are known; the subject is not the model's business
    assert word_stem("jogging") == word_stem("jogs") == "jog" and word_stem("waving") == word_stem("waves")
    assert idx.unknown_words(m("the old sailor jogs in places", "jog", used=False)) == []
    # a rewritten verb is what the caption stands for; kept as written, it is unknown like any word
    assert idx.unknown_words(m("a man trots in place", "jog")) == []
    assert idx.unknown_words(m("a man trots in place", "jog", used=False)) == ["trots"]
    # a far action has its own warning
    assert idx.unknown_words(m("a man juggles in a circle", "jog", far=True)) == []


def test_unknown_words_the_caption_stands_for_are_not_said():
    idx = _words_index()
    from motionprompt.text.vocabulary import CaptionMatch

    match = CaptionMatch("a man claps with applause in a circle", "a person claps", "clap", 0.8, "", True, False)
    cap = idx.embeddings[2]

    def embed(texts):  # without "applause" the text is farther from the caption, without "in a circle" nearer
        out = []
        for t in texts:
            v = np.array([0.3, 0.3, 0.6])
            v[2] += 0.3 * ("applause" in t)
            v[0] += 0.5 * ("circle" in t)
            out.append(v)
        return np.array(out)

    assert cap @ (embed(["x applause"])[0]) > 0
    assert idx.unknown_words(match) == ["applause", "circle"]
    assert idx.unknown_words(match, embed) == ["circle"]


@needs_demo
def test_demo_warns_on_unknown_words_and_not_on_its_own_wordings(demo):
    from motionprompt_demo import captions

    embed = lambda ts: demo.text_encoder.sentence_embeddings(ts).numpy()  # noqa: E731
    from motionprompt.text.segments import split_actions

    def unknown(prompt):
        texts = [demo.model_text(a) for a in split_actions(prompt)]
        return [demo.captions.unknown_words(m, embed) for m in demo.caption_matches(texts, rewrite=True)]

    assert unknown("the character jogs in a circle") == [["circle"]]
    assert unknown("a dancer spins twice") == [["twice"]]
    # the README's prompt and the held-out evaluation wordings (unseen phrasings of known actions): none
    assert unknown("a person walks forward, turns around, then waves with the right hand") == [[], [], []]
    singles, pairs = captions.heldout_prompts()
    said = {p: u for p in [p for p, _ in singles + pairs] for u in unknown(p) if u}
    assert said == {}, said
    # the words come with the index (train_demo --captions-only): the corpus's, counts where it has them
    assert demo.captions.words == {a: frozenset(w) for a, w in captions.training_words().items()}
    assert "twice" in demo.captions.words["clap"] and "twice" not in demo.captions.words["turn_around"]
    # and each caption's reliability, measured on seeds none of the evaluation's
    assert 0.8 < float(demo.captions.reliability.mean()) < 1.0


# --------------------------------------------------------------- things done at once
def test_action_parts():
    from motionprompt.text.vocabulary import action_parts

    assert action_parts("while walking, the man waves") == ["while walking", "the man waves"]
    assert action_parts("a person claps while jumping twice") == ["a person claps", "while jumping"]
    assert action_parts("as he walks, he waves with the right hand") == ["as he walks", "he waves with the right hand"]
    # a clause without a verb is a manner of the next, not a thing of its own
    assert action_parts("with the left hand, a man waves hello") == ["with the left hand, a man waves hello"]
    assert action_parts("slowly, she sits down") == ["slowly, she sits down"]
    assert action_parts("using the right foot, the woman kicks") == ["using the right foot, the woman kicks"]
    assert action_parts("a person sits down and stands up") == ["a person sits down and stands up"]


def test_simultaneous_actions_both_survive_the_rewrite():
    texts = ["a person walks", "a person waves", "a person waves the right hand"]
    idx = CaptionIndex(texts, ["walk", "wave", "wave_right"], np.eye(3), threshold=0.5)

    def embed(ts):  # a walk axis, a wave axis and the words of neither
        return np.array([[1.0 * ("walk" in t), 1.0 * ("wave" in t or "greet" in t), 0.4 * ("greet" in t) + 1e-3]
                         for t in ts])

    plain = idx.match_actions(["a person greets"], embed)[0]
    assert plain.used and plain.rewritten == "a person waves" and plain.parts == ()
    both = idx.match_actions(["while walking, the man greets twice"], embed)[0]
    # one caption would be one of the two: the main clause is rewritten, the walk stays as written
    assert both.parts == ("walk", "wave") and both.used and both.action == "wave"
    assert both.rewritten == "a person waves, while walking twice"
    assert both.record()["parts"] == ["walk", "wave"]
    after = idx.match_actions(["the man greets while walking"], embed)[0]
    assert after.rewritten == "a person waves, while walking"
    # the main clause first even when it is in the model's words already; off: never rewritten
    known = idx.match_actions(["while walking, the man waves"], embed)[0]
    assert known.used and known.rewritten == "a person waves, while walking" and known.parts == ("walk", "wave")
    off = idx.match_actions(["while walking, the man greets"], embed, rewrite=False)[0]
    assert not off.used and off.rewritten == "while walking, the man greets" and off.parts == ("walk", "wave")
    # a manner ("using ...", "with ...") is no thing of its own
    assert idx.match_actions(["using both arms, the man greets"], embed)[0].parts == ()
    # parts of one action (a manner, a walk described twice): one caption, as for any action
    same = idx.match_actions(["walking forward, the man walks"], embed)[0]
    assert same.parts == () and same.action == "walk"
