"""The add-on's entry for scripts and headless runs (``tools/bake.py``, ``blender -b``): key a
motion onto a fresh SMPL-X armature, or onto the user's own rig loaded from a .blend or a
character .fbx, in an empty scene, and export it, as the panel would."""

from __future__ import annotations

from pathlib import Path

import bpy

from . import armature, fbx_export, keys
from .core import atomic_path

__all__ = ["bake_motion", "load_rig", "curve_points", "animation_motion", "RIG_SUFFIXES"]

#: The rig files ``load_rig`` reads.
RIG_SUFFIXES = (".blend", ".fbx")


def load_rig(path, object_name: str = ""):
    """Bring the armature of a rig file into the current scene and return it: from a .blend,
    the objects it holds are appended (meshes with their armature); a .fbx is imported with
    Blender's own importer (a Mixamo download). ``object_name`` picks one of several
    armatures (default: the only one). Raises ValueError naming the file and the armatures
    it has."""
    path = Path(path)
    if path.suffix.lower() not in RIG_SUFFIXES or not path.is_file():
        raise ValueError(f"--rig {path}: not an existing .blend or .fbx file")
    before = set(bpy.data.objects)
    try:
        if path.suffix.lower() == ".blend":
            with bpy.data.libraries.load(str(path), link=False) as (src, dst):
                dst.objects = list(src.objects)
            for obj in dst.objects:
                if obj is not None and obj.name not in bpy.context.scene.collection.all_objects:
                    bpy.context.scene.collection.objects.link(obj)
        else:
            bpy.ops.import_scene.fbx(filepath=str(path))
    except (OSError, RuntimeError) as e:
        raise ValueError(f"--rig {path}: Blender could not read it ({str(e).splitlines()[0]})") from None
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE" and o not in before]
    names = ", ".join(sorted(o.name for o in arms)) or "none"
    if object_name:
        found = [o for o in arms if o.name == object_name]
        if not found:
            raise ValueError(f"--rig-object {object_name!r}: {path} has no such armature (armatures: {names})")
        return found[0]
    if len(arms) != 1:
        raise ValueError(f"--rig {path}: {len(arms)} armatures ({names}); name one with --rig-object")
    return arms[0]


def curve_points(spec: str):
    """(N, 2) SMPL-X floor points (x, z) metres of a Curve object (``curves.floor_points``, in
    world coordinates: the baked armature stands at the origin). ``spec`` is the object's name
    in the open .blend, or ``FILE.blend:NAME`` to read it from that file. Raises ValueError
    naming the option, the file and the curves there are."""
    from . import curves

    path, sep, name = spec.rpartition(":")
    source = "the open .blend"
    if sep and path.lower().endswith(".blend"):
        blend = Path(path)
        if not blend.is_file():
            raise ValueError(f"--path-curve {spec}: {blend} is not an existing .blend file")
        source = str(blend)
        try:
            with bpy.data.libraries.load(str(blend), link=False) as (src, dst):
                dst.objects = list(src.objects)
        except (OSError, RuntimeError) as e:
            raise ValueError(f"--path-curve {spec}: Blender could not read {blend} ({str(e).splitlines()[0]})") from None
        loaded = [o for o in dst.objects if o is not None]
        found = sorted(o.name for o in loaded if o.type == "CURVE")
        obj = next((o for o in loaded if o.name == name), None)
        for other in loaded:  # only the curve stays in this session
            if other is not obj:
                bpy.data.objects.remove(other)
        if obj is not None:
            bpy.context.scene.collection.objects.link(obj)
            bpy.context.view_layer.update()
    else:
        name = spec
        obj = bpy.data.objects.get(name)
        found = sorted(o.name for o in bpy.data.objects if o.type == "CURVE")
    if obj is None or obj.type != "CURVE":
        found = ", ".join(found) or "none"
        what = "is not a curve" if obj is not None else "is not there"
        raise ValueError(f"--path-curve {spec}: {name!r} {what} in {source} (curves: {found}); "
                         "name a Curve object, or give FILE.blend:NAME")
    try:
        return curves.floor_points(obj)
    except ValueError as e:
        raise ValueError(f"--path-curve {spec}: {e}") from None


