"""FBX export of one armature action, with presets for game engines.

Presets (``PRESETS``):
- ``unity``: metres (FBX unit scale carries them, so Unity shows scale 1); Y-up data with the
  +-90 degree X convention: the exported copy's bones are rotated -90 about X and its object
  +90, so the root imports upright with ZERO rotation.
- ``unreal``: centimetres IN the data (armature rest and location keys x100, unit scale 1),
  same upright convention; key with ``root_motion="root"`` for Unreal root motion.
- ``blender``: as is (Blender's default axis conversion, metres).
Every preset: armature only, no leaf bones, baked animation over the action's full frame
range (every frame, no simplification), the active action only (one action per file).
Any rig: its object scale and the scene's unit scale are folded into the exported data, so
a Mixamo rig (centimetres in the data, object scale 0.01) leaves in metres for Unity and in
centimetres for Unreal like our own armature, with object scale 1.
The scene and the armature are left as they were (a temporary copy is exported).
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
from mathutils import Matrix

from . import compat
from .keys import set_frame_range

__all__ = ["PRESETS", "export_fbx"]

#: scale: factor baked into the exported data; upright: the +-90 degree X convention;
#: global_scale with FBX_SCALE_ALL: the FBX UnitScaleFactor is 100 x global_scale (cm per unit).
PRESETS: dict[str, dict] = {
    "unity": {"scale": 1.0, "upright": True, "apply_scale_options": "FBX_SCALE_ALL", "global_scale": 1.0},
    "unreal": {"scale": 100.0, "upright": True, "apply_scale_options": "FBX_SCALE_ALL", "global_scale": 0.01},
    "blender": {"scale": 1.0, "upright": False, "apply_scale_options": "FBX_SCALE_NONE", "global_scale": 1.0},
}


def _scaled_action(action, factor: float):
    """A copy of ``action`` with every location curve multiplied by ``factor``."""
    copy = action.copy()
    for fc in compat.all_fcurves(copy):
        if fc.data_path.endswith(".location") or fc.data_path == "location":
            for kp in fc.keyframe_points:
                kp.co[1] *= factor
                kp.handle_left[1] *= factor
                kp.handle_right[1] *= factor
            fc.update()
    return copy


def export_fbx(obj, path, preset: str = "unity", action=None, scene=None) -> Path:
    """Write ``obj`` (an armature) and one action to ``path`` (.fbx), atomically.

    Args:
        obj: armature object.
        path: output .fbx path.
        preset: "unity", "unreal" or "blender".
        action: the action to bake (default: the object's active action).
    Returns:
        ``path``.
    """
    from .core import atomic_path

    if preset not in PRESETS:
        raise ValueError(f"unknown FBX preset {preset!r}; choose one of {', '.join(PRESETS)}")
    opts = PRESETS[preset]
    action = action or (obj.animation_data.action if obj.animation_data else None)
    if action is None:
        raise ValueError(f"armature {obj.name!r} has no action to export; generate or load a motion first")
    scene = scene or bpy.context.scene
    view_layer = bpy.context.view_layer
    saved_range = (scene.frame_start, scene.frame_end, scene.frame_current)
    saved_select = [o for o in view_layer.objects if o.select_get()]
    saved_active = view_layer.objects.active
    original_name = obj.name

    data = obj.data.copy()
    copy = obj.copy()
    copy.data = data
    copy.animation_data_clear()
    scene.collection.objects.link(copy)
    # metres per data unit: the object's (uniform) scale times the scene's metres per unit
    view_layer.update()  # an object just appended from a .blend has no evaluated matrix yet
    loc, rot, obj_scale = obj.matrix_world.decompose()
    factor = opts["scale"] * obj_scale.x * scene.unit_settings.scale_length
    baked = _scaled_action(action, factor) if abs(factor - 1.0) > 1e-12 else action
    compat.assign_action(copy, baked)
    if opts["upright"]:
        data.transform(Matrix.Rotation(-math.pi / 2, 4, "X"))
    if abs(factor - 1.0) > 1e-12:
        data.transform(Matrix.Scale(factor, 4))
    placed = Matrix.LocRotScale(loc * (factor / obj_scale.x), rot, None)  # the scale now lives in the data
    copy.matrix_world = placed @ Matrix.Rotation(math.pi / 2, 4, "X") if opts["upright"] else placed
    try:
        obj.name = original_name + ".mp_export_source"
        copy.name = original_name  # the FBX armature node keeps the user's name
        set_frame_range(scene, action)
        view_layer.update()  # evaluate the new copy once, or the exporter bakes stale locations
        scene.frame_set(scene.frame_start)
        for o in saved_select:
            o.select_set(False)
        copy.select_set(True)
        view_layer.objects.active = copy
        path = Path(path)
        with atomic_path(path) as tmp:
            bpy.ops.export_scene.fbx(
                filepath=str(tmp), use_selection=True, object_types={"ARMATURE"},
                add_leaf_bones=False, bake_anim=True, bake_anim_use_all_bones=True,
                bake_anim_use_nla_strips=False, bake_anim_use_all_actions=False,
                bake_anim_force_startend_keying=True, bake_anim_step=1.0, bake_anim_simplify_factor=0.0,
                axis_forward="-Z", axis_up="Y", global_scale=opts["global_scale"],
                apply_unit_scale=True, apply_scale_options=opts["apply_scale_options"],
                use_armature_deform_only=False, armature_nodetype="NULL",
            )
    finally:
        bpy.data.objects.remove(copy)
        bpy.data.armatures.remove(data)
        if baked is not action:
            bpy.data.actions.remove(baked)
        obj.name = original_name
        for o in saved_select:
            o.select_set(True)
        view_layer.objects.active = saved_active
        scene.frame_start, scene.frame_end = saved_range[:2]
        scene.frame_set(saved_range[2])
    return path
