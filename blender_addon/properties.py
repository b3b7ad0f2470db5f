"""The panel's settings, stored on the scene (``scene.motionprompt``)."""

from __future__ import annotations

import bpy

__all__ = ["MotionPromptSettings", "CLASSES", "register_props", "unregister_props"]

MODELS = [("demo", "Demo", "The small model shipped with motionprompt"),
          ("motionmillion-3b", "MotionMillion 3B", "Released 3B checkpoints ($MOTIONPROMPT_CHECKPOINTS)"),
          ("motionmillion-7b", "MotionMillion 7B", "Released 7B checkpoints ($MOTIONPROMPT_CHECKPOINTS)"),
          ("FILE", "Model file", "A model description TOML file")]
FBX_PRESETS = [("unity", "Unity", "Metres, upright with zero root rotation"),
               ("unreal", "Unreal", "Centimetres in the data, root bone for root motion"),
               ("blender", "Blender", "As is")]


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
        items=[("MODEL", "Model's choice", "As the model's description says (the demo: one by one)"),
               ("ON", "One by one", "Each action of the prompt (separated by punctuation or 'then') is generated "
                                    "on its own and played in order; a pose marker names each"),
               ("OFF", "Whole prompt", "The model reads the whole prompt at once")])
    model: bpy.props.EnumProperty(name="Model", items=MODELS, default="demo")
    model_file: bpy.props.StringProperty(name="Model file", subtype="FILE_PATH", default="")
    target: bpy.props.EnumProperty(
        name="Target", default="NEW",
        items=[("NEW", "New SMPL-X armature", "Create an SMPL-X armature for the motion"),
               ("SELECTED", "Selected armature", "Key the active SMPL-X armature (other bones untouched)")])
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
    fps_mode: bpy.props.EnumProperty(
        name="Frame rate", default="SET_SCENE",
        items=[("SET_SCENE", "Set scene to 30 fps", "The scene takes the motion's frame rate"),
               ("RESAMPLE", "Resample to scene", "Resample the motion to the scene's frame rate (slerp)")])
    fbx_preset: bpy.props.EnumProperty(name="FBX preset", items=FBX_PRESETS, default="unity")
    # runtime state shown by the panel
    status: bpy.props.StringProperty(name="Status", default="")
    progress: bpy.props.FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    running: bpy.props.BoolProperty(name="Running", default=False)
    started: bpy.props.FloatProperty(name="Started", default=0.0)

    def model_name(self) -> str:
        if self.model == "FILE":
            if not self.model_file:
                raise ValueError("choose a model TOML file, or another model")
            return bpy.path.abspath(self.model_file)
        return self.model


CLASSES = (MotionPromptSettings,)


def register_props() -> None:
    bpy.types.Scene.motionprompt = bpy.props.PointerProperty(type=MotionPromptSettings)


def unregister_props() -> None:
    del bpy.types.Scene.motionprompt
