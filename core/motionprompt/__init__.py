"""motionprompt: text-to-motion for animators.

Data flows one way: text -> tokens -> motion (272-dim frames, 30 fps) -> SMPL-X pose -> files / keys.
This package never imports ``bpy``; the Blender add-on lives in ``blender_addon/``.
"""

__version__ = "0.1.0"
