"""Motion -> keys on an armature, written in bulk (``keyframe_points.add`` + ``foreach_set``).

One action per motion, QUATERNION rotation keys for every driven bone (sign-continuous over
time), location keys for the pelvis (and the root bone with root motion on it). F-curves are
made with the API of the running Blender: ``Action.fcurve_ensure_for_datablock`` on 4.4+
(layered actions; Blender 5 has no ``Action.fcurves``), ``Action.fcurves.new`` below.

Pose maths (armature space; M_b = rest rotation of bone b, A = SMPL-X axes in armature space,
G_j = SMPL-X world rotation of joint j, D_j = A G_j A^T its armature-space delta from rest):
the pose rotation of bone b (joint j, nearest driven ancestor p) is
``basis_b = M_b^T D_p^T D_j M_b``; for SMPL-aligned bones (M_b = A) this is the SMPL-X local
rotation itself.
"""

from __future__ import annotations

import bpy
import numpy as np

from .armature import BoneTarget
from .core import rotations, skeleton

__all__ = ["pose_channels", "new_action", "write_keys", "apply_motion", "set_frame_range", "KEY_INTERPOLATION"]

#: Keys are samples of a 30 fps motion: linear interpolation never overshoots between them.
KEY_INTERPOLATION = "LINEAR"
_INTERP_ID = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items[KEY_INTERPOLATION].value


def pose_channels(motion, target: BoneTarget, root_motion: str = "pelvis") -> dict:
    """Per-channel key values for ``motion`` on ``target``.

    Args:
        motion: ``Motion`` (rotations (T, 22, 3, 3), root_translation (T, 3) metres, SMPL-X axes).
        target: the armature's bones.
        root_motion: "pelvis" (all travel on the pelvis), "root" (floor-plane travel on the
            ``root`` bone, the rest on the pelvis; for game-engine root motion), or "none"
            (in place: the pelvis keeps frame 0's floor position).
    Returns:
        {(bone name, "rotation_quaternion" | "location"): (T, 4) or (T, 3) values}.
    """
    if root_motion not in ("pelvis", "root", "none"):
        raise ValueError(f"root_motion must be 'pelvis', 'root' or 'none', got {root_motion!r}")
    T = motion.num_frames
    G = skeleton.global_rotations(motion.rotations)  # (T, 22, 3, 3)
    A = target.axes
    D = np.einsum("ab,tjbc,dc->tjad", A, G, A)  # (T, 22, 3, 3) armature-space deltas
    out = {}
    for j, bone in target.bones.items():
        M = target.rest[j]
        p = target.driven_parent[j]
        rel = D[:, j] if p < 0 else np.swapaxes(D[:, p], -1, -2) @ D[:, j]  # (T, 3, 3)
        basis = M.T @ rel @ M
        q = rotations.quaternion_continuity(rotations.matrix_to_quaternion(basis))  # (T, 4)
        out[(bone, "rotation_quaternion")] = q

    pelvis_world = motion.root_translation.copy()  # (T, 3) metres, SMPL-X
    if root_motion == "none":
        pelvis_world[:, [0, 2]] = pelvis_world[0, [0, 2]]
    travel = np.zeros((T, 3))
    if root_motion == "root" and target.root is not None:
        travel[:, [0, 2]] = pelvis_world[:, [0, 2]]
        out[(target.root, "location")] = (target.scale * travel @ A.T) @ target.root_rest  # R^T v per row
    target_head = target.scale * (pelvis_world - travel) @ A.T  # (T, 3) armature space
    out[(target.bones[0], "location")] = (target_head - target.heads[0]) @ target.rest[0]
    return out


def _fcurve_maker(obj, action):
    """A function (data_path, index, group) -> FCurve on ``action`` for ``obj``, any Blender."""
    if hasattr(action, "fcurve_ensure_for_datablock"):  # 4.4+
        return lambda path, index, group: action.fcurve_ensure_for_datablock(obj, path, index=index,
                                                                             group_name=group)

    def legacy(path, index, group):
        fc = action.fcurves.find(path, index=index)
        if fc is not None:
            action.fcurves.remove(fc)
        return action.fcurves.new(path, index=index, action_group=group)
    return legacy


def new_action(obj, name: str):
    """A new action assigned to ``obj`` (with its slot on 4.4+), replacing the active one."""
    if obj.animation_data is None:
        obj.animation_data_create()
    action = bpy.data.actions.new(name)
    obj.animation_data.action = action
    if hasattr(obj.animation_data, "action_slot") and obj.animation_data.action_slot is None:
        slot = action.slots.new(id_type="OBJECT", name=obj.name)
        obj.animation_data.action_slot = slot
    return action


def write_keys(obj, action, channels: dict, frame_start: int = 1) -> int:
    """Write every channel as keys at frames ``frame_start + t`` in bulk.

    Args:
        channels: {(bone name, property): (T, k) values}; property "rotation_quaternion"
            (w, x, y, z) or "location".
    Returns:
        Number of keyframes written.
    """
    make = _fcurve_maker(obj, action)
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
                 scene=None, set_scene_range: bool = True, set_scene_fps: bool = True):
    """Key ``motion`` onto the armature ``obj`` as a new action; bones it does not drive are untouched.

    Args:
        obj: an armature object (ours or any SMPL-X-named one).
        motion: ``Motion`` at its own fps (resample it first to key at another rate).
        name: action name (default: the prompt, else "motion").
        frame_start: frame of the first key.
        root_motion: see ``pose_channels``.
        scene: scene whose frame range (and fps) follow the action (default: the context scene).
    Returns:
        The new action, assigned to ``obj``.
    """
    target = BoneTarget.from_armature(obj)
    channels = pose_channels(motion, target, root_motion)
    action = new_action(obj, name or motion.prompt or "motion")
    write_keys(obj, action, channels, frame_start)
    scene = scene or bpy.context.scene
    if set_scene_fps:
        scene.render.fps = int(round(motion.fps))
        scene.render.fps_base = scene.render.fps / motion.fps
    if set_scene_range:
        set_frame_range(scene, action)
    return action
