"""Generation history: each motion an action named after its prompt, with what made it as
custom properties, kept on its own (muted) NLA track so takes can be compared and reused.

Every action carries its own motion, packed in the .blend (``pack``): the motion's 272-dim
frames as generated or loaded (before post-processing, at its own frame rate, which is
``motionprompt_fps``) in ``motionprompt_frames272``, a flat float32 ID-property array of T * 272
values (frame-major), and ``motionprompt_sha256``, the sha256 of those frames as little-endian
float32 bytes (``content_hash``). Exports rebuild the motion from them (``stored_motion``). The
results-folder file (``motionprompt_file``, worker results only) is a fallback for actions keyed
before frames were packed, and is refused when it is no longer the motion the action was keyed
from: its hash differs from the recorded one or, with no hash recorded, from the action's keys.

Limits (bpy 5.0.1): an ID-property array's length is a C int (at most 2**31 - 1 values, T under
7.8 M frames); a float32 array stays float32 (typecode 'f') through save / reload, 4 bytes a
value in the .blend (10 s at 30 fps: 326 kB); a 2-D array is flattened on assignment, hence the
flat layout. The Dope Sheet's Custom Properties panel copies arrays into lists when it draws,
which only takes noticeable time for takes minutes long.

A continuation kept as an NLA strip (``results.play_after``) keys only its new frames, but packs
its whole motion, the given part included, so it can be continued again: ``motionprompt_keyed_from``
is how many of the motion's frames come before its keys, ``motionprompt_motion_start`` the scene
frame of the motion's first frame (the first take's). ``motionprompt_anchor`` (x, y, z, heading)
is where and which way the first frame of a placed motion (a continuation) is keyed: its packed
frames face +Z at the origin and re-base heights on the whole motion's lowest joint (``anchor``).
``playing`` finds the take an armature without an active action plays at a frame;
``keyed_motion`` is the part an action keys.
``motionprompt_keys_sha256`` is ``keys.keys_digest`` of the keys as written: a take whose keys
differ from it was edited by the animator, and is read as it plays (``operators.reads_pose``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from . import compat
from .core import Motion, formats, rotations

__all__ = ["PROPS", "DIM", "MAX_PACKED", "record", "history", "activate", "motion_file", "frames_272",
           "content_hash", "pack", "stored_motion", "keyed_motion", "keyed_from", "motion_start", "anchor", "placement",
           "playing", "playing_track"]

#: Custom property names on each history action.
PROPS = {"prompt": "motionprompt_prompt", "seed": "motionprompt_seed", "model": "motionprompt_model",
         "file": "motionprompt_file", "fps": "motionprompt_fps", "temperature": "motionprompt_temperature",
         "top_k": "motionprompt_top_k", "seconds": "motionprompt_seconds", "frame_start": "motionprompt_frame_start",
         "frames": "motionprompt_frames272", "sha256": "motionprompt_sha256",
         "keyed_from": "motionprompt_keyed_from", "motion_start": "motionprompt_motion_start",
         "anchor": "motionprompt_anchor", "keys_sha256": "motionprompt_keys_sha256"}

#: Values per packed frame.
DIM = 272
#: Most values one ID-property array holds (its length is a C int).
MAX_PACKED = 2**31 - 1


def frames_272(motion) -> np.ndarray:
    """(T, 272) float32 frames of ``motion`` (de-normalised, C order): what is packed and hashed."""
    return np.ascontiguousarray(motion.to_272(), dtype=np.float32)


def content_hash(frames: np.ndarray) -> str:
    """sha256 (hex) of ``frames`` (T, 272) as little-endian float32 bytes, frame-major."""
    return hashlib.sha256(np.ascontiguousarray(frames, dtype="<f4").tobytes()).hexdigest()


def pack(action, motion) -> str:
    """Store ``motion``'s frames (``frames_272``, flattened) and their hash on ``action``;
    returns the hash. Raises ValueError when the motion is too long for one array."""
    frames = frames_272(motion)
    if frames.size > MAX_PACKED:
        raise ValueError(f"motion of {len(frames)} frames is too long to keep in the .blend "
                         f"(at most {MAX_PACKED // DIM} frames)")
    action[PROPS["frames"]] = frames.reshape(-1)
    sha = content_hash(frames)
    action[PROPS["sha256"]] = sha
    return sha


def record(obj, action, info: dict, motion=None) -> None:
    """Store ``info`` (keys of ``PROPS``) on ``action`` and push it to a new muted NLA track of ``obj``.

    ``motion``: the ``Motion`` the action was keyed from, before post-processing; packed on the
    action (``pack``) so exports never depend on a file.
    """
    for key, value in info.items():
        if key in PROPS and value is not None:
            action[PROPS[key]] = value
    if motion is not None:
        pack(action, motion)
    action.use_fake_user = True  # history survives while another action is active
    frame = int(info.get("frame_start", 1))
    track = obj.animation_data.nla_tracks.new()
    track.name = action.name
    strip = track.strips.new(action.name, frame, action)
    compat.assign_strip_slot(strip, action)
    track.mute = True  # the active action plays; solo or unmute a track to compare


def history(obj) -> list:
    """Actions of ``obj``'s history, oldest first."""
    if obj is None or obj.animation_data is None:
        return []
    out = []
    for track in obj.animation_data.nla_tracks:
        for strip in track.strips:
            if strip.action is not None and PROPS["prompt"] in strip.action and strip.action not in out:
                out.append(strip.action)
    return out


