"""Generator and the generate / batch commands on a tiny random model written to disk
(MiniLM text encoder, tiny prefix-LM and VQ-VAE in safetensors, a TOML description)."""

from __future__ import annotations

import copy
import json
import threading

import numpy as np
import pytest
import torch

from motionprompt.app.batch import Job, run_jobs
from motionprompt.app.cli import main
from motionprompt.app.prompts import PromptFileError, read_prompts
from motionprompt.app.rundir import RunDir
from motionprompt.body import rep272
from motionprompt.body.motion import Motion
from motionprompt.files.layout import short_name
from motionprompt.generation.generator import Generator, segment_seed
from motionprompt.generation.sampler import SamplingConfig, reference_sample
from motionprompt.request import Cancelled, GenerateRequest
from motionprompt.text.segments import fit_lengths

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def gen(model_toml):
    return Generator.from_spec(str(model_toml))


def test_generate_returns_denormalised_motions_reproducibly(gen):
    prompts = ["a man walks forward", "a woman jumps twice and then sits down on a chair"]
    steps = []
    ms = gen.generate(GenerateRequest(prompts, seconds=3, seeds=[4, 5]), progress=lambda s, t: steps.append((s, t)))
    assert [m.prompt for m in ms] == prompts and [m.seed for m in ms] == [4, 5]
    assert steps[-1] == (45, 45)
    for m in ms:
        assert isinstance(m, Motion) and m.fps == 30 and m.source == "tiny-test"
        assert 2 <= m.num_frames <= 90 and m.num_frames == 2 * m.meta["tokens"]
    again = gen.generate(GenerateRequest(prompts[1:], seconds=3, seeds=[5]))  # alone, same seed: same motion
    np.testing.assert_allclose(again[0].features, ms[1].features, atol=1e-5)
    # the frames are the decoder's output de-normalised with the model's statistics
    feats, mask = gen.text_encoder.encode(prompts[:1])
    codes = gen.sampler.sample(feats, mask, seeds=[4], cfg=SamplingConfig(max_tokens=45))[0]
    with torch.no_grad():
        x = gen.vqvae.decode(codes[None])[0].numpy()
    np.testing.assert_allclose(ms[0].features, rep272.denormalize(x.astype(np.float64), gen.mean, gen.std), atol=1e-5)


def test_guidance_from_the_model_description_steers_from_the_empty_prompt(gen):
    """``guidance`` in the model's TOML is the default; its null row is the empty prompt's
    features, exactly as the text encoder gives them."""
    prompts = ["a man walks forward"]
    off = gen.generate(GenerateRequest(prompts, seconds=3, seeds=[4]))[0]
    on = gen.generate(GenerateRequest(prompts, seconds=3, seeds=[4], guidance=3.0))[0]
    assert on.features.shape != off.features.shape or not np.allclose(on.features, off.features)
    f0, m0 = gen.text_encoder.encode([""])
    feats, mask = gen.text_encoder.encode(prompts)
    codes = gen.sampler.sample(feats, mask, seeds=[4], cfg=SamplingConfig(max_tokens=45, guidance=3.0),
                               null_feats=f0[0][m0[0]])[0]
    assert on.meta["tokens"] == len(codes)
    with torch.no_grad():
        x = gen.vqvae.decode(codes[None])[0].numpy()
    np.testing.assert_allclose(on.features, rep272.denormalize(x.astype(np.float64), gen.mean, gen.std), atol=1e-5)
    guided = Generator(gen.spec.replace(extra={**gen.spec.extra, "guidance": 3.0}), gen.text_encoder, gen.lm,
                       gen.vqvae, gen.mean, gen.std)
    assert guided.default_guidance == 3.0
    np.testing.assert_allclose(guided.generate(GenerateRequest(prompts, seconds=3, seeds=[4]))[0].features, on.features, atol=1e-6)


def _alone(gen, text, seed, low, high):
    """One text's codes by the release's loop (no batch, no cache)."""
    f, m = gen.text_encoder.encode([text])
    return reference_sample(gen.lm, f, m, cfg=SamplingConfig(min_tokens=low, max_tokens=high), seed=seed)


