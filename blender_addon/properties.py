"""The panel's settings, stored on the scene (``scene.motionprompt``), and the bone-map editor's
rows, stored on each armature object (``obj.motionprompt_bone_map``).

Which bone map keys a selected armature is the scene's ``bone_map`` setting: auto-detected, a
preset, a TOML map file, or the armature's own rows edited in the panel (``CUSTOM``);
``chosen_bone_map`` turns the setting into a ``bonemap.BoneMap`` (or a ValueError naming the
armature and the setting), ``map_status`` gives the panel its coverage line, cached.
"""

from __future__ import annotations

import os

import bpy

from . import armature
from .core import bonemap, skeleton

__all__ = ["MotionPromptSettings", "MotionPromptBoneMapItem", "CLASSES", "register_props", "unregister_props",
           "BONE_MAP_ITEMS", "model_name", "bone_map_setting_name", "custom_bone_map", "set_custom_rows",
           "chosen_bone_map", "coverage_line", "map_status"]

def _is_curve(_settings, obj) -> bool:
    """The path setting offers curve objects only."""
    return obj.type == "CURVE"


MODELS = [("demo", "Demo", "The small model shipped with motionprompt"),
          ("motionmillion-3b", "MotionMillion 3B", "Released 3B checkpoints ($MOTIONPROMPT_CHECKPOINTS)"),
          ("motionmillion-7b", "MotionMillion 7B", "Released 7B checkpoints ($MOTIONPROMPT_CHECKPOINTS)"),
          ("FILE", "Model file", "A model description TOML file")]


def _model_choice(model_words: str, on: tuple[str, str], off: tuple[str, str]) -> list[tuple[str, str, str]]:
    """Enum items of a setting the model's TOML decides unless the panel says ON or OFF (the
    request's None / True / False): (label, description) of each choice."""
    return [("MODEL", "Model's choice", f"As the model's description says ({model_words})"), ("ON", *on), ("OFF", *off)]


#: The bone-map setting: detection, each preset of ``bonemap.PRESET_NAMES``, a file, the editor.
BONE_MAP_ITEMS = ([("AUTO", "Auto-detect", "Detect the rig from its bone names (SMPL-X, Mixamo, Unreal, Rigify, VRM)")]
                  + [(name, name, f"The {name} bone-map preset") for name in bonemap.PRESET_NAMES]
                  + [("FILE", "Map file", "A TOML bone-map file (see motionprompt.body.bonemap)"),
                     ("CUSTOM", "Custom (edited below)", "The active armature's own map, edited in this panel")])
#: Joints a bone-map row can follow: every SMPL-X joint (the 22 body joints, jaw, eyes, fingers).
JOINT_ITEMS = [(name, name, f"SMPL-X joint {j}") for j, name in enumerate(skeleton.JOINT_NAMES)]
FBX_PRESETS = [("unity", "Unity", "Metres, upright with zero root rotation"),
               ("unreal", "Unreal", "Centimetres in the data, root bone for root motion"),
               ("blender", "Blender", "As is")]


#: Where Continue from Playhead / In-between put their result (the panel's setting, the operators' ``place``).
PLACES = [("TAKE", "New take", "A new take: the take up to the playhead, then the new motion"),
          ("STRIP", "NLA strip", "The new motion alone, as an NLA strip after the playhead; the take plays up to it")]


