"""Turning generated (or loaded) motions into keys: the one place that applies the panel's
choices (target armature, rest skeleton, root motion, frame rate, frame start, history). The
frame rate and in place are the core's post-processing stage (``post_process``). Each keyed
action keeps its motion, before post-processing, packed in the .blend (``history.pack``)."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np

from . import armature, backend, compat, curves, history, keys, properties
from .core import postprocess, rotations, skeleton, smplx_body

__all__ = ["rest_offsets_for", "post_process", "apply_motion_files", "place", "play_after", "BONE_MAP_PROP",
           "CONTACTS_PROP"]

#: Custom property on actions keyed onto a selected armature: the coverage line of their bone map.
BONE_MAP_PROP = "motionprompt_bone_map"
#: Custom property of an action with its foot contacts (JSON spans, seconds).
CONTACTS_PROP = "motionprompt_contacts"


def rest_offsets_for(motion, rest: str, smplx_dir: str = "") -> np.ndarray:
    """(22, 3) or (55, 3) rest offsets: "MOTION" (estimated), "DEFAULT", or "SMPLX" (model files)."""
    if rest == "MOTION":
        return motion.rest_offsets()
    if rest == "DEFAULT":
        return np.array(skeleton.DEFAULT_REST_OFFSETS)
    if rest == "SMPLX":
        if not smplx_dir:
            raise ValueError("choose your SMPL-X model folder for the 'SMPL-X model files' rest skeleton")
        joints = smplx_body.rest_joints(bpy.path.abspath(smplx_dir))
        parents = np.array(skeleton.PARENTS)
        off = joints - joints[np.maximum(parents, 0)]
        off[0] = 0.0
        return off
    raise ValueError(f"unknown rest skeleton choice {rest!r}")


def post_process(settings, scene, armature_obj=None):
    """The post-processing the panel's settings ask for: the scene's frame rate when resampling,
    in place when the root setting says so, the trim, foot lock, loop and path (a curve, taken
    relative to ``armature_obj``) of the Cleanup box. ValueError naming a bad path curve."""
    fps = None
    if settings.fps_mode == "RESAMPLE":
        fps = scene.render.fps / scene.render.fps_base
    trim = None
    if settings.trim_start > 0 or settings.trim_end > 0:
        trim = (float(settings.trim_start), float(settings.trim_end) if settings.trim_end > 0 else None)
    path = curves.path_file(settings.path_curve, armature_obj) if settings.path_curve is not None else None
    return postprocess.PostProcess(fps=fps, root="in_place" if settings.root_motion == "none" else "keep",
                                   trim=trim, foot_lock=settings.foot_lock, lock_strength=float(settings.lock_strength),
                                   path=path,
                                   loop=float(settings.loop_seconds) if settings.loop else None)


def apply_motion_files(context, items: list[dict], settings, model: str = "", onto=None, anchor=None,
                       strip: dict | None = None) -> list:
    """Key the motions described by ``items`` (worker result entries: prompt, seed, fps, and
    either ``motion``, the ``Motion`` itself (in-process results), or ``path``, a motion file
    (the worker process, loaded files)).

    The first motion goes on the target (a new SMPL-X armature, or the active one through the
    bone map the settings choose: ``properties.chosen_bone_map``, a ValueError naming the
    armature and the setting before anything is keyed when it cannot be resolved); every
    motion becomes a history action on it, with the motion packed; the first stays active.
    Actions keyed through a bone map carry its coverage line (``BONE_MAP_PROP``), and after a
    foot lock their contacts (``CONTACTS_PROP``: JSON spans in seconds, as in the manifest).
    ``anchor``: (position (3,), heading) every motion's first frame is placed on (``place``: a
    continuation starts where and which way its take does, while motion files face +Z at the
    origin and re-anchor heights at their lowest joint); recorded on the actions
    (``history.anchor``).
    ``onto``: an armature to key onto whatever the target setting (the Cleanup button's). A path
    curve is read relative to the target armature (a new one stands at the world origin).
    ``strip``: a continuation kept as an NLA strip instead of a new take, ``{"take": the action
    continued, "given": the motion frames it gives (the playhead's included), "frame": the
    playhead, "start": the scene frame of the given motion's first frame, "track": the NLA track
    the take plays on, or None for an active action}``: each action keys only the new frames,
    from the frame after the playhead, packs the whole motion (so it can be continued again:
    ``history.keyed_from``), and the first is played after the take (``play_after``).
    Returns the actions.
    """
    scene = context.scene
    motions = []
    for it in items:
        m = backend.result_motion(it, model)
        if anchor is not None:
            m = place(m, *anchor)
        motions.append(m)
    if not motions:
        raise ValueError("no motions to apply")
    if onto is not None or settings.target == "SELECTED":
        obj = onto if onto is not None else context.active_object
        if obj is None or obj.type != "ARMATURE":
            raise ValueError("select an SMPL-X armature first, or choose 'New SMPL-X armature' as the target")
        bone_map = properties.chosen_bone_map(settings, obj)
        post = post_process(settings, scene, obj)
    else:
        post = post_process(settings, scene)  # before building: a bad path curve leaves nothing behind
        bone_map = None  # our own SMPL-X armature
        offsets = rest_offsets_for(motions[0], settings.rest, settings.smplx_dir)
        obj = armature.build_armature("SMPLX", offsets, body_only=settings.body_only,
                                      collection=context.collection)
        for o in context.view_layer.objects:
            o.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
    actions = []
    frame_start = settings.frame_start if strip is None else int(strip["frame"]) + 1
    for whole, it in zip(motions, items):
        m = whole
        if strip is not None:  # the given part is the take's own: not keyed again
            m = whole.frames(int(strip["given"]), whole.num_frames)
        keyed = postprocess.apply(m, post)
        name = (m.prompt or (Path(it["path"]).stem if it.get("path") else "") or "motion")[:55]
        action = keys.apply_motion(obj, keyed, name=name, frame_start=frame_start,
                                   root_motion="root" if settings.root_motion == "root" else "pelvis", scene=scene,
                                   set_scene_fps=settings.fps_mode == "SET_SCENE", bone_map=bone_map)
        if bone_map is not None:
            action[BONE_MAP_PROP] = properties.coverage_line(bone_map)
        keys.mark_segments(action, keyed.meta.get("segments") or [], keyed.fps, frame_start)
        digest = keys.keys_digest(action)  # an edit by the animator changes it (operators.reads_pose)
        placed = None if anchor is None else history.placement(whole)  # as keyed: its packed frames forget it
        if keyed.meta.get("contacts") is not None:
            action[CONTACTS_PROP] = json.dumps(keyed.meta["contacts"])
        history.record(obj, action, {
            "prompt": m.prompt, "seed": m.seed, "model": str(m.source or model),
            "file": str(it["path"]) if it.get("path") else None,
            "fps": float(m.fps), "temperature": float(settings.temperature), "top_k": int(settings.top_k),
            "seconds": float(m.duration), "frame_start": int(frame_start), "keys_sha256": digest,
            **({} if strip is None else {"keyed_from": int(strip["given"]), "motion_start": float(strip["start"])}),
            **({} if anchor is None else {"anchor": [*map(float, placed[0]), placed[1]]})},
            motion=m if strip is None else whole)
        actions.append(action)
    if strip is not None:
        play_after(obj, strip["take"], actions[0], int(strip["frame"]), scene, track=strip.get("track"))
        return actions
    history.activate(obj, actions[0])
    keys.set_frame_range(scene, actions[0])
    return actions


def place(motion, position, heading: float):
    """``motion`` turned about +Y around its first pelvis so that its first frame has
    ``heading`` (radians, ``rotations.heading_angle`` of the root), and moved so that its first
    pelvis is at ``position`` ((3,) metres, Y up)."""
    turn = rotations.yaw_matrix(history.placement(motion)[1] - float(heading))
    turned = motion.rotations.copy()
    turned[:, 0] = turn @ turned[:, 0]
    root = (motion.root_translation - motion.root_translation[0]) @ turn.T + np.asarray(position, dtype=np.float64)
    return motion.with_(rotations=turned, root_translation=root)


def play_after(obj, take, action, frame: int, scene, track=None) -> None:
    """``obj`` plays, on a new NLA track, ``take`` up to ``frame`` then ``action`` (keyed from
    ``frame + 1`` on); the active action is cleared so the track plays (a take activated from
    the history plays over it again). ``track``: the NLA track ``take`` plays on (a continuation
    of a continuation): its strips up to ``frame`` come first, the one there cut at it, and it is
    muted (the new track holds all it played up to the playhead). The scene's range covers the
    new track."""
    ad = obj.animation_data
    if track is None:
        start = int(round(take.frame_range[0]))
        sources = [(take, start, float(take.frame_range[0]), float(take.frame_range[1]))]
    else:
        sources = [(st.action, int(round(st.frame_start)), st.action_frame_start, st.action_frame_end)
                   for st in track.strips if st.action is not None and st.frame_start <= frame]
        track.mute = True
    new = ad.nla_tracks.new()
    new.name = f"{take.name} + {action.name}"[:63]
    for src, start, a0, a1 in sources:
        st = new.strips.new(src.name, start, src)
        compat.assign_strip_slot(st, src)
        st.action_frame_start, st.action_frame_end = a0, a1
        if st.frame_end > frame:  # the strip under the playhead ends there
            st.action_frame_end = a0 + (frame - st.frame_start)
    after = new.strips.new(action.name, frame + 1, action)
    compat.assign_strip_slot(after, action)
    ad.action = None
    scene.frame_start, scene.frame_end = sources[0][1], int(round(after.frame_end))