def activate(obj, action) -> None:
    """Make a history action the one that plays (and the one FBX export bakes)."""
    compat.assign_action(obj, action)


def keyed_from(action) -> int:
    """How many frames of ``action``'s packed motion come before its keys: 0 for a take, the
    given frames (the playhead's included) for a continuation kept as an NLA strip."""
    return int(action.get(PROPS["keyed_from"], 0))


def motion_start(action) -> float:
    """The scene frame of the first frame of ``action``'s packed motion: its first key for a
    take; for an NLA-strip continuation, the first frame of the take it continues."""
    start = action.get(PROPS["motion_start"])
    return float(start) if start is not None else float(action.frame_range[0])


def anchor(action, motion) -> tuple[np.ndarray, float]:
    """Where and which way the first frame of ``action``'s packed ``motion`` is keyed: the (3,)
    pelvis position (metres, Y up) and the heading (radians, ``rotations.heading_angle`` of the
    root). The recorded ``motionprompt_anchor`` of a motion placed by ``results.place`` (a
    continuation: its packed frames face +Z at the origin as every 272 file does), else the
    motion's own first frame."""
    value = action.get(PROPS["anchor"])
    if value is not None:
        value = [float(v) for v in value]
        return np.array(value[:3]), value[3]
    return placement(motion)


def placement(motion) -> tuple[np.ndarray, float]:
    """Where and which way ``motion``'s first frame is: the (3,) pelvis position (metres, Y up)
    and the heading (radians, ``rotations.heading_angle`` of the root)."""
    return motion.root_translation[0].copy(), float(rotations.heading_angle(motion.rotations[0, 0]))


def playing_track(obj):
    """The NLA track ``obj`` plays history actions from: the topmost unmuted one with a strip of
    one (a continuation kept as a strip plays there), or None."""
    ad = obj.animation_data if obj is not None else None
    if ad is None:
        return None
    for track in reversed(list(ad.nla_tracks)):  # the top track overrides the ones below
        if not track.mute and any(st.action is not None and PROPS["prompt"] in st.action for st in track.strips):
            return track
    return None


def playing(obj, frame: float):
    """(action, track): the action ``obj`` plays at scene ``frame`` from ``playing_track``,
    and that track; the action is None when ``frame`` is on none of its strips, and the whole is
    None without such a track."""
    track = playing_track(obj)
    if track is None:
        return None
    for st in track.strips:  # a take's, or the animator's own action a take continues
        if st.action is not None and st.frame_start <= frame <= st.frame_end:
            return st.action, track
    return None, track


