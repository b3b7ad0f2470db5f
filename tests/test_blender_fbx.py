"""FBX export in real Blender: re-imported files reproduce the core FK on every frame."""

from __future__ import annotations

import math

import numpy as np
import pytest
from blender_helpers import SMPLX_TO_BLENDER, bpy, reset, synthetic_motion, world_heads

from motionprompt.body.motion import Motion
from motionprompt.body.skeleton import BODY_JOINT_NAMES

from blender_addon import armature, fbx_export, keys  # noqa: E402

#: Blender's FBX importer starts the animation one frame later than the exported range.
IMPORT_SHIFT = 1


def _export_and_reimport(motion, tmp_path, preset, root_motion="pelvis"):
    reset()
    obj = armature.build_armature("SMPLX", motion.rest_offsets())
    keys.apply_motion(obj, motion, root_motion=root_motion)
    bpy.context.scene.frame_end = 10  # the export must still cover the whole action
    path = fbx_export.export_fbx(obj, tmp_path / f"{preset}.fbx", preset)
    assert path.is_file() and not list(tmp_path.glob(".*part*"))
    assert bpy.context.scene.frame_end == 10, "export restores the scene"
    reset()
    bpy.context.scene.render.fps = 30
    bpy.ops.import_scene.fbx(filepath=str(path))
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert len(arms) == 1 and arms[0].name == "SMPLX"
    return arms[0]


def _fbx_nodes(path) -> tuple[dict, dict]:
    """(model name -> {property: values}, global settings) read from the FBX file itself."""
    parse_fbx = pytest.importorskip("io_scene_fbx.parse_fbx")
    root, _ = parse_fbx.parse(str(path))

    def props(elem):
        p70 = [e for e in elem.elems if e.id == b"Properties70"]
        return {p.props[0].decode(): list(p.props[4:]) for p in (p70[0].elems if p70 else [])}

    objects = next(e for e in root.elems if e.id == b"Objects")
    models = {m.props[1].split(b"\x00")[0].decode(): props(m) for m in objects.elems if m.id == b"Model"}
    return models, props(next(e for e in root.elems if e.id == b"GlobalSettings"))


def _check(arm, motion, frames, tol=1e-3):
    T = motion.num_frames
    action = arm.animation_data.action
    assert tuple(action.frame_range) == (1 + IMPORT_SHIFT, T + IMPORT_SHIFT), "every frame exported"
    assert [b.name for b in arm.data.bones if b.name.endswith("_end")] == [], "no leaf bones"
    fk = motion.joint_positions() @ SMPLX_TO_BLENDER.T
    for f in frames:
        err = np.abs(world_heads(arm, BODY_JOINT_NAMES, 1 + f + IMPORT_SHIFT) - fk[f]).max()
        assert err < tol, f"frame {f}: re-imported bone heads off the core FK by {err:.2e} m"


@pytest.mark.parametrize("preset", ["blender", "unity", "unreal"])
def test_fbx_roundtrip_synthetic(tmp_path, preset):
    motion = synthetic_motion(T=45, seed=5)
    root_motion = "root" if preset == "unreal" else "pelvis"
    arm = _export_and_reimport(motion, tmp_path, preset, root_motion)
    _check(arm, motion, (0, 13, 30, 44))
    models, settings = _fbx_nodes(tmp_path / f"{preset}.fbx")
    assert set(models) >= {"SMPLX", "root", *BODY_JOINT_NAMES} and not any(n.endswith("_end") for n in models)
    if preset in ("unity", "unreal"):  # read by the engines: upright, Y up, no root rotation or scale
        assert settings["UpAxis"] == [1]
        assert np.allclose(models["SMPLX"]["Lcl Rotation"], 0.0, atol=1e-3)
        assert np.allclose(models["SMPLX"].get("Lcl Scaling", [1, 1, 1]), 1.0)
        unit_cm = {"unity": 100.0, "unreal": 1.0}[preset]
        assert settings["UnitScaleFactor"][0] == pytest.approx(unit_cm)
        pelvis_cm = np.linalg.norm(models["pelvis"]["Lcl Translation"]) * unit_cm
        assert 50.0 < pelvis_cm < 150.0  # the pelvis stands about a metre above the root, in any unit
    if preset == "unity":  # the +-90 X convention: the file's root node carries no rotation,
        # which Blender's importer shows as exactly its own Y-up -> Z-up +90 degrees
        assert np.allclose(tuple(arm.rotation_euler), (math.pi / 2, 0.0, 0.0), atol=1e-6)
        assert np.allclose(tuple(arm.scale), (1.0, 1.0, 1.0))
    if preset == "unreal":  # centimetres in the data: the importer scales the object by 0.01
        assert np.allclose(tuple(arm.scale), (0.01, 0.01, 0.01), atol=1e-6)
        pelvis_rest = np.array(arm.data.bones["pelvis"].head_local)
        assert np.linalg.norm(pelvis_rest) > 50.0


def test_fbx_roundtrip_real_clip(tmp_path, real_clip):
    motion = Motion.from_272(real_clip["x272"][:150])
    arm = _export_and_reimport(motion, tmp_path, "unity")
    _check(arm, motion, (0, 37, 101, 149))


def test_fbx_export_refuses_armature_without_action(tmp_path):
    reset()
    obj = armature.build_armature("SMPLX")
    with pytest.raises(ValueError, match="no action"):
        fbx_export.export_fbx(obj, tmp_path / "x.fbx", "unity")
    with pytest.raises(ValueError, match="unknown FBX preset"):
        fbx_export.export_fbx(obj, tmp_path / "x.fbx", "maya")
