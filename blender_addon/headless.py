"""The add-on's entry for scripts and headless runs (``tools/bake.py``, ``blender -b``): key a
motion onto a fresh SMPL-X armature in an empty scene and export it, as the panel would."""

from __future__ import annotations

from pathlib import Path

import bpy

from . import armature, fbx_export, keys
from .core import atomic_path

__all__ = ["bake_motion"]


def bake_motion(motion, folder: Path, stem: str, fbx_preset: str = "unity", root_motion: str = "pelvis",
                blend: bool = False, body_only: bool = False) -> list[str]:
    """Key ``motion`` (post-processed already) on a new SMPL-X armature in an empty scene and
    write ``<stem>.fbx`` (and ``<stem>.blend``) into ``folder``; a composed prompt's actions
    (``motion.meta["segments"]``) become pose markers. Returns the names written.

    Args:
        fbx_preset: "unity", "unreal" or "blender" (``fbx_export``).
        root_motion: "pelvis" or "root" (``rig.pose_channels``).
    """
    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = armature.build_armature("SMPLX", motion.rest_offsets(), body_only=body_only)
    action = keys.apply_motion(obj, motion, name=(motion.prompt or stem)[:55], root_motion=root_motion)
    keys.mark_segments(action, motion.meta.get("segments") or [], motion.fps)
    fbx_export.export_fbx(obj, folder / f"{stem}.fbx", fbx_preset)
    written = [f"{stem}.fbx"]
    if blend:
        with atomic_path(folder / f"{stem}.blend") as tmp:
            Path(tmp).unlink()  # an existing file would make Blender write a .blend1 backup
            bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, check_existing=False)
        written.append(f"{stem}.blend")
    return written
