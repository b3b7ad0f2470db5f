"""Operators of the Motion panel: generate (modal with a timer, or synchronous headless),
cancel, random seed, load a motion file, history, exports, and the custom bone-map editor
(detect, add / remove a row, save / load a TOML map)."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import bpy
import numpy as np
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import armature, backend, fbx_export, history, keys, preferences, properties, results
from .core import bonemap, formats, request
from .preferences import get_prefs, results_dir
from .properties import FBX_PRESETS

__all__ = ["CLASSES", "generation_request", "handle_replies", "check_target", "keyed_message", "continue_take",
           "active_take", "take_motion", "is_take", "reads_pose"]


def _settings(context):
    return context.scene.motionprompt


def _has_take(context) -> bool:
    """Whether the active object is an armature with a take to work on: an active action, or
    NLA strips of history actions it plays (continuations kept as strips)."""
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE" or obj.animation_data is None:
        return False
    return obj.animation_data.action is not None or history.playing_track(obj) is not None


def active_take(context):
    """(armature, action, track): the take the operators work on: the active armature's active
    action (track None), else the history action its NLA plays at the playhead, and that track.
    ValueError naming the track's frames when the playhead is on none of its strips."""
    if not _has_take(context):
        raise ValueError("select an armature with a motionprompt take (its active action, or its NLA strips)")
    obj = context.active_object
    if obj.animation_data.action is not None:
        return obj, obj.animation_data.action, None
    frame = context.scene.frame_current
    action, track = history.playing(obj, frame)
    if action is None:
        spans = ", ".join(f"{int(st.frame_start)}-{int(st.frame_end)}" for st in track.strips)
        raise ValueError(f"the playhead (frame {frame}) is on none of the strips of NLA track {track.name!r} "
                         f"(frames {spans}); move it onto one, or make a take active in the History")
    return obj, action, track


def get_backend(context) -> backend.Backend:
    prefs = get_prefs(context)
    s = _settings(context)
    return backend.get_backend(prefs.backend, properties.model_name(s), prefs.device, preferences.python_path(prefs),
                               offload=prefs.offload_text_encoder)


def generation_request(context, continue_from: str | None = None, to_pose: str | None = None,
                       seconds: float | None = None):
    """The ``GenerateRequest`` for the panel's settings (``num`` samples of the prompt, seeds
    ``seed``, ``seed + 1``, ...), validated; the post-processing is applied when keying.
    ``continue_from`` / ``to_pose`` / ``seconds``: from ``continue_take``."""
    s = _settings(context)
    prompt = s.prompt.strip()
    if not prompt:
        raise ValueError("type a prompt first")
    return request.GenerateRequest(
        prompts=[prompt] * s.num, seeds=request.sample_seeds(s.seed, s.num),
        seconds=float(s.seconds if seconds is None else seconds),
        temperature=float(s.temperature), top_k=int(s.top_k), compose={"ON": True, "OFF": False}.get(s.compose),
        caption_rewrite={"ON": True, "OFF": False}.get(s.caption_rewrite), out_dir=Path(results_dir(context)),
        continue_from=continue_from, to_pose=to_pose).validate()


def check_target(context) -> None:
    """Before generating: the Selected target needs an active armature whose bone map resolves
    (ValueError naming the armature and the bone-map setting otherwise)."""
    s = _settings(context)
    if s.target != "SELECTED":
        return
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE":
        raise ValueError("select an SMPL-X armature or another humanoid rig first (make it active), "
                         "or choose 'New SMPL-X armature' as the target")
    properties.chosen_bone_map(s, obj)


def keyed_message(message: str, actions) -> str:
    """``message`` and, for a selected armature, the coverage line of the map it was keyed with."""
    line = actions[0].get(results.BONE_MAP_PROP) if actions else None
    return f"{message}; {line}" if line else message


def result_warnings(reply: dict) -> list[str]:
    """The warnings of a result's motions (``Motion.meta["warnings"]``), each once, in order."""
    out: list[str] = []
    for item in reply.get("motions", []):
        for w in item.get("warnings") or []:
            if w not in out:
                out.append(w)
    return out