@pytest.fixture(scope="module")
def short_gen(gen):
    """The tiny model with a bias towards END, so that motions end after a few tokens."""
    lm = copy.deepcopy(gen.lm)
    head = torch.nn.Linear(lm.lm_head.in_features, lm.lm_head.out_features, bias=True)
    head.weight.data = lm.lm_head.weight.data.clone()
    head.bias.data.zero_()
    head.bias.data[lm.config.end_id] = 3.0
    lm.lm_head = head
    return Generator(gen.spec, gen.text_encoder, lm, gen.vqvae, gen.mean, gen.std)


def test_segment_seeds():
    assert segment_seed(9, 0) == 9
    seeds = [segment_seed(s, k) for s in (0, 1, 2**31 - 1) for k in range(1, 50)]
    assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**31 for s in seeds)


@pytest.mark.parametrize("seconds, min_seconds, fits", [(6, 0, "as chosen"), (1, 0, "cut"), (6, 6, "longer")])
def test_composed_prompt_plays_each_action_alone_in_order(short_gen, seconds, min_seconds, fits):
    """With ``compose`` each action is sampled as if it were the whole prompt (its own seed),
    and the codes of all of them are decoded as one sequence; lengths outside the limits are
    fitted by cutting the longest segments or by holding END off (the free start is kept)."""
    gen = short_gen
    composed = Generator(gen.spec.replace(extra={**gen.spec.extra, "compose": True}), gen.text_encoder, gen.lm,
                         gen.vqvae, gen.mean, gen.std)
    assert composed.default_compose and not gen.default_compose
    prompt = "a man walks forward, then he waves. Next, a jump"
    parts = ["a man walks forward", "he waves", "a jump"]
    high, low = 15 * seconds, max(1, 15 * min_seconds)
    free = [_alone(gen, t, segment_seed(3, k), 1, high) for k, t in enumerate(parts)]
    total = sum(len(c) for c in free)
    assert {"as chosen": low <= total <= high, "cut": total > high, "longer": total < low}[fits], total
    want = fit_lengths([len(c) for c in free], low, high)
    codes = [c[:w] if w <= len(c) else _alone(gen, t, segment_seed(3, k), w, w)
             for k, (t, c, w) in enumerate(zip(parts, free, want))]
    for c, f in zip(codes, free):
        n = min(len(c), len(f))
        assert c[:n].tolist() == f[:n].tolist()

    m, single = composed.generate(GenerateRequest([prompt, "a woman bows"], seconds=seconds, min_seconds=min_seconds, seeds=[3, 3]))
    with torch.no_grad():
        x = gen.vqvae.decode(torch.cat(codes)[None])[0].numpy()
    np.testing.assert_allclose(m.features, rep272.denormalize(x.astype(np.float64), gen.mean, gen.std), atol=1e-5)
    ends = np.cumsum([2 * len(c) for c in codes])  # frames at 30 fps
    assert [s["text"] for s in m.meta["segments"]] == parts
    np.testing.assert_allclose([(s["start"], s["end"]) for s in m.meta["segments"]],
                               np.stack([np.r_[0, ends[:-1]], ends], 1) / 30, atol=1e-4)
    assert m.meta["tokens"] == sum(want) and m.meta["ended"] == (fits == "as chosen")
    # a prompt of one action is generated exactly as without compose
    plain = gen.generate(GenerateRequest(["a woman bows"], seconds=seconds, min_seconds=min_seconds, seeds=[3]))[0]
    np.testing.assert_allclose(single.features, plain.features, atol=1e-6)
    assert "segments" not in single.meta
    off = composed.generate(GenerateRequest([prompt], seconds=seconds, min_seconds=min_seconds, seeds=[3], compose=False))[0]
    assert "segments" not in off.meta


def test_subject_from_the_model_description_is_the_one_who_moves(short_gen):
    """TOML ``subject``: the prefix-LM reads "a person ..." whoever the prompt names; the motion
    keeps the prompt as written, and so do a composed prompt's segments."""
    gen = short_gen
    named = Generator(gen.spec.replace(extra={**gen.spec.extra, "subject": "a person", "compose": True}),
                      gen.text_encoder, gen.lm, gen.vqvae, gen.mean, gen.std)
    m, two = named.generate(GenerateRequest(["the athlete jumps", "a lady waves. Next, claps"], seconds=4, seeds=[3, 4]))
    plain, plain_two = gen.generate(GenerateRequest(["a person jumps", "a person waves. Next, claps"], seconds=4, seeds=[3, 4]))
    np.testing.assert_allclose(m.features, plain.features, atol=1e-6)
    assert m.prompt == "the athlete jumps"
    assert [s["text"] for s in two.meta["segments"]] == ["a lady waves", "claps"]
    codes = [_alone(gen, t, segment_seed(4, k), 1, 60) for k, t in enumerate(["a person waves", "a person claps"])]
    codes = [c[:w] for c, w in zip(codes, fit_lengths([len(c) for c in codes], 1, 60))]
    with torch.no_grad():
        x = gen.vqvae.decode(torch.cat(codes)[None])[0].numpy()
    np.testing.assert_allclose(two.features, rep272.denormalize(x.astype(np.float64), gen.mean, gen.std), atol=1e-5)