def bake_motion(motion, folder: Path, stem: str, fbx_preset: str = "unity", root_motion: str = "pelvis",
                blend: bool = False, body_only: bool = False, rig=None, rig_object: str = "",
                bone_map: str = "auto") -> list[str]:
    """Key ``motion`` (post-processed already) in an empty scene on a new SMPL-X armature, or
    on the armature of the rig file ``rig`` (``load_rig``) through ``bone_map`` ("auto", a
    preset or a TOML map), and write ``<stem>.fbx`` (and ``<stem>.blend``) into ``folder``; a
    composed prompt's actions (``motion.meta["segments"]``) become pose markers. Returns the
    names written.

    Args:
        fbx_preset: "unity", "unreal" or "blender" (``fbx_export``), applied to the rig.
        root_motion: "pelvis" or "root" (``rig.pose_channels``).
    """
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if rig:
        obj = load_rig(rig, rig_object)
    else:
        obj = armature.build_armature("SMPLX", motion.rest_offsets(), body_only=body_only)
    action = keys.apply_motion(obj, motion, name=(motion.prompt or stem)[:55], root_motion=root_motion,
                               bone_map=bone_map)
    keys.mark_segments(action, motion.meta.get("segments") or [], motion.fps)
    fbx_export.export_fbx(obj, folder / f"{stem}.fbx", fbx_preset)
    written = [f"{stem}.fbx"]
    if blend:
        with atomic_path(folder / f"{stem}.blend") as tmp:
            Path(tmp).unlink()  # an existing file would make Blender write a .blend1 backup
            bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, check_existing=False)
        written.append(f"{stem}.blend")
    return written


def animation_motion(path, option: str = "--continue-from", bone_map: str = "auto"):
    """The SMPL-X body motion of the animation in a .blend or .fbx file (an animator's own clip:
    a Mixamo download, mocap on their rig): its armature's action from its first to its last
    frame, as the armature plays it, read through ``bone_map`` ("auto", a preset or a TOML map;
    ``armature.pose_motion``), at ``armature.READ_FPS``. The file is opened in place of the current
    one (a .blend, at its own frame rate) or imported into an empty scene (a .fbx). Raises
    ValueError naming ``option``, the file and the armatures it has."""
    path = Path(path)
    if path.suffix.lower() not in RIG_SUFFIXES or not path.is_file():
        raise ValueError(f"{option} {path}: not an existing .blend or .fbx file")
    try:
        if path.suffix.lower() == ".blend":
            bpy.ops.wm.open_mainfile(filepath=str(path))
        else:
            bpy.ops.wm.read_factory_settings(use_empty=True)
            bpy.ops.import_scene.fbx(filepath=str(path))
    except (OSError, RuntimeError) as e:
        raise ValueError(f"{option} {path}: Blender could not read it ({str(e).splitlines()[0]})") from None
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    animated = [o for o in arms if o.animation_data is not None and o.animation_data.action is not None]
    if len(animated) != 1:
        names = ", ".join(sorted(o.name for o in animated)) or "none"
        raise ValueError(f"{option} {path}: {len(animated)} armatures with an active action ({names}; "
                         f"{len(arms)} armatures in all); keep the one to continue in the file alone")
    obj = animated[0]
    scene = bpy.context.scene
    if obj.name not in scene.objects:
        raise ValueError(f"{option} {path}: armature {obj.name!r} is not in the file's scene {scene.name!r}")
    first, last = (int(round(v)) for v in obj.animation_data.action.frame_range)
    try:
        motion = armature.pose_motion(obj, scene, first, last, armature.bone_map_for(obj, bone_map),
                                      fps=armature.READ_FPS)
    except ValueError as e:
        raise ValueError(f"{option} {path}: {e}") from None
    return motion.with_(prompt=obj.animation_data.action.name)