def report_level(state: str, message: str | None) -> set:
    """The Blender report level of a finished generation: a warning when its motions have some."""
    if state not in ("done", "cancelled"):
        return {"ERROR"}
    return {"WARNING"} if message and "; warning: " in message else {"INFO"}


def is_take(action) -> bool:
    """Whether ``action`` is a motionprompt take (else: the animator's own animation)."""
    return history.PROPS["prompt"] in action


def reads_pose(action) -> bool:
    """Whether ``action``'s motion is read as the armature plays it rather than from the motion
    packed with it: the animator's own animation, or a take whose keys the animator edited
    (they differ from ``keys_sha256`` as written; not for strip continuations, whose keys are
    only their new frames)."""
    if not is_take(action):
        return True
    recorded = action.get(history.PROPS["keys_sha256"])
    return history.keyed_from(action) == 0 and recorded is not None and recorded != keys.keys_digest(action)


def take_motion(context, obj, action, upto: int | None = None, from_pose: bool | None = None):
    """(motion, anchor) of ``action`` on the armature ``obj``: a take's own, packed in the .blend
    (``history.stored_motion``), placed by ``history.anchor``; else (``from_pose``, default
    ``reads_pose``: the animator's own animation or edited keys) as the armature plays it from
    the action's first frame to ``upto`` (default: its last) through the panel's bone map
    (``armature.pose_motion``), at ``armature.READ_FPS``, placed where it is. ValueError naming
    what is wrong."""
    if not (reads_pose(action) if from_pose is None else from_pose):
        motion = history.stored_motion(obj, action)
        return motion, history.anchor(action, motion)
    first, last = (int(round(v)) for v in action.frame_range)
    last = last if upto is None else min(last, upto)
    bone_map = properties.chosen_bone_map(_settings(context), obj)
    wm = context.window_manager if context.window is not None else None
    if wm is not None:  # one frame at a time: a long take shows the window's progress indicator
        wm.progress_begin(0, max(last - first + 1, 1))
    try:
        motion = armature.pose_motion(obj, context.scene, first, last, bone_map, fps=armature.READ_FPS,
                                      progress=None if wm is None else (lambda done, total: wm.progress_update(done)))
    finally:
        if wm is not None:
            wm.progress_end()
    seed = action.get(history.PROPS["seed"])
    motion = motion.with_(prompt=str(action.get(history.PROPS["prompt"], action.name)),
                          seed=None if seed is None else int(seed))
    return motion, history.placement(motion)


