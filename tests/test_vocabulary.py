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

    long = "a person walks forward " + " ".join(["and keeps walking"] * 60)
    lines = ["a man walks forward, turns around, jumps, claps, waves, squats, bows, then kicks",  # 8 in 4 s
             "一个人向前走", "a man plays the guitar", long]
    (tmp_path / "p.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc = main(["batch", str(tmp_path / "p.txt"), "--seconds", "4", "--seed", "0", "--out-dir", str(tmp_path),
               "--exp-name", "w", "--no-preview"])
    err = capsys.readouterr().err
    recs = {r["line"]: r for r in map(json.loads, (tmp_path / "w" / "manifest.jsonl").read_text().splitlines())}
    assert rc == 0 and recs[1]["settings"]["caption_rewrite"] == "on (threshold 0.55)"
    want = {1: "8 actions in 4.0 s: 0.5 s each, about 1.5 s each needed; use --seconds 12",
            2: "not in English (CJK characters)", 3: "the model will likely not do it",
            4: "text cut at the text encoder's limit of 150 tokens"}
    for line, words in want.items():
        assert any(words in w for w in recs[line]["warnings"]), (line, recs[line]["warnings"])
        assert f"line {line}: warning: " in err and words in err
    assert "caption_rewrite" in recs[3] and recs[3]["caption_rewrite"][0]["far"]
    # switched off: recorded, and no caption is used
    rc = main(["generate", "somebody ambles forward across the room", "--seconds", "2", "--seed", "0",
               "--out-dir", str(tmp_path), "--exp-name", "off", "--no-preview", "--no-caption-rewrite"])
    rec = json.loads((tmp_path / "off" / "manifest.jsonl").read_text())
    assert rc == 0 and rec["settings"]["caption_rewrite"] == "off" and not rec["caption_rewrite"][0]["used"]