def test_cpu_dtype_from_the_model_description(gen, monkeypatch):
    """TOML ``cpu_dtype = "bfloat16"``: the prefix-LM runs in bfloat16 on a CPU that has it
    natively, else in float32; an explicit dtype wins; models without the key stay float32."""
    import motionprompt.generation.generator as generator

    spec = gen.spec.replace(extra={**gen.spec.extra, "cpu_dtype": "bfloat16"})

    def build(s, **kw):  # the LM is converted in place: a copy each time
        return Generator(s, gen.text_encoder, copy.deepcopy(gen.lm), gen.vqvae, gen.mean, gen.std, **kw)

    for native, want in [(True, torch.bfloat16), (False, torch.float32)]:
        monkeypatch.setattr(generator, "native_bf16_cpu", lambda native=native: native)
        g = build(spec)
        assert g.dtype == want and g.lm.lm_head.weight.dtype == want
        m = g.generate(GenerateRequest(["a man walks"], seconds=1, seeds=[1]))[0]
        assert np.all(np.isfinite(m.features)) and m.num_frames == 2 * m.meta["tokens"]
    monkeypatch.setattr(generator, "native_bf16_cpu", lambda: True)
    assert build(spec, dtype=torch.float32).dtype == torch.float32
    assert build(gen.spec).dtype == torch.float32


def test_more_actions_than_tokens_are_dropped_with_warnings(short_gen):
    gen = short_gen
    composed = Generator(gen.spec.replace(extra={**gen.spec.extra, "compose": True}), gen.text_encoder, gen.lm,
                         gen.vqvae, gen.mean, gen.std)
    m = composed.generate(GenerateRequest(["a man walks, then he waves, then a jump"], seconds=0.1, seeds=[1]))[0]
    assert [s["text"] for s in m.meta["segments"]] == ["a man walks", "he waves"] and m.meta["tokens"] == 2
    assert any("3 actions do not fit in 2 motion tokens" in w for w in m.meta["warnings"])
    assert m.meta["warnings"][0].startswith("3 actions in 0.1 s: 0.0 s each, about 1.5 s each needed")


def test_generate_limits_and_cancel(gen):
    ms = gen.generate(GenerateRequest(["a person waves"] * 3, seconds=2, min_seconds=1.5, seeds=[1, 2, 3]))
    assert all(46 <= m.num_frames <= 60 for m in ms)
    with pytest.raises(Cancelled):
        gen.generate(GenerateRequest(["a person waves"], seconds=2), cancel=lambda: True)
    with pytest.raises(ValueError, match="empty prompt"):
        gen.generate(GenerateRequest(["ok", "  "]))


def test_generate_command_writes_the_release_layout(model_toml, tmp_path, capsys):
    rc = main(["generate", "a person waves with the right hand", "--model", str(model_toml), "--seconds", "2",
               "--seed", "9", "--num", "2", "--out-dir", str(tmp_path), "--exp-name", "run", "--no-preview"])
    assert rc == 0
    root = tmp_path / "run"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["0", "1"]
    x = np.load(root / "0" / "0_predict.npy")
    assert x.ndim == 2 and x.shape[1] == 272 and x.shape[0] <= 60
    assert (root / "0" / "0_text.txt").read_text().strip() == "a person waves with the right hand"
    z = np.load(root / "0" / "0_smplx.npz")
    assert z["poses"].shape[0] == x.shape[0]
    recs = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in recs] == [9, 10] and all(r["status"] == "done" for r in recs)
    assert not any((root / k / ".incomplete").exists() for k in ("0", "1"))
    assert str(root / "0") in capsys.readouterr().out
    assert recs[0]["settings"]["compose"] is False and "segments" not in recs[0]
    # --compose: the record lists the actions, in seconds of the written motion
    rc = main(["generate", "a person waves. Next, she jumps", "--model", str(model_toml), "--seconds", "2",
               "--seed", "9", "--out-dir", str(tmp_path), "--exp-name", "composed", "--no-preview", "--compose"])
    rec = json.loads((tmp_path / "composed" / "manifest.jsonl").read_text())
    assert rc == 0 and rec["settings"]["compose"] is True
    assert [s["text"] for s in rec["segments"]] == ["a person waves", "she jumps"]
    assert abs(rec["segments"][-1]["end"] - rec["seconds"]) < 0.05