def continue_take(context, inbetween: bool = False) -> dict:
    """The active armature's take up to the playhead, written for the worker.

    The take is ``active_take``'s: the active action, or the NLA strip under the playhead (a
    continuation kept as a strip, whose packed motion starts at the first take's first frame).
    An action that is no motionprompt take (the animator's own: hand keys, mocap, an imported
    clip), or a take whose keys the animator edited, is read as the armature plays it, through
    the panel's bone map (``take_motion``), from its first frame.
    Returns ``onto`` (the armature), ``take`` (its action), ``track`` (the NLA track it plays on,
    or None), ``start`` (the scene frame of the take's motion's first frame), ``given`` (the
    take's motion frames up to the playhead, its own included), ``continue_from``
    ("MOTION.npy:FRAME"), ``anchor`` (the take's first pelvis position and heading,
    ``history.anchor``) and, for an in-between, ``to_pose`` (the same file at the first
    timeline marker after the playhead, else the scene's last frame) and ``seconds`` (from the
    playhead to it). ValueError naming the take and its frames when the playhead (or the
    target) is outside it."""
    obj, action, track = active_take(context)
    scene = context.scene
    own = reads_pose(action)
    start = float(action.frame_range[0]) if own else history.motion_start(action)
    first, last = int(round(start)), int(round(action.frame_range[1]))
    fps = scene.render.fps / scene.render.fps_base
    if inbetween:
        later = sorted(m.frame for m in scene.timeline_markers if m.frame > scene.frame_current)
        end = later[0] if later else scene.frame_end
    if own and not first < scene.frame_current <= last:
        raise ValueError(f"the playhead (frame {scene.frame_current}) is outside action {action.name!r} "
                         f"(frames {first}-{last}); move it into the action")
    # the animator's own animation is read only as far as it is needed
    motion, anchor = take_motion(context, obj, action, upto=max(scene.frame_current, end if inbetween else 0),
                                 from_pose=own)

    def frames_to(frame: int) -> int:  # the motion's frames from the take's start to ``frame``, its own included
        return int(round((frame - first) / fps * motion.fps)) + 1

    keep = frames_to(scene.frame_current)
    if not 2 <= keep <= motion.num_frames:
        raise ValueError(f"the playhead (frame {scene.frame_current}) is outside take {action.name!r} "
                         f"(frames {first}-{last}); move it into the take")
    out = {"onto": obj, "anchor": anchor, "take": action, "track": track,
           "start": start, "given": keep}
    if inbetween:
        goal = frames_to(end)
        if not keep < goal <= motion.num_frames:
            raise ValueError(f"the in-between's end (frame {end}: the next timeline marker, else the scene's end) "
                             f"is outside take {action.name!r} (frames {first}-{last}) or not after the playhead; "
                             "put a marker where the motion should arrive")
        out["seconds"] = (goal - keep) / motion.fps
    folder = Path(results_dir(context))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"continue_{uuid.uuid4().hex[:12]}.npy"
    formats.export(motion, "npy", path)
    out["continue_from"] = f"{path}:{keep}"
    if inbetween:
        out["to_pose"] = f"{path}:{goal}"
    return out


def handle_replies(context, replies: list[dict], model: str, onto=None, anchor=None,
                   strip: dict | None = None) -> tuple[str, str | None]:
    """Apply replies on the main thread (keyed onto ``onto`` when given, else the target
    setting's armature; ``anchor``, ``strip``: see ``results.apply_motion_files``); returns
    (state, message): state "running", "done", "cancelled" or "error"."""
    s = _settings(context)
    state, message = "running", None
    for r in replies:
        kind = r.get("type")
        if kind == "progress":
            s.progress = r["step"] / max(r["total"], 1)
            s.status = f"step {r['step']}/{r['total']}"
        elif kind == "result":
            actions = results.apply_motion_files(context, r["motions"], s, model=model, onto=onto, anchor=anchor,
                                                 strip=strip)
            state, message = "done", keyed_message(
                f"{len(actions)} motion(s) keyed in {r.get('seconds', 0):.1f} s", actions)
            warns = result_warnings(r)
            if warns:
                message += "; warning: " + "; ".join(warns)
        elif kind == "cancelled":
            state, message = "cancelled", "generation cancelled"
        elif kind in ("error", "exit") and (r.get("id") is not None or r.get("fatal") or kind == "exit"):
            state, message = "error", r.get("message", "generation failed")
    if state != "running":
        s.running = False
        s.progress = 1.0 if state == "done" else 0.0
        s.status = message or state
    return state, message


