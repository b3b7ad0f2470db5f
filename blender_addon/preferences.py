"""Add-on preferences: where generation runs (interpreter, device) and where results go."""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy

__all__ = ["MotionPromptPreferences", "get_prefs", "results_dir", "CLASSES"]


class MotionPromptPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    backend: bpy.props.EnumProperty(
        name="Backend",
        items=[("AUTO", "Automatic", "In Blender's Python when torch and motionprompt import there, else the worker"),
               ("IN_PROCESS", "In Blender", "Generate inside Blender's Python (needs torch there)"),
               ("WORKER", "Worker process", "A persistent 'python -m motionprompt.app.worker' process")],
        default="AUTO")
    python_path: bpy.props.StringProperty(
        name="Python", subtype="FILE_PATH", default="",
        description="Interpreter with motionprompt and torch for the worker (empty: the project's .venv "
                    "when found, or $MOTIONPROMPT_PYTHON)")
    device: bpy.props.EnumProperty(
        name="Device", items=[("cpu", "CPU", "Generate on the CPU"), ("cuda", "CUDA", "Generate on the GPU")],
        default="cpu")
    results_dir: bpy.props.StringProperty(
        name="Results folder", subtype="DIR_PATH", default="",
        description="Where generated motions (.npy) are kept for history and exports (empty: user data folder)")

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "backend")
        col.prop(self, "python_path")
        col.prop(self, "device")
        col.prop(self, "results_dir")


class _Defaults:
    """Preference values when the add-on runs without being enabled as an add-on (tests, scripts)."""

    backend = "AUTO"
    python_path = ""
    device = "cpu"
    results_dir = ""


def get_prefs(context=None):
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None and addon.preferences is not None else _Defaults()


def results_dir(context=None) -> Path:
    """The folder for generated .npy files (created)."""
    configured = get_prefs(context).results_dir
    if configured:
        path = Path(bpy.path.abspath(configured))
    else:
        try:
            path = Path(bpy.utils.extension_path_user(__package__, path="results", create=True))
        except (ValueError, AttributeError, RuntimeError):
            path = Path(tempfile.gettempdir()) / "motionprompt_blender"
    path.mkdir(parents=True, exist_ok=True)
    return path


CLASSES = (MotionPromptPreferences,)
