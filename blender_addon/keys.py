"""Motion -> keys on an armature, written in bulk (``keyframe_points.add`` + ``foreach_set``).

One action per motion, QUATERNION rotation keys for every driven bone (sign-continuous over
time), location keys for the pelvis (and the root bone with root motion on it). F-curves are
made with the API of the running Blender through ``compat`` (layered actions and slots on 4.4+,
``Action.fcurves`` on 4.2 / 4.3).

The key values themselves (pose maths, root motion) are ``rig.pose_channels`` (pure numpy,
``body/rig.py``) on the armature read by ``armature.target_from_armature``.
"""

from __future__ import annotations

import hashlib

import bpy
import numpy as np

from . import compat
from .armature import bone_map_for, prepare_rig, target_from_armature
from .core import rig

__all__ = ["new_action", "write_keys", "apply_motion", "set_frame_range", "keys_digest", "KEY_INTERPOLATION"]

#: Keys are samples of a 30 fps motion: linear interpolation never overshoots between them.
KEY_INTERPOLATION = "LINEAR"
_INTERP_ID = compat.keyframe_interpolation(KEY_INTERPOLATION)


def new_action(obj, name: str):
    """A new action assigned to ``obj`` (with its slot on 4.4+), replacing the active one."""
    action = bpy.data.actions.new(name)
    compat.assign_action(obj, action)
    return action


def write_keys(obj, action, channels: dict, frame_start: int = 1) -> int:
    """Write every channel as keys at frames ``frame_start + t`` in bulk.

    Args:
        channels: {(bone name, property): (T, k) values}; property "rotation_quaternion"
            (w, x, y, z) or "location".
    Returns:
        Number of keyframes written.
    """
    make = compat.fcurve_maker(obj, action)
    written = 0
    for (bone, prop), values in channels.items():
        values = np.asarray(values, dtype=np.float64)
        T = values.shape[0]
        co = np.empty((T, 2), dtype=np.float32)
        co[:, 0] = frame_start + np.arange(T)
        interp = np.full(T, _INTERP_ID, dtype=np.int32)
        if prop == "rotation_quaternion":
            obj.pose.bones[bone].rotation_mode = "QUATERNION"
        path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{prop}'
        for k in range(values.shape[1]):
            fc = make(path, k, bone)
            kp = fc.keyframe_points
            if len(kp):
                kp.clear()
            kp.add(T)
            co[:, 1] = values[:, k]
            kp.foreach_set("co", co.ravel())
            kp.foreach_set("interpolation", interp)
            fc.update()
            written += T
    return written


def keys_digest(action) -> str:
    """sha256 of every key of ``action``: each F-curve's path and index, its keys' frames and
    values (float32) and interpolations. It changes when the animator edits the keys."""
    h = hashlib.sha256()
    for fc in sorted(compat.all_fcurves(action), key=lambda f: (f.data_path, f.array_index)):
        kp = fc.keyframe_points
        co = np.empty(2 * len(kp), dtype=np.float32)
        interp = np.empty(len(kp), dtype=np.int32)
        kp.foreach_get("co", co)
        kp.foreach_get("interpolation", interp)
        h.update(f"{fc.data_path}[{fc.array_index}]:{len(kp)};".encode())
        h.update(co.tobytes())
        h.update(interp.tobytes())
    return h.hexdigest()


def set_frame_range(scene, action) -> None:
    """Scene frame range = the action's key range (FBX export bakes only the scene range)."""
    start, end = action.frame_range
    scene.frame_start = int(round(start))
    scene.frame_end = int(round(end))


def mark_segments(action, segments: list[dict], fps: float, frame_start: int = 1) -> None:
    """A pose marker on ``action`` where each action segment of a composed prompt begins
    (``segments``: ``{"text", "start"}`` with ``start`` in seconds), named by its text; the
    Action Editor shows them with View > Show Pose Markers, and they move with the action."""
    for seg in segments:
        marker = action.pose_markers.new(str(seg["text"])[:63])  # Blender names hold 63 bytes
        marker.frame = int(frame_start + round(float(seg["start"]) * fps))


def apply_motion(obj, motion, name: str | None = None, frame_start: int = 1, root_motion: str = "pelvis",
                 scene=None, set_scene_range: bool = True, set_scene_fps: bool = True, bone_map=None):
    """Key ``motion`` onto the armature ``obj`` as a new action; bones it does not drive are untouched.

    Args:
        obj: an armature object (ours or any SMPL-X-named one).
        motion: ``Motion`` at its own fps, post-processed (``core.postprocess``: another frame
            rate, in place) before it comes here.
        name: action name (default: the prompt, else "motion").
        frame_start: frame of the first key.
        root_motion: "pelvis" or "root": see ``rig.pose_channels``.
        scene: scene whose frame range (and fps) follow the action (default: the context scene).
        bone_map: a ``bonemap.BoneMap``, or "auto" / a preset name / a TOML map file; None: "auto".
    Returns:
        The new action, assigned to ``obj``.
    """
    if not hasattr(bone_map, "slots"):
        bone_map = bone_map_for(obj, bone_map or "auto")
    prepare_rig(obj, bone_map)
    target = target_from_armature(obj, bone_map=bone_map)
    channels = rig.pose_channels(motion, target, root_motion)
    action = new_action(obj, name or motion.prompt or "motion")
    write_keys(obj, action, channels, frame_start)
    scene = scene or bpy.context.scene
    if set_scene_fps:
        scene.render.fps = int(round(motion.fps))
        scene.render.fps_base = scene.render.fps / motion.fps
    if set_scene_range:
        set_frame_range(scene, action)
    return action