class MotionPromptSettings(bpy.types.PropertyGroup):
    prompt: bpy.props.StringProperty(name="Prompt", default="a person walks forward, then waves with the right hand",
                                     description="What the character should do. Separate actions with commas, "
                                                 "full stops or 'then'")
    seconds: bpy.props.FloatProperty(name="Duration", default=4.0, min=0.5, max=20.0, unit="TIME_ABSOLUTE",
                                     description="Longest motion in seconds (the model may end earlier)")
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0, max=2**31 - 1)
    temperature: bpy.props.FloatProperty(name="Temperature", default=1.0, min=0.05, max=3.0)
    top_k: bpy.props.IntProperty(name="Top-k", default=0, min=0, max=1024, description="0: off")
    num: bpy.props.IntProperty(name="Motions", default=1, min=1, max=8,
                               description="Motions per Generate (seeds seed, seed+1, ...)")
    compose: bpy.props.EnumProperty(
        name="Actions", default="MODEL",
        items=_model_choice("the demo: one by one",
                            ("One by one", "Each action of the prompt (separated by punctuation or 'then') is "
                                           "generated on its own and played in order; a pose marker names each"),
                            ("Whole prompt", "The model reads the whole prompt at once")))
    caption_rewrite: bpy.props.EnumProperty(
        name="Known words", default="MODEL",
        items=_model_choice("the demo: on",
                            ("Nearest caption", "Each action is given to the model as the nearest of its training "
                                                "captions (\"ambles forward\" -> \"walks forward\")"),
                            ("As written", "The model reads the words as typed")))
    model: bpy.props.EnumProperty(name="Model", items=MODELS, default="demo")
    model_file: bpy.props.StringProperty(name="Model file", subtype="FILE_PATH", default="")
    target: bpy.props.EnumProperty(
        name="Target", default="NEW",
        items=[("NEW", "New SMPL-X armature", "Create an SMPL-X armature for the motion"),
               ("SELECTED", "Selected armature (any humanoid)",
                "Key the active armature: SMPL-X, Mixamo, Unreal, Rigify, VRM or any rig with a bone map "
                "(bones it does not map are untouched)")])
    bone_map: bpy.props.EnumProperty(
        name="Bone map", items=BONE_MAP_ITEMS, default="AUTO",
        description="Which bone of the selected armature follows which SMPL-X joint")
    bone_map_file: bpy.props.StringProperty(name="Map file", subtype="FILE_PATH", default="",
                                            description="A TOML bone-map file (.toml)")
    root_motion: bpy.props.EnumProperty(
        name="Root", default="pelvis",
        items=[("pelvis", "Root motion (pelvis)", "The pelvis carries the travel"),
               ("root", "Root motion (root bone)", "The root bone carries the floor-plane travel (game engines)"),
               ("none", "In place", "No travel on the floor plane")])
    rest: bpy.props.EnumProperty(
        name="Rest skeleton", default="MOTION",
        items=[("MOTION", "From the motion", "Estimated from the motion's own joint positions"),
               ("DEFAULT", "Shipped default", "One real SMPL-X subject"),
               ("SMPLX", "SMPL-X model files", "Exact rest joints from your SMPL-X model folder")])
    smplx_dir: bpy.props.StringProperty(name="SMPL-X folder", subtype="DIR_PATH", default="")
    body_only: bpy.props.BoolProperty(name="Body bones only", default=False,
                                      description="New armatures with the 22 body bones only")
    frame_start: bpy.props.IntProperty(name="Frame start", default=1)
    continue_place: bpy.props.EnumProperty(name="From playhead", items=PLACES, default="TAKE",
                                           description="Where Continue / In-between put their motion")
    fps_mode: bpy.props.EnumProperty(
        name="Frame rate", default="SET_SCENE",
        items=[("SET_SCENE", "Set scene to 30 fps", "The scene takes the motion's frame rate"),
               ("RESAMPLE", "Resample to scene", "Resample the motion to the scene's frame rate (slerp)")])
    fbx_preset: bpy.props.EnumProperty(name="FBX preset", items=FBX_PRESETS, default="unity")
    preview_size: bpy.props.IntProperty(name="GIF size", default=960, min=64, max=4096, subtype="PIXEL",
                                        description="The GIF export's side in pixels (as --preview-size: a "
                                                    "gallery card shows ~300); the MP4 stays 960")
    # cleanup (the core's post-processing stage), for new takes and the Apply Cleanup button
    foot_lock: bpy.props.EnumProperty(
        name="Foot lock", default="off",
        items=[("off", "Off", "Feet as generated"),
               ("toes", "Toes", "Planted feet pinned on the floor; the ball stays down as the heel rises"),
               ("feet", "Heels", "Planted feet pinned at the ankle while the heel is down")])
    lock_strength: bpy.props.FloatProperty(name="Strength", default=1.0, min=0.0, max=1.0, subtype="FACTOR",
                                           description="How far toward its pin a planted foot goes")
    trim_start: bpy.props.FloatProperty(name="Trim start", default=0.0, min=0.0, unit="TIME_ABSOLUTE",
                                        description="Seconds cut from the start")
    trim_end: bpy.props.FloatProperty(name="Trim end", default=0.0, min=0.0, unit="TIME_ABSOLUTE",
                                      description="Keep up to this many seconds (0: to the end)")
    loop: bpy.props.BoolProperty(name="Loop", default=False,
                                 description="Cut the best cycle and close its seam (a loop an engine can repeat)")
    loop_seconds: bpy.props.FloatProperty(name="Cycle", default=0.0, min=0.0, unit="TIME_ABSOLUTE",
                                          description="Cycle length in seconds (0: the best cycle's own length)")
    path_curve: bpy.props.PointerProperty(
        name="Path", type=bpy.types.Object, poll=_is_curve,
        description="A curve the pelvis follows on the floor (its first spline, seen from above) at the "
                    "motion's own stride speed; the feet are locked")
    # runtime state shown by the panel
    status: bpy.props.StringProperty(name="Status", default="")
    progress: bpy.props.FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    running: bpy.props.BoolProperty(name="Running", default=False)
    started: bpy.props.FloatProperty(name="Started", default=0.0)


