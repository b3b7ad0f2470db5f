"""The extension zip: manifest at the top, the vendored pure-Python core, and it registers."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from blender_helpers import REPO, bpy, reset

sys.path.insert(0, str(REPO / "tools"))
import build_addon  # noqa: E402


def test_zip_carries_manifest_addon_and_vendored_core(tmp_path):
    fake_wheel = tmp_path / "scipy-1.0-cp311-none-any.whl"
    fake_wheel.write_bytes(b"PK")
    out = build_addon.build(tmp_path / "mp.zip", [fake_wheel])
    names = zipfile.ZipFile(out).namelist()
    assert names[0] == "blender_manifest.toml"
    for need in ("__init__.py", "armature.py", "keys.py", "fbx_export.py", "operators.py", "panel.py",
                 "vendor/__init__.py", "vendor/motionprompt/body/rotations.py", "vendor/motionprompt/files/formats.py",
                 "vendor/motionprompt/data/motionmillion_mean.npy", "wheels/scipy-1.0-cp311-none-any.whl"):
        assert need in names, need
    assert not any(n.endswith(("generator.py", "prefix_lm.py", "worker.py")) or "__pycache__" in n for n in names)
    manifest = tomllib.loads(zipfile.ZipFile(out).read("blender_manifest.toml").decode())
    assert manifest["id"] == "motionprompt" and manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0"
    assert manifest["wheels"] == ["./wheels/scipy-1.0-cp311-none-any.whl"]
    assert "files" in manifest["permissions"]


def test_unpacked_zip_uses_its_vendored_core_and_registers(tmp_path):
    out = build_addon.build(tmp_path / "mp.zip")
    pkg = tmp_path / "mp_unpacked"
    zipfile.ZipFile(out).extractall(pkg)
    sys.path.insert(0, str(tmp_path))
    try:
        reset()
        addon = importlib.import_module("mp_unpacked")
        core = importlib.import_module("mp_unpacked.core")
        assert core.motionprompt.__name__ == "mp_unpacked.vendor.motionprompt"
        addon.register()
        assert hasattr(bpy.types.Scene, "motionprompt")
        obj = importlib.import_module("mp_unpacked.armature").build_armature("SMPLX")
        assert len(obj.data.bones) == 56
        addon.unregister()
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("mp_unpacked")]:
            del sys.modules[name]


def test_blender_validates_the_extension_zip(tmp_path):
    tool = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    if not tool.is_file():
        pytest.skip("Blender's extension tool (bl_pkg) is not in this Blender")
    out = build_addon.build(tmp_path / "mp.zip")
    p = subprocess.run([sys.executable, str(tool), "validate", str(out)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "Success" in p.stdout, p.stdout + p.stderr


def test_unpacked_zip_keys_a_motion_without_scipy_or_torch(tmp_path):
    """A stock Blender has numpy but neither scipy nor torch: the zip's vendored core must load
    a motion file, build the armature and key it there. Run in a fresh interpreter with both
    imports blocked."""
    out = build_addon.build(tmp_path / "mp.zip")
    zipfile.ZipFile(out).extractall(tmp_path / "mp_stock")
    rng = np.random.default_rng(0)
    mean = np.load(REPO / "core" / "motionprompt" / "data" / "motionmillion_mean.npy")
    std = np.load(REPO / "core" / "motionprompt" / "data" / "motionmillion_std.npy")
    np.save(tmp_path / "m.npy", mean + 0.2 * std * rng.normal(size=(20, 272)))
    script = f"""
import sys
for blocked in ("scipy", "torch", "motionprompt"):
    sys.modules[blocked] = None  # an import of any of these now fails
sys.path.insert(0, {str(tmp_path)!r})
import bpy, importlib
bpy.ops.wm.read_factory_settings(use_empty=True)
addon = importlib.import_module("mp_stock")
addon.register()
core = importlib.import_module("mp_stock.core")
assert core.motionprompt.__name__ == "mp_stock.vendor.motionprompt", core.motionprompt.__name__
motion = core.formats.load_motion({str(tmp_path / "m.npy")!r})
obj = importlib.import_module("mp_stock.armature").build_armature("SMPLX")
action = importlib.import_module("mp_stock.keys").apply_motion(obj, motion)
assert bpy.context.scene.frame_end == 20, bpy.context.scene.frame_end
print("KEYED", len(obj.pose.bones))
addon.unregister()
"""
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "KEYED 56" in p.stdout, p.stdout + p.stderr
