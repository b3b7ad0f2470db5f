"""Where the add-on gets ``motionprompt`` from.

The installable zip (``tools/build_addon.py``) carries the torch-free sub-packages of the
package under ``vendor/motionprompt``; a Blender whose Python already imports ``motionprompt``
(the ``bpy`` module inside the project's .venv, a developer checkout) uses that one instead.
Everything else in the add-on reaches the package through this module only: the modules below,
and ``in_process_worker`` (generation inside Blender's Python).
"""

from __future__ import annotations

import importlib

__all__ = ["motionprompt", "rotations", "skeleton", "rig", "bonemap", "formats", "postprocess", "request", "atomic_path",
           "smplx_body", "Motion", "has_generator", "in_process_worker"]


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
rig = importlib.import_module(f"{_name}.body.rig")
bonemap = importlib.import_module(f"{_name}.body.bonemap")
formats = importlib.import_module(f"{_name}.files.formats")
postprocess = importlib.import_module(f"{_name}.postprocess")
request = importlib.import_module(f"{_name}.request")
atomic_path = importlib.import_module(f"{_name}.atomic").atomic_path
Motion = importlib.import_module(f"{_name}.body.motion").Motion
smplx_body = importlib.import_module(f"{_name}.body.smplx_body")


def has_generator() -> bool:
    """True when generation can run inside this Python (torch and the model stack import)."""
    try:
        importlib.import_module("torch")
        importlib.import_module(f"{_name}.generation.generator")
    except Exception:  # noqa: BLE001 - any import failure means: use the worker
        return False
    return True


def in_process_worker(model: str, device: str, send, offload_text_encoder: bool = False):
    """A ``motionprompt.app.worker.Worker`` with the model loaded in this Python (needs
    ``has_generator()``); ``send`` receives its replies. ``offload_text_encoder``: as the
    worker's ``--offload-text-encoder``."""
    worker = importlib.import_module(f"{_name}.app.worker")
    generator = worker.load_generator(model, device, offload_text_encoder=offload_text_encoder)
    return worker.Worker(generator, send, model_name=model, device=device)