class MotionPromptBoneMapItem(bpy.types.PropertyGroup):
    """One row of an armature's custom bone map: ``bone`` follows ``joint`` (one-to-one when
    ``t`` is 0), or sits ``t`` of the way from ``joint`` to ``toward`` (a chain's in-between bone)."""

    bone: bpy.props.StringProperty(name="Bone", default="", description="A bone of the armature (exact name)")
    joint: bpy.props.EnumProperty(name="Joint", items=JOINT_ITEMS, default="pelvis",
                                  description="The SMPL-X joint this bone turns with")
    toward: bpy.props.EnumProperty(name="Toward", items=JOINT_ITEMS, default="pelvis",
                                   description="Chain bones only: the next SMPL-X joint it sits toward")
    t: bpy.props.FloatProperty(name="t", default=0.0, min=0.0, max=1.0, precision=3,
                               description="Chain bones only: the fraction of the way from Joint to Toward "
                                           "(0: follows Joint one-to-one)")


def model_name(settings) -> str:
    """The model the settings choose: a preset name, or the absolute path of the model file.

    A function, not a method: the add-on's PropertyGroups carry no methods (``compat``: the bpy
    module of 4.2 segfaults at interpreter exit once a PropertyGroup with a method was registered)."""
    if settings.model == "FILE":
        if not settings.model_file:
            raise ValueError("choose a model TOML file, or another model")
        return bpy.path.abspath(settings.model_file)
    return settings.model


# ---------------------------------------------------------------------------------------------
# The bone map a selected armature is keyed with


def bone_map_setting_name(settings) -> str:
    """The bone-map setting as the panel shows it ("Auto-detect", "mixamo", "Map file (x.toml)")."""
    name = settings.bl_rna.properties["bone_map"].enum_items[settings.bone_map].name
    if settings.bone_map == "FILE":
        name += f" ({settings.bone_map_file or 'no file chosen'})"
    return name


def custom_bone_map(obj, label: str = "custom") -> "bonemap.BoneMap":
    """The ``bonemap.BoneMap`` of the armature ``obj``'s edited rows (``motionprompt_bone_map``).

    ValueError for no rows, a row without a bone or with a bone the armature lacks, a bone on
    two rows, or a root bone that is also mapped."""
    if obj is None or obj.type != "ARMATURE":
        raise ValueError(f"{getattr(obj, 'name', obj)!r} is not an armature object")
    names = {b.name for b in obj.data.bones}
    rows = list(obj.motionprompt_bone_map)
    if not rows:
        raise ValueError("the custom bone map has no rows: press Detect or Load Map, or add rows")
    entries = []
    first_row: dict[str, int] = {}
    for i, row in enumerate(rows):
        if not row.bone:
            raise ValueError(f"custom bone map row {i + 1} ({row.joint}) has no bone: pick one or remove the row")
        if row.bone not in names:
            raise ValueError(f"custom bone map row {i + 1}: the armature has no bone {row.bone!r} "
                             "(bone names are case-sensitive)")
        if row.bone in first_row:
            raise ValueError(f"custom bone map rows {first_row[row.bone] + 1} and {i + 1} both map bone "
                             f"{row.bone!r}: map each bone once")
        first_row[row.bone] = i
        entries.append((i, row.bone, bonemap.Slot(row.joint, row.toward, float(row.t))))
    # SMPL-X joint order (parents first), then the place along the chain, then row order
    entries.sort(key=lambda e: (e[2].joint, e[2].t, e[0]))
    slots = {bone: slot for _, bone, slot in entries}
    root = obj.motionprompt_bone_map_root or None
    if root is not None:
        if root not in names:
            raise ValueError(f"custom bone map: the armature has no root bone {root!r}")
        if root in slots:
            raise ValueError(f"custom bone map: the root bone {root!r} is also mapped to a joint; "
                             "the root follows no joint: clear the root or remove its row")
    return bonemap.BoneMap(name="custom", slots=slots, root=root, label=label)


def set_custom_rows(obj, bone_map) -> None:
    """Replace ``obj``'s edited rows (and root) with ``bone_map``'s slots, in slot order."""
    rows = obj.motionprompt_bone_map
    rows.clear()
    names = skeleton.JOINT_NAMES
    for bone, slot in bone_map.slots.items():
        row = rows.add()
        row.bone, row.joint, row.toward, row.t = bone, names[slot.joint], names[slot.toward], float(slot.t)
    obj.motionprompt_bone_map_index = 0
    obj.motionprompt_bone_map_root = bone_map.root or ""


