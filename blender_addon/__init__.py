"""MotionPrompt: text-to-motion on SMPL-X armatures (3D Viewport > Sidebar > Motion).

This file only registers; the work lives in armature / keys / fbx_export / results (testable
with the ``bpy`` module alone), backend / worker_client (generation), operators / panel (UI).
"""

from __future__ import annotations

import bpy

from . import backend, operators, panel, preferences, properties

_CLASSES = preferences.CLASSES + properties.CLASSES + operators.CLASSES + panel.UI_LISTS + panel.CLASSES


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    properties.register_props()


def unregister() -> None:
    backend.shutdown_backend()
    properties.unregister_props()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
