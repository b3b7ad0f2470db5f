"""bench/gpu_sampler.py stays one command that prints one JSON line: its dry run on the CPU
(tiny shapes) goes through every section a GPU run takes, and the fp32 tokens match the
release loop's; without CUDA the default command says so and exits 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench" / "gpu_sampler.py"


def _run(*args: str) -> tuple[dict, str]:
    p = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.strip().splitlines()
    return json.loads(lines[-1]), p.stdout


def test_the_dry_run_takes_every_section_and_matches_the_release_loop():
    summary, out = _run("--device", "cpu", "--preset", "tiny", "--tokens", "6", "--prompts", "40")
    assert "error" not in summary and "memory_fit_error" not in summary, out
    assert summary["fp32_tokens_identical"] is True
    assert summary["prompts"] == 40
    for key in ("batch1_graph_s", "batch1_eager_s", "all_greedy_s", "all_sampled_s", "release_batch1_s"):
        assert summary[key] > 0, key
    for B in (16, 32):
        for where in ("resident", "offloaded"):
            assert f"peak_b{B}_{where}_gib" in summary  # None on the CPU: peaks are CUDA's


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the real figures")
def test_without_cuda_the_default_command_says_so():
    summary, out = _run()
    assert summary == {"device": None, "error": "no CUDA device"} and "no CUDA device here" in out
