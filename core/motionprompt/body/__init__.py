"""The body, as pure numpy (no torch, no bpy; the Blender add-on vendors this package).

Rotations, the SMPL-X skeleton (forward kinematics), the 272-dim representation, ``Motion``
and the SMPL-X model files' rest joints. Axes: SMPL-X (metres, +Y up, the body faces +Z).
"""