def keyed_motion(obj, action):
    """The part of ``stored_motion`` that ``action`` keys: all of it for a take, the new frames
    of an NLA-strip continuation (what its FBX holds)."""
    motion = stored_motion(obj, action)
    k = keyed_from(action)
    return motion.frames(k, motion.num_frames) if k else motion


def motion_file(action) -> str | None:
    """The .npy file the action was keyed from (worker results), or None."""
    return action.get(PROPS["file"]) if action is not None else None


def stored_motion(obj, action):
    """The ``Motion`` ``action`` was keyed from: as generated or loaded, at its own fps
    (``PROPS["fps"]``), before post-processing.

    The packed frames when present (checked against their hash); else, for actions keyed
    before frames were packed, the recorded file, checked against the recorded hash, or with
    none recorded against the action's keys on the armature ``obj``. Raises ValueError naming
    the action (and the file) when neither can be trusted: never another motion in its place.
    """
    name = action.name
    fps = float(action.get(PROPS["fps"], 30.0))
    prompt = str(action.get(PROPS["prompt"], ""))
    sha = action.get(PROPS["sha256"])
    packed = action.get(PROPS["frames"])
    if packed is not None:
        frames = np.array(packed, dtype=np.float32)
        if frames.size == 0 or frames.size % DIM:
            raise ValueError(f"action {name!r}: its packed motion has {frames.size} values, not whole "
                             f"{DIM}-value frames; re-generate or export FBX")
        frames = frames.reshape(-1, DIM)
        if sha is not None and content_hash(frames) != sha:
            raise ValueError(f"action {name!r}: its packed motion no longer matches its recorded hash "
                             "(edited since); re-generate or export FBX")
        seed = action.get(PROPS["seed"])
        return Motion.from_272(frames, fps=fps, prompt=prompt, seed=None if seed is None else int(seed),
                               source=str(action.get(PROPS["model"], "")))
    path = motion_file(action)
    if not path:
        raise ValueError(f"action {name!r} has no motion packed in the .blend and no motion file recorded; "
                         "only FBX can export it")
    if not Path(path).is_file():
        raise ValueError(f"action {name!r}: its motion file {path} is missing; re-generate or export FBX")
    motion = formats.load_motion(path, fps=fps, prompt=prompt)
    if sha is not None:
        if content_hash(frames_272(motion)) != sha:
            raise ValueError(f"action {name!r}: its motion file {path} was overwritten since; "
                             "re-generate or export FBX")
    elif not _keys_match(obj, action, motion):
        raise ValueError(f"action {name!r}: its motion file {path} does not match the action's keys: it "
                         "was overwritten since; re-generate or export FBX")
    return motion


def _keys_match(obj, action, motion, tol: float = 1e-5) -> bool:
    """Whether the rotation keys of ``action`` at its first and last keyed frames are those
    ``motion``'s first and last frames give on the armature ``obj``.

    The only check an action without a recorded hash allows. Post-processing keeps both end
    frames (resampling) and every rotation (in place), so it holds whatever the panel's
    settings were. ``tol``: on 1 - |q_key . q_motion| (1e-5: about 0.5 degrees).
    """
    from bpy.utils import escape_identifier

    from .armature import target_from_armature
    from .core import rig

    fcurves = compat.slot_fcurves(action)
    if obj is None or fcurves is None:
        return False
    try:
        target = target_from_armature(obj)
    except ValueError:
        return False
    ends = motion.with_(rotations=motion.rotations[[0, -1]], root_translation=motion.root_translation[[0, -1]])
    first, last = action.frame_range
    for (bone, prop), want in rig.pose_channels(ends, target).items():
        if prop != "rotation_quaternion":
            continue
        path = f'pose.bones["{escape_identifier(bone)}"].rotation_quaternion'
        curves = [fcurves.find(path, index=k) for k in range(4)]
        if any(fc is None for fc in curves):
            return False
        for frame, q in ((first, want[0]), (last, want[1])):
            key = np.array([fc.evaluate(frame) for fc in curves])
            if 1.0 - abs(float(key @ q)) / max(float(np.linalg.norm(key)), 1e-12) > tol:
                return False
    return True
