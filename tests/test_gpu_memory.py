"""Peak GPU memory in the manifest (``generation.devices``; nothing on a CPU) and the text
encoder offloaded to CPU memory between encodings, with torch's CUDA calls mocked."""

from __future__ import annotations

import json

import numpy as np
import torch

from motionprompt.app.batch import Job, run_jobs
from motionprompt.app.cli import main
from motionprompt.app.rundir import RunDir
from motionprompt.body.motion import Motion
from motionprompt.generation import devices
from motionprompt.generation.generator import OffloadedTextEncoder


def test_peak_is_read_on_cuda_only(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d=None: calls.append(("peak", d)) or 3 * 2**30 + 2**19)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda d=None: calls.append(("reset", d)))
    cuda = torch.device("cuda:1")
    devices.reset_gpu_peak(cuda)
    assert devices.gpu_peak_mb(cuda) == 3072.5 and calls == [("reset", cuda), ("peak", cuda)]
    calls.clear()
    devices.reset_gpu_peak(torch.device("cpu"))
    assert devices.gpu_peak_mb(torch.device("cpu")) is None and calls == []


def test_the_peak_goes_into_the_record(tmp_path):
    def generate(texts, seeds):
        out = []
        for t, s in zip(texts, seeds):
            m = Motion(rotations=np.tile(np.eye(3), (4, 22, 1, 1)), root_translation=np.zeros((4, 3)), prompt=t, seed=s)
            m.meta["gpu_peak_mb"] = 1234.5
            out.append(m)
        return out

    recs = run_jobs([Job(line=1, prompt="walk", seed=1, texts={0: "walk"})], RunDir(tmp_path, "e"), generate, {},
                    previews=False)
    assert recs[0]["gpu_peak_mb"] == 1234.5


def test_a_cpu_run_records_no_peak(model_toml, tmp_path):
    assert main(["generate", "a man walks", "--model", str(model_toml), "--seconds", "1", "--no-preview",
                 "--out-dir", str(tmp_path), "--offload-text-encoder"]) == 0
    rec = json.loads((tmp_path / "generate" / "manifest.jsonl").read_text())
    assert rec["status"] == "done" and "gpu_peak_mb" not in rec


class _FakeEncoder:
    """Records where its weights are when it encodes."""

    dim = 4

    def __init__(self):
        self.where, self.log = "cpu", []

    def to(self, device=None, dtype=None):
        if device is not None:
            self.where = str(device)
        self.log.append(("to", str(device), dtype))
        return self

    def encode(self, prompts):
        self.log.append(("encode", self.where))
        return torch.zeros(len(prompts), 2, 4), torch.ones(len(prompts), 2, dtype=torch.bool)


def test_the_offloaded_encoder_is_on_the_device_only_while_it_encodes(monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(1))
    inner = _FakeEncoder()
    enc = OffloadedTextEncoder(inner).to("cuda:0", torch.bfloat16)
    assert inner.where == "cpu" and inner.log == [("to", "cpu", torch.bfloat16)]  # converted, kept in CPU memory
    assert enc.device == torch.device("cuda:0") and enc.dim == 4
    feats, mask = enc.encode(["a", "b"])
    assert feats.shape == (2, 2, 4) and inner.log[-2] == ("encode", "cuda:0") and inner.where == "cpu"
    assert emptied == [1]
