"""3D Viewport > Sidebar > Motion."""

from __future__ import annotations

import time

import bpy

from . import backend, history, properties

__all__ = ["CLASSES", "UI_LISTS"]


class _MotionPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Motion"


class MOTIONPROMPT_PT_generate(_MotionPanel, bpy.types.Panel):
    bl_label = "Text to Motion"
    bl_idname = "MOTIONPROMPT_PT_generate"

    def draw(self, context):
        s = context.scene.motionprompt
        layout = self.layout
        layout.prop(s, "prompt", text="")
        col = layout.column(align=True)
        col.prop(s, "seconds")
        row = col.row(align=True)
        row.prop(s, "seed")
        row.operator("motionprompt.random_seed", text="", icon="FILE_REFRESH")
        col.prop(s, "temperature")
        col.prop(s, "top_k")
        col.prop(s, "num")
        col.prop(s, "compose")
        col.prop(s, "caption_rewrite")
        layout.prop(s, "model")
        if s.model == "FILE":
            layout.prop(s, "model_file", text="")
        be = backend.current_backend()
        layout.label(text=be.status() if be is not None else "backend: starts on Generate", icon="INFO")
        if s.running:
            elapsed = time.time() - s.started
            text = f"{s.status}  {elapsed:.0f} s  (Esc cancels)"
            layout.progress(factor=s.progress, type="BAR", text=text)  # 4.0+: every supported Blender (compat)
            layout.operator("motionprompt.cancel", icon="CANCEL")
        else:
            layout.operator("motionprompt.generate", icon="PLAY")
            row = layout.row(align=True)
            row.operator("motionprompt.continue_take", icon="FF").place = s.continue_place
            row.operator("motionprompt.inbetween", icon="IPO_EASE_IN_OUT").place = s.continue_place
            layout.prop(s, "continue_place")
            if s.status:
                layout.label(text=s.status)


class MOTIONPROMPT_PT_keys(_MotionPanel, bpy.types.Panel):
    bl_label = "Armature and Keys"
    bl_parent_id = "MOTIONPROMPT_PT_generate"

    def draw(self, context):
        s = context.scene.motionprompt
        col = self.layout.column()
        col.prop(s, "target")
        if s.target == "SELECTED":
            draw_bone_map(context, s, col.column())
        col.prop(s, "root_motion")
        col.prop(s, "rest")
        if s.rest == "SMPLX":
            col.prop(s, "smplx_dir")
        col.prop(s, "body_only")
        col.prop(s, "frame_start")
        col.prop(s, "fps_mode")
        col.operator("motionprompt.load_motion", icon="IMPORT")


class MOTIONPROMPT_PT_cleanup(_MotionPanel, bpy.types.Panel):
    bl_label = "Cleanup"
    bl_parent_id = "MOTIONPROMPT_PT_generate"

    def draw(self, context):
        s = context.scene.motionprompt
        col = self.layout.column()
        row = col.row(align=True)
        row.prop(s, "foot_lock")
        sub = row.row(align=True)
        sub.active = s.foot_lock != "off"
        sub.prop(s, "lock_strength")
        row = col.row(align=True)
        row.prop(s, "trim_start")
        row.prop(s, "trim_end")
        row = col.row(align=True)
        row.prop(s, "loop")
        sub = row.row(align=True)
        sub.active = s.loop
        sub.prop(s, "loop_seconds")
        col.prop(s, "path_curve")
        col.label(text="New takes get these; the button re-keys the active action", icon="INFO")
        col.operator("motionprompt.apply_cleanup", icon="MOD_SMOOTH")


def draw_coverage(layout, ok: bool, line: str) -> None:
    """The coverage line (the unmapped joints on a line of their own), or the error."""
    if not ok:
        layout.label(text=line, icon="ERROR")
        return
    head, _, unmapped = line.partition("; ")
    layout.label(text=head, icon="INFO" if unmapped else "CHECKMARK")
    if unmapped:
        layout.label(text=unmapped)


