"""Add-on preferences: where generation runs (interpreter, device) and where results go; what
that backend is (its interpreter and where it came from, an error naming a path that does not
exist, the last Test Backend result: motionprompt and torch versions, device, model loaded)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy

__all__ = ["MotionPromptPreferences", "get_prefs", "results_dir", "python_path", "backend_rows", "probe_summary",
           "LAST_PROBE", "CLASSES"]

#: The last Test Backend result: ``backend.probe_backend``'s dict, or ``{"error": message}``.
LAST_PROBE: dict = {}


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
    offload_text_encoder: bpy.props.BoolProperty(
        name="Offload text encoder", default=False,
        description="CUDA: keep the text encoder in CPU memory, on the GPU only while it encodes (flan-t5-xl: "
                    "2.3 GB of VRAM left to the 3B / 7B models); both backends")
    results_dir: bpy.props.StringProperty(
        name="Results folder", subtype="DIR_PATH", default="",
        description="Where generated motions (.npy) are kept for history and exports (empty: user data folder)")

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "backend")
        col.prop(self, "python_path")
        col.prop(self, "device")
        row = col.row()
        row.active = self.device == "cuda"
        row.prop(self, "offload_text_encoder")
        col.prop(self, "results_dir")
        box = self.layout.column()
        for icon, text in backend_rows(self):
            box.label(text=text, icon=icon)
        box.operator("motionprompt.test_backend", icon="PLAY")


class _Defaults:
    """Preference values when the add-on runs without being enabled as an add-on (tests, scripts)."""

    backend = "AUTO"
    python_path = ""
    device = "cpu"
    offload_text_encoder = False
    results_dir = ""


def get_prefs(context=None):
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None and addon.preferences is not None else _Defaults()


def python_path(prefs) -> str:
    """The preferences' interpreter, Blender-relative ``//`` paths made absolute ("" when unset)."""
    return bpy.path.abspath(prefs.python_path) if prefs.python_path.strip() else ""


def probe_summary(info: dict) -> str:
    """One line for a ``LAST_PROBE`` dict: versions, device, whether the model loaded (and why not)."""
    if "motionprompt" not in info:
        return info.get("error", "")
    gpus = info.get("cuda") or 0
    text = (f"{info.get('python')}: motionprompt {info['motionprompt']}, torch {info.get('torch') or 'missing'}, "
            f"device {info.get('device')} ({gpus} CUDA GPU{'s' if gpus != 1 else ''}), model {info.get('model')} "
            + (f"loaded in {info['load_s']} s" if info.get("loaded") else "not loaded"))
    return text + (f": {info['error']}" if info.get("error") else "")


def backend_rows(prefs) -> list[tuple[str, str]]:
    """(icon, text) rows saying what the backend of ``prefs`` is; ERROR rows name what is wrong."""
    from .backend import backend_kind, current_backend
    from .worker_client import WorkerError, interpreter

    rows = []
    if backend_kind(prefs.backend) == "worker":
        try:
            path, source = interpreter(python_path(prefs))
            rows.append(("NONE", f"Worker process: {path} (from {source})"))
        except WorkerError as e:
            rows.append(("ERROR", str(e).split("; ")[0]))
    else:
        rows.append(("NONE", "In Blender's own Python (torch imports here)"))
    be = current_backend()
    if be is not None:
        rows.append(("NONE", f"Now: {be.status()}"))
    if LAST_PROBE:
        bad = bool(LAST_PROBE.get("error")) or not LAST_PROBE.get("loaded")
        rows.append(("ERROR" if bad else "CHECKMARK", "Test: " + probe_summary(LAST_PROBE)))
    return rows


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