def test_batch_command_skips_comments_and_resumes(model_toml, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# my prompts\na man walks\n\n  \na woman jumps\n", encoding="utf-8")
    args = ["batch", str(prompts), "--model", str(model_toml), "--seconds", "1", "--seed", "1",
            "--out-dir", str(tmp_path / "out"), "--no-preview"]
    assert main(args) == 0
    root = tmp_path / "out" / "prompts"
    recs = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
    assert [(r["line"], r["prompt"]) for r in recs] == [(2, "a man walks"), (5, "a woman jumps")]
    # simulate a run killed after claiming the second job's folder but before its manifest line
    lines = (root / "manifest.jsonl").read_text().splitlines()
    (root / "manifest.jsonl").write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # torn last line
    (root / recs[1]["folder"] / ".incomplete").write_text(json.dumps({"key": recs[1]["key"]}))
    assert main(args + ["--resume", "--infer_batch_prompt", str(prompts)]) == 0
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert folders == ["0", "1"]  # nothing duplicated
    done = [r for r in RunDir(tmp_path / "out", "prompts").records() if r["status"] == "done"]
    assert sorted(r["key"] for r in done) == sorted(r["key"] for r in recs)


def test_non_utf8_prompt_file_names_the_line(tmp_path, capsys):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"a man walks\nun caf\xe9 dansant\n")
    with pytest.raises(PromptFileError, match="line 2"):
        read_prompts(p)
    assert main(["batch", str(p), "--out-dir", str(tmp_path)]) == 2
    assert "line 2" in capsys.readouterr().err


def _fake_motion(text, seed):
    T = 4
    return Motion(rotations=np.tile(np.eye(3), (T, 22, 1, 1)), root_translation=np.zeros((T, 3)), prompt=text, seed=seed)


def test_one_failing_prompt_is_recorded_and_the_batch_goes_on(tmp_path):
    def generate(texts, seeds):
        if "boom" in texts:
            raise RuntimeError("model exploded")
        return [_fake_motion(t, s) for t, s in zip(texts, seeds)]

    jobs = [Job(line=i + 1, prompt=t, seed=i, texts={0: t}) for i, t in enumerate(["walk", "boom", "run", "sit"])]
    run = RunDir(tmp_path, "exp")
    recs = run_jobs(jobs, run, generate, settings={}, batch_size=2, previews=False, log=lambda s: None)
    status = {r["prompt"]: r["status"] for r in recs}
    assert status == {"walk": "done", "boom": "failed", "run": "done", "sit": "done"}
    failed = next(r for r in run.records() if r["status"] == "failed")
    assert "model exploded" in failed["error"]
    assert len([p for p in (tmp_path / "exp").iterdir() if p.is_dir()]) == 3


def test_rewritten_texts_get_flags_0_and_1(tmp_path):
    job = Job(line=1, prompt="walk", seed=3, texts={0: "walk", 1: "a person walks forward"})
    run = RunDir(tmp_path, "exp")
    recs = run_jobs([job], run, lambda ts, ss: [_fake_motion(t, s) for t, s in zip(ts, ss)], {}, previews=False)
    folder = tmp_path / "exp" / recs[0]["folder"]
    assert (folder / "0_text.txt").read_text().strip() == "walk"
    assert (folder / "1_text.txt").read_text().strip() == "a person walks forward"


def test_numbered_folders_are_claimed_race_free(tmp_path):
    run = RunDir(tmp_path, "exp")
    got, lock = [], threading.Lock()

    def worker(i):
        f = run.claim(Job(line=i, prompt="p"))
        with lock:
            got.append(f.name)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(int, got)) == list(range(16))


def test_short_name_is_safe():
    assert short_name("a/b: c?" + "x" * 60).startswith("a_b_ c_") and short_name("a/b: c?" + "x" * 60).endswith("...")
    assert short_name("walk.") == "walk"


