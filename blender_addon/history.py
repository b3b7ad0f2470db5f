"""Generation history: each motion an action named after its prompt, with what made it as
custom properties, kept on its own (muted) NLA track so takes can be compared and reused."""

from __future__ import annotations

__all__ = ["PROPS", "record", "history", "activate", "motion_file"]

#: Custom property names on each history action.
PROPS = {"prompt": "motionprompt_prompt", "seed": "motionprompt_seed", "model": "motionprompt_model",
         "file": "motionprompt_file", "fps": "motionprompt_fps", "temperature": "motionprompt_temperature",
         "top_k": "motionprompt_top_k", "seconds": "motionprompt_seconds", "frame_start": "motionprompt_frame_start"}


def record(obj, action, info: dict) -> None:
    """Store ``info`` (keys of ``PROPS``) on ``action`` and push it to a new muted NLA track of ``obj``."""
    for key, value in info.items():
        if key in PROPS and value is not None:
            action[PROPS[key]] = value
    action.use_fake_user = True  # history survives while another action is active
    frame = int(info.get("frame_start", 1))
    track = obj.animation_data.nla_tracks.new()
    track.name = action.name
    strip = track.strips.new(action.name, frame, action)
    if hasattr(strip, "action_slot") and strip.action_slot is None and len(action.slots):
        strip.action_slot = action.slots[0]
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
    obj.animation_data.action = action
    if hasattr(obj.animation_data, "action_slot") and len(getattr(action, "slots", ())):
        obj.animation_data.action_slot = action.slots[0]


def motion_file(action) -> str | None:
    """The .npy file the action was keyed from, or None."""
    return action.get(PROPS["file"]) if action is not None else None