def draw_bone_map(context, s, col) -> None:
    """The Selected target's bone map: the setting, its coverage line or error, the custom map editor."""
    col.prop(s, "bone_map")
    if s.bone_map == "FILE":
        col.prop(s, "bone_map_file", text="")
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        col.label(text="Select the armature to key (make it active)", icon="ERROR")
        return
    try:
        ok, line = properties.map_status(s, obj)
    except Exception as e:  # noqa: BLE001 - a panel never raises: show it
        ok, line = False, f"{type(e).__name__}: {e}"
    draw_coverage(col, ok, line)
    if s.bone_map != "CUSTOM":
        return
    col.label(text=f"Custom map of {obj.name!r}:")
    row = col.row()
    row.template_list("MOTIONPROMPT_UL_bone_map", "", obj, "motionprompt_bone_map",
                      obj, "motionprompt_bone_map_index", rows=6)
    side = row.column(align=True)
    side.operator("motionprompt.bone_map_add", text="", icon="ADD")
    side.operator("motionprompt.bone_map_remove", text="", icon="REMOVE")
    col.prop_search(obj, "motionprompt_bone_map_root", obj.data, "bones", text="Root")
    row = col.row(align=True)
    row.operator("motionprompt.bone_map_detect", icon="VIEWZOOM")
    row.operator("motionprompt.bone_map_save", icon="EXPORT")
    row.operator("motionprompt.bone_map_load", icon="IMPORT")


class MOTIONPROMPT_UL_bone_map(bpy.types.UIList):
    """The rows of an armature's custom bone map: bone, SMPL-X joint (and toward / t for chain bones)."""

    bl_idname = "MOTIONPROMPT_UL_bone_map"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        bones = data.data if getattr(data, "type", None) == "ARMATURE" else None
        if bones is not None:
            row.prop_search(item, "bone", bones, "bones", text="")
        else:
            row.prop(item, "bone", text="")
        row.prop(item, "joint", text="")
        if item.t > 0.0:
            row.prop(item, "toward", text="")
        row.prop(item, "t", text="")


class MOTIONPROMPT_PT_history(_MotionPanel, bpy.types.Panel):
    bl_label = "History"
    bl_parent_id = "MOTIONPROMPT_PT_generate"

    def draw(self, context):
        obj = context.active_object
        items = history.history(obj)
        if not items:
            self.layout.label(text="No generations on the active armature")
            return
        active = obj.animation_data.action
        if active is None:  # strip continuations: the one the NLA plays at the playhead
            active = (history.playing(obj, context.scene.frame_current) or (None,))[0]
        for act in reversed(items):
            row = self.layout.row(align=True)
            seed = act.get(history.PROPS["seed"])
            label = f"{act.name}" + (f"  #{seed}" if seed is not None else "")
            row.label(text=label, icon="PLAY" if act == active else "ACTION")
            op = row.operator("motionprompt.history_use", text="", icon="CHECKMARK")
            op.action = act.name


class MOTIONPROMPT_PT_export(_MotionPanel, bpy.types.Panel):
    bl_label = "Export"
    bl_parent_id = "MOTIONPROMPT_PT_generate"

    def draw(self, context):
        s = context.scene.motionprompt
        layout = self.layout
        layout.prop(s, "fbx_preset")
        op = layout.operator("motionprompt.export", text="FBX", icon="EXPORT")
        op.format, op.fbx_preset = "FBX", s.fbx_preset
        layout.prop(s, "preview_size")
        row = layout.row(align=True)
        for fmt in ("NPY", "NPZ", "GIF", "MP4"):
            op = row.operator("motionprompt.export", text=fmt)
            op.format, op.size = fmt, s.preview_size


UI_LISTS = (MOTIONPROMPT_UL_bone_map,)
CLASSES = (MOTIONPROMPT_PT_generate, MOTIONPROMPT_PT_keys, MOTIONPROMPT_PT_cleanup, MOTIONPROMPT_PT_history,
           MOTIONPROMPT_PT_export)
