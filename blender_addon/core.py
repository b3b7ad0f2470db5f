"""Where the add-on gets ``motionprompt`` from.

The installable zip (``tools/build_addon.py``) carries the pure-Python parts of the package
under ``vendor/motionprompt``; a Blender whose Python already imports ``motionprompt`` (the
``bpy`` module inside the project's .venv, a developer checkout) uses that one instead.
Everything else in the add-on imports the package through this module only.
"""

from __future__ import annotations

import importlib

__all__ = ["motionprompt", "rotations", "skeleton", "formats", "atomic_path", "Motion", "has_generator"]


def _import():
    try:
        return importlib.import_module(f"{__package__}.vendor.motionprompt")
    except ImportError:
        pass
    try:
        return importlib.import_module("motionprompt")
    except ImportError as e:
        raise ImportError("motionprompt add-on: the motionprompt package is missing; install the zip built by "
                          "tools/build_addon.py, or run Blender with the project's .venv") from e


motionprompt = _import()
_name = motionprompt.__name__
rotations = importlib.import_module(f"{_name}.body.rotations")
skeleton = importlib.import_module(f"{_name}.body.skeleton")
formats = importlib.import_module(f"{_name}.files.formats")
atomic_path = importlib.import_module(f"{_name}.atomic").atomic_path
Motion = importlib.import_module(f"{_name}.body.motion").Motion


def has_generator() -> bool:
    """True when generation can run inside this Python (torch and the model stack import)."""
    try:
        importlib.import_module("torch")
        importlib.import_module(f"{_name}.generation.generator")
    except Exception:  # noqa: BLE001 - any import failure means: use the worker
        return False
    return True
