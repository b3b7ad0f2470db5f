"""T5 token ids as the release gets them (transformers 4.x slow ``T5Tokenizer``, legacy mode:
sentencepiece on the text between special tokens, ``</s>`` last), from a sentencepiece model
trained here on the 126 evaluation prompts (an inline corpus where ../shared is absent), loaded
the way ``T5TextEncoder`` loads a release folder (a Hugging Face cache snapshot)."""

from __future__ import annotations

import json

import pytest
import torch

from motionprompt.models.t5_tokenizer import T5SentencePieceTokenizer
from motionprompt.models.text_encoders import T5TextEncoder

from conftest import REFERENCE

spm = pytest.importorskip("sentencepiece")

INLINE = ["a person walks forward, turns around, then waves with the right hand",
          "The man jumps twice (high!) and lands on 2 feet; he sits down at 10:30.",
          "someone runs in a circle slowly, stops, and claps 3 times",
          "Une personne danse: café, naïve, déjà vu — 1,5 m/s", "a woman bows and kicks with the left leg"]

EDGES = [
    "", " ", "\t\n", "a man walks", "  a  man\twalks\n\nforward  ", "A  B", "line one\r\nline two",
    "nbsp\u00a0here", "ideographic\u3000space", "em\u2003space", "zero\u200bwidth", "nel\u0085sep\u2028ls",
    "Walk 3 steps, 12.5 m; then 100%!", "1234567890 0.001 -7 +3 1e5 2nd 3rd", "9:45am 12/03/2024",
    "a--b...c?! (x) [y] {z} <w> 'q' \"dq\" `bt`", "don't won't y'all", "$5 & 10% @home #tag ~tilde ^caret",
    "café naïve Ünïcödé ÅÆØ ß", "e\u0301 combining acute", "ｆｕｌｌ ｗｉｄｔｈ", "ﬁ ligature ½ ² ™",
    "日本語 テキスト 中文", "Привет мир", "مرحبا", "emoji 🙂👍🏽 here", "\U0001F600", "tab\tand\vvt\fff",
    "</s>", "walk</s>", "x</s>y", "a <pad> b <unk> c", "<extra_id_0> and <extra_id_10> and <extra_id_99>",
    "<extra_id_100> is text", "</ s> <s> not special", "UPPER lower MiXeD", "x" * 600,
]


@pytest.fixture(scope="module")
def corpus():
    path = REFERENCE / "motionmillion_eval_prompts.txt"
    if path.is_file():
        lines = [s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
        assert len(lines) == 126
        return lines
    return INLINE


@pytest.fixture(scope="module")
def release_folder(tmp_path_factory, corpus):
    """``checkpoints/models--google--flan-t5-xl/snapshots/<hash>/`` with a sentencepiece model
    trained on ``corpus`` (T5's ids: pad 0, eos 1, unk 2), flan-t5-xl's tokenizer_config.json and
    a tiny random T5 encoder."""
    from transformers import T5Config, T5EncoderModel

    root = tmp_path_factory.mktemp("ck") / "checkpoints"
    snap = root / "models--google--flan-t5-xl" / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_prefix=str(snap / "spiece"),
                                   vocab_size=500, hard_vocab_limit=False, model_type="unigram", pad_id=0,
                                   eos_id=1, unk_id=2, bos_id=-1, minloglevel=2)
    (snap / "spiece.vocab").unlink()
    n = spm.SentencePieceProcessor(model_file=str(snap / "spiece.model")).get_piece_size()
    extra = [f"<extra_id_{i}>" for i in range(100)]
    (snap / "tokenizer_config.json").write_text(json.dumps(
        {"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "extra_ids": 100,
         "additional_special_tokens": extra, "model_max_length": 512, "tokenizer_class": "T5Tokenizer"}))
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=n + 100, d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2,
                   decoder_start_token_id=0)
    T5EncoderModel(cfg).save_pretrained(str(snap))
    return root, snap


def release_ids(sp, text, n_extra=100):
    """The slow tokenizer's ids, written out: special tokens are cut out first (longest match),
    the rest goes through sentencepiece, one ``</s>`` ends the row, 512 ids at most."""
    n = sp.get_piece_size()
    special = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{f"<extra_id_{i}>": n + n_extra - 1 - i for i in range(n_extra)}}
    out, rest = [], text
    while rest:
        hits = [(rest.find(s), -len(s), s) for s in special if s in rest]
        if not hits:
            out += sp.encode(rest)
            break
        at, _, s = min(hits)
        out += sp.encode(rest[:at]) + [special[s]]
        rest = rest[at + len(s):]
    out = out[:511]
    return out if out and out[-1] == 1 else out + [1]


def _strings(corpus):
    mutated = [p.upper() for p in corpus[:20]] + ["  " + p.replace(" ", "\t") + "\n" for p in corpus[:20]]
    return corpus + mutated + EDGES


def test_ids_are_the_slow_tokenizers_on_the_corpus_and_edge_cases(release_folder, corpus):
    root, snap = release_folder
    enc = T5TextEncoder(root / "flan-t5-xl")  # the built-in spec's path; found in the cache beside it
    assert enc.folder == snap and isinstance(enc.tokenizer, T5SentencePieceTokenizer)
    sp = spm.SentencePieceProcessor(model_file=str(snap / "spiece.model"))
    strings = _strings(corpus)
    for s in strings:
        assert enc.tokenizer.ids(s) == release_ids(sp, s), repr(s)
    assert enc.tokenizer.ids("walk</s>")[-2:] != [1, 1] and len(enc.tokenizer.ids("x" * 600)) <= 512
    # a batch: rows right-padded with <pad>, the mask on each row's ids
    batch = enc.tokenizer(strings, padding=True, truncation=True, return_tensors="pt")
    for row, m, s in zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist(), strings):
        n = sum(m)
        assert row[:n] == release_ids(sp, s) and set(row[n:]) <= {0} and m == [1] * n + [0] * (len(m) - n)


def test_the_encoder_sees_those_ids(release_folder, corpus):
    root, snap = release_folder
    enc = T5TextEncoder(root / "models--google--flan-t5-xl")
    sp = spm.SentencePieceProcessor(model_file=str(snap / "spiece.model"))
    texts = corpus[:3]
    feats, mask = enc.encode(texts)
    for b, t in enumerate(texts):
        ids = torch.tensor([release_ids(sp, t)])
        with torch.no_grad():
            ref = enc.model(input_ids=ids).last_hidden_state[0]
        n = int(mask[b].sum())
        assert n == min(ids.shape[1], 150)
        torch.testing.assert_close(feats[b, :n], ref[:n].float(), rtol=1e-4, atol=1e-5)


def test_where_transformers_fast_tokenizer_agrees(release_folder, corpus):
    """transformers 5's ``T5Tokenizer`` (the tokenizers library, converted from the same
    spiece.model) gives the same ids on the prompts and ordinary text; it splits at Unicode
    spaces that sentencepiece's normaliser keeps (U+0085, U+2028) and adds a second ``</s>`` to
    a text ending in one, so there the slow ids are the release's."""
    from transformers import T5Tokenizer

    _, snap = release_folder
    fast = T5Tokenizer.from_pretrained(str(snap))
    ours = T5SentencePieceTokenizer(snap)
    ordinary = [s for s in _strings(corpus) if not any(c in s for c in "\u0085\u2028") and not s.endswith("</s>")]
    differ = [s for s in ordinary if fast(s, truncation=True)["input_ids"] != ours.ids(s)]
    assert not differ, differ


def test_a_folder_without_spiece_model_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="spiece.model"):
        T5SentencePieceTokenizer(tmp_path)
