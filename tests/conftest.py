"""Shared fixtures: the ../shared reference data (skipped cleanly when absent); the ``blender``
marker on every test that runs Blender; a clean exit from the bpy module of Blender 4.x."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE = SHARED / "reference"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder beside the repository (a developer's machine only)."""
    if not SHARED.is_dir():
        pytest.skip("../shared reference data not present (only on a developer's machine)")
    return SHARED


@pytest.fixture(scope="session")
def reference_dir(shared_dir) -> Path:
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference not present")
    return REFERENCE


@pytest.fixture(scope="session")
def real_clip(reference_dir):
    """The real mocap clip: dict with x272 (T, 272), smplx85 (T, 85), joints55 (T, 55, 3)."""
    names = {"x272": "clip000000_272.npy", "smplx85": "clip000000_smplx85.npy", "joints55": "clip000000_joints55.npy"}
    out = {}
    for key, name in names.items():
        path = reference_dir / name
        if not path.is_file():
            pytest.skip(f"{path} not present")
        out[key] = np.load(path).astype(np.float64)
    return out


@pytest.fixture(scope="session")
def model_toml(tmp_path_factory):
    """A tiny random model on disk (MiniLM text encoder, tiny prefix-LM and FSQ VQ-VAE in
    safetensors, a TOML description): the real model stack at test size. torch is imported
    here, not at the top, so tests that do not need it stay light."""
    import torch

    from motionprompt.models.checkpoints import save_state_dict
    from motionprompt.models.model_spec import ModelSpec
    from motionprompt.models.configs import VQVAE_PRESETS, LMConfig, VQVAEConfig
    from motionprompt.models.prefix_lm import PrefixLM
    from motionprompt.models.vqvae import HumanVQVAE

    d = tmp_path_factory.mktemp("tiny_model")
    torch.manual_seed(0)
    vqc = VQVAEConfig(**VQVAE_PRESETS["tiny"])
    lmc = LMConfig.from_preset("tiny", vocab_size=vqc.nb_code + 2, clip_dim=384)
    lm = PrefixLM(lmc).init_weights()
    lm.lm_head.weight.data[lmc.end_id] *= 4  # rows end at different lengths
    save_state_dict(lm, d / "lm.safetensors")
    save_state_dict(HumanVQVAE(vqc), d / "vq.safetensors")
    spec = ModelSpec(name="tiny-test", text_encoder=dict(kind="minilm", path=None, max_tokens=150, pooling="none"),
                     lm=lmc, lm_checkpoint=d / "lm.safetensors", vqvae=vqc, vqvae_checkpoint=d / "vq.safetensors")
    return spec.write(d / "model.toml")


# ---------------------------------------------------------------------------------------------
# Blender tests: `pytest -m blender` runs them alone (tools/test_all.py, under each bpy version)


def _is_blender_test(item) -> bool:
    """Whether ``item`` runs Blender: its module holds the ``bpy`` module (``blender_helpers``,
    ``import bpy``), or its function imports it itself (``import bpy``, ``pytest.importorskip("bpy")``)."""
    module = getattr(item, "module", None)
    bpy_global = getattr(module, "bpy", None)
    if getattr(bpy_global, "__name__", None) == "bpy":
        return True
    code = getattr(getattr(item, "function", None), "__code__", None)
    if code is None:
        return False
    return "bpy" in code.co_names or ("importorskip" in code.co_names and "bpy" in code.co_consts)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("blender") is None and _is_blender_test(item):
            item.add_marker(pytest.mark.blender)


def pytest_sessionfinish(session, exitstatus):
    session.config._motionprompt_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Under bpy 4.x, end the process here, with pytest's exit status, once everything is
    reported: after the Rigify tests their ``bpy`` module crashes at interpreter exit (4.2, a
    segfault in ``bpy_class_free``) or hangs there (4.5, a condition variable destroyed while
    a thread waits on it); see blender_addon/compat.py. The Blender program is not affected,
    and bpy 5.0 exits cleanly, so it exits as usual."""
    bpy = sys.modules.get("bpy")
    status = getattr(config, "_motionprompt_exitstatus", None)
    if bpy is None or status is None or tuple(bpy.app.version) >= (5, 0, 0):
        return
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(status)
