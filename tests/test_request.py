"""The generation request: every bad option is refused before a model loads, by name, with
exit code 2 and nothing written; the same rules for the CLI, the worker, the panel and bake."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from motionprompt.app.batch import make_jobs
from motionprompt.app.cli import main
from motionprompt.models.model_spec import ModelSpec
from motionprompt.postprocess import PostProcess
from motionprompt.request import GenerateRequest, RequestError

# (flags, the option the message must name): the cases a hostile user tried
BAD = [
    (["--seconds", "1e9"], "--seconds"),
    (["--seconds", "100000"], "--seconds"),
    (["--seconds", "nan"], "--seconds"),
    (["--seconds", "inf"], "--seconds"),
    (["--seconds", "0"], "--seconds"),
    (["--seconds", "-2"], "--seconds"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--batch-size", "0"], "--batch-size"),
    (["--fps", "0"], "--fps"),
    (["--fps", "-30"], "--fps"),
    (["--fps", "nan"], "--fps"),
    (["--min-seconds", "5", "--seconds", "2"], "--min-seconds"),
    (["--min-seconds", "-1"], "--min-seconds"),
    (["--seed", "12345678901234567890"], "--seed"),
    (["--seed", "-1"], "--seed"),
    (["--device", "tpu"], "--device"),
    (["--device", "cuda:7"], "--device"),
    (["--num", "0"], "--num"),
    (["--temperature", "0"], "--temperature"),
    (["--top-k", "-1"], "--top-k"),
    (["--top-p", "1.5"], "--top-p"),
    (["--guidance", "-1"], "--guidance"),
]


@pytest.mark.parametrize("flags,option", BAD, ids=[" ".join(f) for f, _ in BAD])
def test_bad_option_exits_2_naming_it_before_any_model_loads(flags, option, tmp_path, capsys):
    out = tmp_path / "out"
    t0 = time.perf_counter()
    rc = main(["generate", "a person waves", "--out-dir", str(out), *flags])
    took = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert rc == 2
    assert option in err and "Traceback" not in err, err
    assert not out.exists()  # no run folder, manifest or gallery
    assert took < 1.0, f"{took:.2f} s: the model was loaded before the options were checked?"


def test_a_cpu_only_torch_refuses_cuda_without_importing_torch(tmp_path):
    """In a fresh Python: --device cuda on this machine's CPU-only torch is refused with exit 2
    and torch never imported (so the answer comes in a fraction of a second)."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = ("import sys; from motionprompt.app.cli import main; "
            f"rc = main(['generate', 'a person waves', '--device', 'cuda', '--out-dir', {str(tmp_path / 'o')!r}]); "
            "print(rc, 'torch' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.split() == ["2", "False"], p.stdout + p.stderr
    assert "--device" in p.stderr and "CPU-only" in p.stderr
    assert not (tmp_path / "o").exists()


def test_longest_motion_is_made_in_windows_up_to_ten_minutes():
    """One pass holds the model's own longest motion; past it the generator makes windows,
    up to LONGEST_SECONDS."""
    spec = ModelSpec.load("demo")
    assert spec.max_seconds == pytest.approx((spec.lm.block_size - 1) * 2 / 30)
    GenerateRequest(["walk"], seconds=spec.max_seconds).validate(max_seconds=spec.max_seconds)
    with pytest.raises(RequestError, match=r"seconds: .*windows of the model's 12 s.*\(0, 600\]"):
        GenerateRequest(["walk"], seconds=600.5).validate(max_seconds=spec.max_seconds)
    GenerateRequest(["walk"], seconds=spec.max_seconds + 0.1).validate(max_seconds=spec.max_seconds)  # in windows


def test_top_k_zero_is_off_everywhere():
    assert GenerateRequest(["walk"], top_k=0).validate().top_k is None
    assert GenerateRequest.from_json({"prompts": ["walk"], "top_k": 0}).validate().top_k is None
    assert GenerateRequest(["walk"], top_k=5).validate().top_k == 5


def test_every_line_of_a_batch_starts_from_the_same_seed():
    """batch and bake: a prompt's motions do not depend on where it stands in the file."""
    jobs = make_jobs([(1, "walk"), (4, "wave")], seed=7, num=2)
    assert [(j.line, j.sample, j.seed) for j in jobs] == [(1, 0, 7), (1, 1, 8), (4, 0, 7), (4, 1, 8)]


def test_worker_json_round_trip_and_unknown_fields():
    req = GenerateRequest(["walk", "wave"], seeds=[1, 2], seconds=3.0, compose=False, post=PostProcess(fps=24))
    wire = json.loads(json.dumps(req.to_json()))
    assert GenerateRequest.from_json({"cmd": "generate", "id": "g1", **wire}) == req
    with pytest.raises(RequestError, match="secnds: not a request option"):
        GenerateRequest.from_json({"prompts": ["walk"], "secnds": 3})
    with pytest.raises(RequestError, match="root"):
        GenerateRequest.from_json({"prompts": ["walk"], "root": "sideways"}).validate()
    with pytest.raises(RequestError, match="seeds: need one seed per prompt"):
        GenerateRequest(["a", "b"], seeds=[1]).validate()
    with pytest.raises(RequestError, match="empty prompt"):
        GenerateRequest(["a", " "]).validate()


def test_batch_checks_the_prompt_file_before_the_model(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("walk\nwave\n", encoding="utf-8")
    rc = main(["batch", str(prompts), "--seconds", "nan", "--out-dir", str(tmp_path / "out")])
    assert rc == 2 and "--seconds" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_an_out_dir_that_is_a_file_or_not_writable_exits_2(tmp_path, capsys):
    import os

    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["generate", "a person waves", "--out-dir", str(f)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["generate", "a person waves", "--out-dir", str(f / "sub")]) == 2
    assert "is a file" in capsys.readouterr().err
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        assert main(["generate", "a person waves", "--out-dir", str(ro / "out")]) == 2
        assert "not writable" in capsys.readouterr().err