def test_rewrite_reply_parsing_and_fallback(monkeypatch):
    from motionprompt.app import rewrite
    from motionprompt.app.rewrite import rewrite_prompt

    def pipe(messages, **kw):
        assert "walk" in messages[0]["content"]
        return [{"generated_text": messages + [{"role": "assistant", "content": "Sure! {A person walks forward.}"}]}]

    assert rewrite_prompt(pipe, "walk") == "A person walks forward."

    def flaky(messages, **kw):
        if "boom" in messages[0]["content"]:
            raise RuntimeError("rewrite model crashed")
        return pipe(messages)

    monkeypatch.setattr(rewrite, "build_rewriter", lambda path, device="cpu": flaky)
    jobs = [Job(line=1, prompt="walk", texts={0: "walk"}), Job(line=2, prompt="boom walk", texts={0: "boom walk"})]
    logs = []
    assert rewrite.add_rewrites(jobs, "somewhere", "cpu", logs.append) == "used"
    assert jobs[0].texts == {0: "walk", 1: "A person walks forward."}
    assert jobs[1].texts == {0: "boom walk"} and "rewrite failed" in logs[0]


def test_a_write_failure_mid_group_never_reruns_the_jobs_already_done(tmp_path, monkeypatch):
    """A full disk on the third job of a group: jobs 1-2 stay done once, the third is failed
    (its folder kept incomplete for --resume), the fourth is done; nothing duplicated."""
    from motionprompt.app import batch

    real, calls = batch.output_files, []

    def flaky(motion, folder, flag, previews=True, gif_size=960):
        calls.append(motion.prompt)
        if motion.prompt == "c":
            (folder / "0_predict.npy").write_bytes(b"partial")
            raise OSError(28, "No space left on device")
        return real(motion, folder, flag, previews, gif_size)

    monkeypatch.setattr(batch, "output_files", flaky)
    jobs = [Job(line=i + 1, prompt=t, seed=i, texts={0: t}) for i, t in enumerate("abcd")]
    run = RunDir(tmp_path, "exp")
    recs = run_jobs(jobs, run, lambda ts, ss: [_fake_motion(t, s) for t, s in zip(ts, ss)], {}, batch_size=8,
                    previews=False, log=lambda s: None)
    assert [(r["prompt"], r["status"]) for r in recs] == [("a", "done"), ("b", "done"), ("c", "failed"), ("d", "done")]
    assert calls.count("a") == 1 and calls.count("b") == 1
    folders = sorted(p.name for p in (tmp_path / "exp").iterdir() if p.is_dir())
    assert len(folders) == 4 and "No space left" in recs[2]["error"]
    assert list(run.incomplete()) == [jobs[2].key]


def test_resume_with_other_settings_is_refused_unless_asked(model_toml, tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a man walks\n", encoding="utf-8")
    args = ["batch", str(prompts), "--model", str(model_toml), "--seed", "1", "--out-dir", str(tmp_path), "--no-preview"]
    assert main(args + ["--seconds", "1"]) == 0
    assert main(args + ["--seconds", "2", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "seconds: 1.0 -> 2.0" in err and "--allow-changed-settings" in err
    assert main(args + ["--seconds", "1", "--resume"]) == 0
    assert main(args + ["--seconds", "2", "--resume", "--allow-changed-settings"]) == 0


def test_an_unusable_rewrite_model_is_warned_and_recorded(model_toml, tmp_path, capsys):
    assert main(["generate", "a man walks", "--model", str(model_toml), "--seconds", "1", "--no-preview",
                 "--use-rewrite-model", "--rewrite-model-path", str(tmp_path / "nope"), "--out-dir", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "generate" / "manifest.jsonl").read_text())
    assert rec["settings"]["rewrite"].startswith("not used") and "nope" in rec["settings"]["rewrite"]
    assert "warning: rewrite model not available" in capsys.readouterr().err


def test_a_second_resume_of_the_same_run_at_once_is_refused(model_toml, tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a man walks\n", encoding="utf-8")
    args = ["batch", str(prompts), "--model", str(model_toml), "--seconds", "1", "--seed", "1",
            "--out-dir", str(tmp_path), "--no-preview"]
    assert main(args) == 0
    with RunDir(tmp_path, "p").resume_lock():  # another process resuming it
        assert main(args + ["--resume"]) == 2
        assert "being resumed by pid" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0  # free again