class _Generation:
    """What Generate and Continue from Playhead share: the request runs synchronously headless,
    else through the backend with a modal timer (Esc cancels); the reply is keyed."""

    _timer = None
    _backend = None
    _model = ""
    _onto = None
    _anchor = None
    _strip = None

    def _request(self, context):
        """The request to run (the target checked first); sets ``_onto`` (the armature keyed
        onto), ``_anchor`` and ``_strip`` (see ``handle_replies``)."""
        check_target(context)
        self._onto = self._anchor = self._strip = None
        return generation_request(context)

    def execute(self, context):
        """Synchronous path (headless runs, scripts): blocks until the motion is keyed."""
        s = _settings(context)
        try:
            request_ = self._request(context)
            be, model = get_backend(context), properties.model_name(s)

            def progress(step, total):
                s.progress, s.status = step / max(total, 1), f"step {step}/{total}"

            reply = be.run_sync(request_, progress=progress)  # BusyError when busy
            state, message = handle_replies(context, [reply], model, onto=self._onto, anchor=self._anchor,
                                            strip=self._strip)
        except (backend.GenerationError, backend.BusyError, backend.WorkerError, ValueError, OSError) as e:
            s.running, s.status = False, str(e).splitlines()[0]
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report(report_level(state, message), message)
        return {"FINISHED"}

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)  # timers never fire headless
        s = _settings(context)
        try:
            request_ = self._request(context)
            self._backend, self._model = get_backend(context), properties.model_name(s)
            self._backend.submit(request_)  # BusyError when busy
        except (backend.BusyError, backend.WorkerError, ValueError, OSError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        s.running, s.progress, s.started, s.status = True, 0.0, time.time(), "starting"
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._backend.cancel()
            _settings(context).status = "cancelling"
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            state, message = handle_replies(context, self._backend.poll(), self._model, onto=self._onto,
                                            anchor=self._anchor, strip=self._strip)
        except Exception as e:  # noqa: BLE001 - applying failed: report, stop the modal
            state, message = "error", f"{type(e).__name__}: {e}"
            _settings(context).running = False
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()
        if state == "running":
            return {"RUNNING_MODAL"}
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
        self.report(report_level(state, message), message or state)
        return {"FINISHED"} if state == "done" else {"CANCELLED"}


class MOTIONPROMPT_OT_generate(_Generation, bpy.types.Operator):
    """Generate motion from the prompt and key it (Esc cancels)"""

    bl_idname = "motionprompt.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}


class _FromTake(_Generation):
    """Generation that starts from the active take (``continue_take``): keyed onto its armature,
    its given part where the take's is; a new take, or (``place`` "STRIP") a strip after the
    take's own (``results.play_after``)."""

    inbetween = False

    @classmethod
    def poll(cls, context):
        return _has_take(context)

    def _request(self, context):
        take = continue_take(context, inbetween=self.inbetween)
        self._onto, self._anchor = take["onto"], take["anchor"]
        self._strip = None if self.place == "TAKE" else {
            "take": take["take"], "given": take["given"], "frame": context.scene.frame_current,
            "start": take["start"], "track": take["track"]}
        return generation_request(context, continue_from=take["continue_from"], to_pose=take.get("to_pose"),
                                  seconds=take.get("seconds"))


class MOTIONPROMPT_OT_continue_take(_FromTake, bpy.types.Operator):
    """Continue the active take from the playhead with the prompt: a new take, the old one up to
    the current frame unchanged, then Seconds of new motion (Esc cancels)"""

    bl_idname = "motionprompt.continue_take"
    bl_label = "Continue from Playhead"
    bl_options = {"REGISTER", "UNDO"}
    place: bpy.props.EnumProperty(name="Result", items=properties.PLACES, default="TAKE")


class MOTIONPROMPT_OT_inbetween(_FromTake, bpy.types.Operator):
    """Remake the active take from the playhead to the next timeline marker (else the scene's
    end) with the prompt: a new take, unchanged up to the playhead, reaching the take's own
    pose at the marker (Esc cancels)"""

    bl_idname = "motionprompt.inbetween"
    bl_label = "In-between to Next Marker"
    bl_options = {"REGISTER", "UNDO"}
    inbetween = True
    place: bpy.props.EnumProperty(name="Result", items=properties.PLACES, default="TAKE")


class MOTIONPROMPT_OT_cancel(bpy.types.Operator):
    """Cancel the running generation (the worker stays alive)"""

    bl_idname = "motionprompt.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        be = backend.current_backend()
        if be is None or not be.busy:
            self.report({"INFO"}, "nothing is running")
            return {"CANCELLED"}
        be.cancel()
        return {"FINISHED"}


class MOTIONPROMPT_OT_random_seed(bpy.types.Operator):
    """Pick a random seed"""

    bl_idname = "motionprompt.random_seed"
    bl_label = "Random Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        _settings(context).seed = random.randrange(2**31 - 1)
        return {"FINISHED"}


class MOTIONPROMPT_OT_restart_backend(bpy.types.Operator):
    """Stop the generation backend (the worker starts again, with the current settings, on Generate)"""

    bl_idname = "motionprompt.restart_backend"
    bl_label = "Restart Backend"

    def execute(self, context):
        backend.shutdown_backend()
        _settings(context).status = "backend stopped"
        return {"FINISHED"}


class MOTIONPROMPT_OT_test_backend(bpy.types.Operator):
    """Run the backend's Python with a short probe: motionprompt and torch versions, device, model loaded"""

    bl_idname = "motionprompt.test_backend"
    bl_label = "Test Backend"

    def execute(self, context):
        prefs = get_prefs(context)
        preferences.LAST_PROBE.clear()
        try:
            info = backend.probe_backend(prefs.backend, properties.model_name(_settings(context)), prefs.device,
                                         preferences.python_path(prefs))
        except (backend.WorkerError, backend.GenerationError, ValueError) as e:
            preferences.LAST_PROBE["error"] = str(e)
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        preferences.LAST_PROBE.update(info)
        summary = preferences.probe_summary(info)
        if info.get("error") or not info.get("loaded"):
            self.report({"ERROR"}, summary)
            return {"CANCELLED"}
        self.report({"INFO"}, summary)
        return {"FINISHED"}


class MOTIONPROMPT_OT_load_motion(bpy.types.Operator, ImportHelper):
    """Key a motion file (.npy 272-dim / smplx85, .npz) like a generated one"""

    bl_idname = "motionprompt.load_motion"
    bl_label = "Load Motion File"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: bpy.props.StringProperty(default="*.npy;*.npz", options={"HIDDEN"})

    def execute(self, context):
        try:
            motion = formats.load_motion(self.filepath)
            actions = results.apply_motion_files(
                context, [{"path": self.filepath, "prompt": motion.prompt or Path(self.filepath).stem,
                           "fps": motion.fps, "source": "file"}], _settings(context), model="file")
        except (ValueError, OSError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, keyed_message(f"keyed {actions[0].name!r}", actions))
        return {"FINISHED"}


class MOTIONPROMPT_OT_apply_cleanup(bpy.types.Operator):
    """Key the active action's motion again through the Cleanup settings (foot lock, trim, loop, path) and
    the panel's frame rate and root choices, as a new take on the same armature"""

    bl_idname = "motionprompt.apply_cleanup"
    bl_label = "Apply Cleanup to Active Action"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _has_take(context)

    def execute(self, context):
        try:
            obj, action, _track = active_take(context)
            from_pose = reads_pose(action)
            motion, anchor = take_motion(context, obj, action, from_pose=from_pose)
            item = {"motion": motion, "prompt": motion.prompt, "seed": motion.seed, "source": motion.source}
            anchor = anchor if from_pose else None  # read as it plays: keyed where it is
            made = results.apply_motion_files(context, [item], _settings(context), model=str(motion.source),
                                              onto=obj, anchor=anchor)
        except (ValueError, OSError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, f"cleaned take {made[0].name!r} keyed from {action.name!r}")
        return {"FINISHED"}


class MOTIONPROMPT_OT_history_use(bpy.types.Operator):
    """Make this history motion the active action"""

    bl_idname = "motionprompt.history_use"
    bl_label = "Use"
    bl_options = {"REGISTER", "UNDO"}

    action: bpy.props.StringProperty()

    def execute(self, context):
        obj = context.active_object
        act = bpy.data.actions.get(self.action)
        if obj is None or act is None or act not in history.history(obj):
            self.report({"ERROR"}, f"{self.action!r} is not in the active armature's history")
            return {"CANCELLED"}
        history.activate(obj, act)
        from .keys import set_frame_range

        set_frame_range(context.scene, act)
        return {"FINISHED"}


EXPORT_FORMATS = [("FBX", "FBX", "Armature and the active action"), ("NPY", "NPY", "272-dim frames"),
                  ("NPZ", "NPZ", "SMPL-X poses / trans"), ("GIF", "GIF", "Skeleton preview"),
                  ("MP4", "MP4", "Skeleton preview")]


class MOTIONPROMPT_OT_export(bpy.types.Operator, ExportHelper):
    """Export the active armature's motion (NPY, NPZ, GIF, MP4): a take's, kept in the .blend, or its own
    animation read as SMPL-X"""

    bl_idname = "motionprompt.export"
    bl_label = "Export Motion"

    filename_ext = ""
    format: bpy.props.EnumProperty(name="Format", items=EXPORT_FORMATS, default="FBX")
    fbx_preset: bpy.props.EnumProperty(name="FBX preset", items=FBX_PRESETS, default="unity")
    size: bpy.props.IntProperty(name="GIF size", default=960, min=64, max=4096, subtype="PIXEL",
                                description="GIF only: its side in pixels (the MP4 is 960)")

    @classmethod
    def poll(cls, context):
        return _has_take(context)

    def invoke(self, context, event):
        try:
            action = active_take(context)[1]
        except ValueError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.filepath = bpy.path.clean_name(action.name) + "." + self.format.lower()
        return ExportHelper.invoke(self, context, event)

    def execute(self, context):
        path = Path(bpy.path.abspath(self.filepath)).with_suffix("." + self.format.lower())
        try:
            obj, action, _track = active_take(context)
            if self.format == "FBX":
                fbx_export.export_fbx(obj, path, self.fbx_preset, action=action, scene=context.scene)
            else:
                # a take's: the motion packed in the .blend, never whatever the results folder
                # holds now, as far as it keys (a strip continuation: its new frames, as its FBX);
                # the animator's own or edited keys: as the armature plays them (SMPL-X from any rig)
                if reads_pose(action):
                    motion = take_motion(context, obj, action, from_pose=True)[0]
                else:
                    motion = history.keyed_motion(obj, action)
                if self.format in ("GIF", "MP4"):  # frame by frame in the window's progress indicator
                    wm = context.window_manager
                    wm.progress_begin(0, motion.num_frames)
                    size = {"size": int(self.size)} if self.format == "GIF" else {}
                    try:
                        formats.export(motion, self.format.lower(), path, **size,
                                       progress=lambda done, total: wm.progress_update(done))
                    finally:
                        wm.progress_end()
                else:
                    formats.export(motion, self.format.lower(), path)
        except (ValueError, OSError, ImportError, RuntimeError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, f"wrote {path}")
        return {"FINISHED"}


# ---------------------------------------------------------------------------------------------
# The custom bone-map editor (rows on the active armature: ``obj.motionprompt_bone_map``)


def _active_armature(context):
    obj = context.active_object
    return obj if obj is not None and obj.type == "ARMATURE" else None


class _BoneMapEditor:
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _active_armature(context) is not None


DETECT_ITEMS = [("AUTO", "Auto-detect", "Detect the rig from its bone names")] + [
    (name, name, f"The {name} preset") for name in bonemap.PRESET_NAMES]


class MOTIONPROMPT_OT_bone_map_detect(_BoneMapEditor, bpy.types.Operator):
    """Fill the active armature's custom bone map from its bone names (auto-detected, or a preset)"""

    bl_idname = "motionprompt.bone_map_detect"
    bl_label = "Detect"

    preset: bpy.props.EnumProperty(name="From", items=DETECT_ITEMS, default="AUTO")

    def execute(self, context):
        obj = _active_armature(context)
        try:
            bone_map = armature.bone_map_for(obj, "auto" if self.preset == "AUTO" else self.preset)
        except ValueError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        properties.set_custom_rows(obj, bone_map)
        _settings(context).bone_map = "CUSTOM"
        self.report({"INFO"}, f"{len(bone_map.slots)} rows from {properties.coverage_line(bone_map)}")
        return {"FINISHED"}


class MOTIONPROMPT_OT_bone_map_add(_BoneMapEditor, bpy.types.Operator):
    """Add a row to the custom bone map (the active bone, if it has no row yet)"""

    bl_idname = "motionprompt.bone_map_add"
    bl_label = "Add Row"

    def execute(self, context):
        obj = _active_armature(context)
        rows = obj.motionprompt_bone_map
        active = obj.data.bones.active
        listed = {r.bone for r in rows}
        row = rows.add()
        if active is not None and active.name not in listed:
            row.bone = active.name
        obj.motionprompt_bone_map_index = len(rows) - 1
        return {"FINISHED"}


class MOTIONPROMPT_OT_bone_map_remove(_BoneMapEditor, bpy.types.Operator):
    """Remove a row of the custom bone map (the active one)"""

    bl_idname = "motionprompt.bone_map_remove"
    bl_label = "Remove Row"

    index: bpy.props.IntProperty(name="Row", default=-1, description="-1: the active row")

    def execute(self, context):
        obj = _active_armature(context)
        rows = obj.motionprompt_bone_map
        i = obj.motionprompt_bone_map_index if self.index < 0 else self.index
        if not 0 <= i < len(rows):
            self.report({"ERROR"}, f"the custom bone map has no row {i + 1}")
            return {"CANCELLED"}
        rows.remove(i)
        obj.motionprompt_bone_map_index = max(0, min(i, len(rows) - 1))
        return {"FINISHED"}


class MOTIONPROMPT_OT_bone_map_save(_BoneMapEditor, bpy.types.Operator, ExportHelper):
    """Save the active armature's custom bone map as a TOML file"""

    bl_idname = "motionprompt.bone_map_save"
    bl_label = "Save Map"
    bl_options = {"REGISTER"}

    filename_ext = ".toml"
    filter_glob: bpy.props.StringProperty(default="*.toml", options={"HIDDEN"})

    def invoke(self, context, event):
        if not self.filepath:
            self.filepath = bpy.path.clean_name(_active_armature(context).name) + "_bone_map.toml"
        return ExportHelper.invoke(self, context, event)

    def execute(self, context):
        obj = _active_armature(context)
        path = Path(bpy.path.abspath(self.filepath))
        if path.suffix.lower() != ".toml":
            path = path.with_suffix(".toml")
        try:
            bone_map = properties.custom_bone_map(obj, label=path.stem)
            bonemap.write_map(bone_map, path)
        except (ValueError, OSError) as e:
            self.report({"ERROR"}, f"armature {obj.name!r}: {e}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"wrote {path} ({properties.coverage_line(bone_map)})")
        return {"FINISHED"}


class MOTIONPROMPT_OT_bone_map_load(_BoneMapEditor, bpy.types.Operator, ImportHelper):
    """Load a TOML bone map into the active armature's custom bone map (bones it lacks are skipped)"""

    bl_idname = "motionprompt.bone_map_load"
    bl_label = "Load Map"

    filter_glob: bpy.props.StringProperty(default="*.toml", options={"HIDDEN"})

    def execute(self, context):
        obj = _active_armature(context)
        path = bpy.path.abspath(self.filepath)
        try:
            bone_map = bonemap.load_map(path, [b.name for b in obj.data.bones])
        except (ValueError, OSError) as e:
            self.report({"ERROR"}, f"armature {obj.name!r}: {e}")
            return {"CANCELLED"}
        properties.set_custom_rows(obj, bone_map)
        _settings(context).bone_map = "CUSTOM"
        for warning in bone_map.warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"{len(bone_map.slots)} rows from {Path(path).name}: {bone_map.coverage()}")
        return {"FINISHED"}


BONE_MAP_OPERATORS = (MOTIONPROMPT_OT_bone_map_detect, MOTIONPROMPT_OT_bone_map_add, MOTIONPROMPT_OT_bone_map_remove,
                      MOTIONPROMPT_OT_bone_map_save, MOTIONPROMPT_OT_bone_map_load)

CLASSES = (MOTIONPROMPT_OT_generate, MOTIONPROMPT_OT_continue_take, MOTIONPROMPT_OT_inbetween,
           MOTIONPROMPT_OT_cancel, MOTIONPROMPT_OT_random_seed,
           MOTIONPROMPT_OT_restart_backend, MOTIONPROMPT_OT_test_backend, MOTIONPROMPT_OT_load_motion,
           MOTIONPROMPT_OT_apply_cleanup,
           MOTIONPROMPT_OT_history_use,
           MOTIONPROMPT_OT_export) + BONE_MAP_OPERATORS
