"""A Blender Curve object as a floor path for the core's ``postprocess.follow_path``: its first
spline, as Blender evaluates it (Bezier, NURBS and poly splines, at the curve's resolution),
seen from above in the keyed armature's frame and written as the JSON points file the
post-processing stage reads (``[[x, z], ...]`` SMPL-X floor metres)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import bpy
import numpy as np

from .core import atomic_path

__all__ = ["floor_points", "path_file"]


def floor_points(curve, armature_obj=None, depsgraph=None) -> np.ndarray:
    """(N, 2) SMPL-X floor points (x, z), metres, of ``curve``'s first spline.

    Blender's Z-up world is SMPL-X's Y-up one turned +90 degrees about X ((x, y, z) SMPL-X is
    (x, -z, y) Blender), so a Blender point (x, y, z) lies over the floor point (x, -y). Points
    are taken relative to ``armature_obj`` (its location and rotation; its scale is the rig's
    unit, not the path's), so the path is where it is drawn in the scene for that armature.

    Raises:
        ValueError naming the object when it is not a curve or has fewer than two points.
    """
    if curve is None or curve.type != "CURVE":
        raise ValueError(f"path: {getattr(curve, 'name', curve)!r} is not a curve object; choose a Curve")
    if not curve.data.splines:
        raise ValueError(f"path: curve {curve.name!r} has no spline; draw one or choose another curve")
    depsgraph = depsgraph or bpy.context.evaluated_depsgraph_get()
    evaluated = curve.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        n = len(mesh.vertices)
        co = np.empty(n * 3)
        mesh.vertices.foreach_get("co", co)
        co = co.reshape(n, 3)
        # the first spline's vertices: the evaluated mesh lists splines one after another, each
        # a chain of edges (k, k + 1); the first chain stops where that pattern does
        if len(mesh.edges):
            e = np.empty(len(mesh.edges) * 2, dtype=np.int64)
            mesh.edges.foreach_get("vertices", e)
            e = e.reshape(-1, 2)
            k = np.arange(len(e))
            ok = (e[:, 0] == k) & (e[:, 1] == k + 1)
            co = co[: (len(e) if ok.all() else int(np.argmin(ok))) + 1]
    finally:
        evaluated.to_mesh_clear()
    if len(co) < 2:
        raise ValueError(f"path: curve {curve.name!r} has fewer than two points; draw a longer spline")
    world = (np.array(curve.matrix_world) @ np.c_[co, np.ones(len(co))].T).T[:, :3]
    if armature_obj is not None:
        m = np.array(armature_obj.matrix_world)
        rot = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)  # rotation only: unit scale columns
        world = (world - m[:3, 3]) @ rot
    return np.stack([world[:, 0], -world[:, 1]], axis=1)


def path_file(curve, armature_obj=None) -> str:
    """``floor_points`` written to a JSON file in Blender's session temporary folder (removed
    when Blender exits), named after the points so a changed curve is a new file; its path."""
    points = np.round(floor_points(curve, armature_obj), 6).tolist()
    text = json.dumps(points)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    folder = Path(bpy.app.tempdir or os.path.join(os.path.expanduser("~"), ".cache"))
    target = folder / f"motionprompt_path_{bpy.path.clean_name(curve.name)}_{digest}.json"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    return str(target)