def _strip_armature(message: str, obj) -> str:
    prefix = f"armature {obj.name!r}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def chosen_bone_map(settings, obj) -> "bonemap.BoneMap":
    """The ``bonemap.BoneMap`` the scene's bone-map setting gives the armature ``obj``.

    Raises:
        ValueError naming the armature and the setting, with the reason: no map file chosen,
        a missing or invalid file, a rig no preset recognises, invalid custom rows, or a map
        without a pelvis (hips) bone, which cannot carry the motion.
    """
    if obj is None or obj.type != "ARMATURE":
        raise ValueError(f"{getattr(obj, 'name', obj)!r} is not an armature object")
    try:
        if settings.bone_map == "CUSTOM":
            bone_map = custom_bone_map(obj)
        elif settings.bone_map == "FILE":
            path = settings.bone_map_file
            if not path:
                raise ValueError("no map file chosen: choose a .toml bone-map file")
            if not path.lower().endswith(".toml"):
                raise ValueError(f"{path}: bone maps are .toml files")
            bone_map = armature.bone_map_for(obj, path)
        else:
            bone_map = armature.bone_map_for(obj, "auto" if settings.bone_map == "AUTO" else settings.bone_map)
        if not bone_map.slots:
            raise ValueError("the map matches none of the armature's bones; choose another preset, "
                             "a map file, or edit a custom map")
        if bone_map.pelvis is None:
            raise ValueError(f"no bone follows the pelvis, so nothing can carry the motion ({bone_map.coverage()}); "
                             "choose another preset, a map file, or edit a custom map")
    except (ValueError, OSError) as e:
        reason = _strip_armature(str(e).splitlines()[0] if str(e) else type(e).__name__, obj)
        raise ValueError(f"armature {obj.name!r}, bone map {bone_map_setting_name(settings)!r}: {reason}") from None
    return bone_map


def coverage_line(bone_map) -> str:
    """"mixamo: 22 of 22 joints mapped" (the map's label, then ``BoneMap.coverage``)."""
    return f"{bone_map.label or bone_map.name}: {bone_map.coverage()}"


_STATUS_CACHE: dict[tuple, tuple[bool, str]] = {}


def map_status(settings, obj) -> tuple[bool, str]:
    """(ok, line) for the panel: the coverage line of the map ``chosen_bone_map`` would give
    ``obj``, or the reason it cannot. Cached by armature name, bone count and the setting (and
    the map file's modification time); the custom rows are read each time (a few dozen)."""
    if settings.bone_map == "CUSTOM":
        try:
            return True, coverage_line(chosen_bone_map(settings, obj))
        except ValueError as e:
            return False, str(e)
    path = settings.bone_map_file if settings.bone_map == "FILE" else ""
    try:
        stamp = os.stat(bpy.path.abspath(path)).st_mtime_ns if path else None
    except OSError:
        stamp = None
    key = (obj.name, len(obj.data.bones), bool(obj.get(armature.ARMATURE_TAG)), settings.bone_map, path, stamp)
    hit = _STATUS_CACHE.get(key)
    if hit is None:
        try:
            hit = True, coverage_line(chosen_bone_map(settings, obj))
        except ValueError as e:
            hit = False, str(e)
        if len(_STATUS_CACHE) > 64:
            _STATUS_CACHE.clear()
        _STATUS_CACHE[key] = hit
    return hit


CLASSES = (MotionPromptSettings, MotionPromptBoneMapItem)


def register_props() -> None:
    bpy.types.Scene.motionprompt = bpy.props.PointerProperty(type=MotionPromptSettings)
    bpy.types.Object.motionprompt_bone_map = bpy.props.CollectionProperty(
        type=MotionPromptBoneMapItem, name="Bone map", description="This armature's custom bone map")
    bpy.types.Object.motionprompt_bone_map_index = bpy.props.IntProperty(name="Active row", default=0, min=0)
    bpy.types.Object.motionprompt_bone_map_root = bpy.props.StringProperty(
        name="Root bone", default="", description="Custom bone map: the root-motion bone (follows no joint)")


def unregister_props() -> None:
    _STATUS_CACHE.clear()
    del bpy.types.Object.motionprompt_bone_map_root
    del bpy.types.Object.motionprompt_bone_map_index
    del bpy.types.Object.motionprompt_bone_map
    del bpy.types.Scene.motionprompt
