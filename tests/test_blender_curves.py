"""A Blender Curve as the Cleanup box's floor path (blender_addon/curves.py): its points read
against the coordinates it was drawn with, and a walk keyed through Apply Cleanup onto it,
checked on the evaluated bones (real Blender through the bpy module)."""

from __future__ import annotations

import numpy as np
import pytest
from blender_helpers import bpy, reset, world_heads

from test_blender_addon import addon  # noqa: E402,F401 (the fixture: the add-on registered, fake generator)

from blender_addon import curves  # noqa: E402
from motionprompt.body.motion import Motion  # noqa: E402
from motionprompt.files.formats import export  # noqa: E402


def _poly_curve(name: str, points_xy, location=(0.0, 0.0, 0.0), extra_spline=None):
    """A poly curve object through Blender points (x, y) on z = 0 (one spline; a second if given)."""
    data = bpy.data.curves.new(name, "CURVE")
    data.dimensions = "3D"
    for pts in [points_xy] + ([extra_spline] if extra_spline is not None else []):
        sp = data.splines.new("POLY")
        sp.points.add(len(pts) - 1)
        for p, (x, y) in zip(sp.points, pts):
            p.co = (x, y, 0.0, 1.0)
    obj = bpy.data.objects.new(name, data)
    obj.location = location
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.update()
    return obj


def test_floor_points_are_the_first_spline_seen_from_above():
    reset()
    curve = _poly_curve("L", [(0, 0), (0, -2), (2, -2)], location=(1.0, 0.5, 0.0), extra_spline=[(9, 9), (9, 8)])
    # Blender (x, y) lies over the SMPL-X floor point (x, -y); the object's location counts
    np.testing.assert_allclose(curves.floor_points(curve), [[1, -0.5], [1, 1.5], [3, 1.5]], atol=1e-6)
    arm = bpy.data.objects.new("rig", bpy.data.armatures.new("rig"))
    bpy.context.scene.collection.objects.link(arm)
    arm.location = (1.0, 0.5, 0.0)
    arm.rotation_euler = (0.0, 0.0, np.pi / 2)  # the rig turned a quarter turn: the path turns with it
    arm.scale = (0.01, 0.01, 0.01)  # a centimetre rig: its scale is no unit of the path
    bpy.context.view_layer.update()
    # in the rig's frame the L leads along its -X, then its +Y: SMPL-X floor (-2, 0), then (-2, 2)
    np.testing.assert_allclose(curves.floor_points(curve, arm), [[0, 0], [-2, 0], [-2, 2]], atol=1e-6)
    with pytest.raises(ValueError, match="not a curve"):
        curves.floor_points(arm)
    one = _poly_curve("dot", [(0, 0)])
    with pytest.raises(ValueError, match="fewer than two points"):
        curves.floor_points(one)


def _walk(seconds: float) -> Motion:
    from motionprompt_demo import synth

    R, root, joints = synth.render(synth.make_action("walk_forward", {"duration": seconds, "speed": "slow"}))
    return Motion(R, root, joints=joints, prompt="a person walks")


def test_apply_cleanup_walks_the_curve_and_loops(addon, tmp_path):
    """A walk loaded as a take, then Apply Cleanup with an L-shaped curve: the keyed pelvis
    stays within 5 cm rms of the drawn L (its corner rounded by the path's 0.3 m), seen from
    above; a loop of the same walk closes (first and last frame's pelvis heights agree)."""
    src = tmp_path / "walk.npy"
    export(_walk(6.0), "npy", src)
    assert bpy.ops.motionprompt.load_motion(filepath=str(src)) == {"FINISHED"}
    obj = bpy.context.active_object
    curve = _poly_curve("L path", [(0, 0), (0, -2), (2, -2)])
    bpy.context.view_layer.objects.active = obj
    addon.path_curve = curve
    assert bpy.ops.motionprompt.apply_cleanup() == {"FINISHED"}
    take = obj.animation_data.action
    first, last = (int(v) for v in take.frame_range)
    pelvis = np.array([world_heads(obj, ["pelvis"], f)[0] for f in range(first, last + 1)])
    xy = pelvis[:, :2]
    from motionprompt.postprocess.path import smooth_path

    line = smooth_path(curves.floor_points(curve))[0]  # (M, 2) SMPL-X floor, 1 cm apart
    near = np.min(np.linalg.norm((xy * [1, -1])[:, None] - line[None], axis=-1), axis=1)
    assert np.sqrt(np.mean(near ** 2)) < 0.05
    assert xy[-1, 0] > 1.0  # it went round the corner

    addon.path_curve, addon.loop = None, True
    bpy.context.view_layer.objects.active = obj
    from blender_addon import history

    history.activate(obj, history.history(obj)[0])
    assert bpy.ops.motionprompt.apply_cleanup() == {"FINISHED"}
    looped = obj.animation_data.action
    a, b = (int(v) for v in looped.frame_range)
    assert b - a + 1 < last - first + 1 + 200 and b > a
    h = np.array([world_heads(obj, ["pelvis"], f)[0, 2] for f in (a, b)])
    assert abs(h[0] - h[1]) < 0.01


def test_bake_follows_a_curve_from_a_blend_and_names_a_missing_one(tmp_path, capsys):
    """tools/bake.py --path-curve FILE.blend:NAME: the baked take's pelvis within 5 cm rms of the
    drawn L, the points written beside the manifest and recorded in its settings; a missing
    curve, or --path with --path-curve, exits 2 naming them, nothing written."""
    from test_blender_bake import _bake_in_process

    from motionprompt.files.formats import load_motion
    from motionprompt.postprocess.path import smooth_path

    src = tmp_path / "walk.npy"
    export(_walk(6.0), "npy", src)
    reset()
    _poly_curve("L path", [(0, 0), (0, -1.5), (1.5, -1.5)])
    scene = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene), copy=True)
    reset()
    out = tmp_path / "baked"
    base = ["--motion", str(src), "--out-dir", str(out), "--no-previews", "--fbx-preset", "blender"]
    assert _bake_in_process(base + ["--path-curve", f"{scene}:Nope"]) == 2
    err = capsys.readouterr().err
    assert "Nope" in err and "L path" in err and not out.exists()
    assert _bake_in_process(base + ["--path-curve", f"{scene}:L path", "--path", str(src)]) == 2
    assert "not both" in capsys.readouterr().err and not out.exists()
    reset()
    assert _bake_in_process(base + ["--path-curve", f"{scene}:L path"]) == 0
    import json

    rec = json.loads((out / "manifest.jsonl").read_text())
    points = json.loads(open(rec["settings"]["path"]).read())
    assert rec["status"] == "done" and open(rec["settings"]["path"]).name.startswith(str(out))
    np.testing.assert_allclose(points, [[0, 0], [0, 1.5], [1.5, 1.5]], atol=1e-6)
    baked = load_motion(out / rec["folder"] / "0_smplx.npz")
    xz = baked.root_translation[:, [0, 2]]
    line = smooth_path(np.array(points))[0]
    near = np.min(np.linalg.norm(xz[:, None] - line[None], axis=-1), axis=1)
    assert np.sqrt(np.mean(near ** 2)) < 0.05 and xz[-1, 0] > 1.0
    # the curve in the open .blend (blender -b scene.blend -P tools/bake.py -- --path-curve NAME)
    bpy.ops.wm.open_mainfile(filepath=str(scene))
    assert _bake_in_process(base[:3] + [str(tmp_path / "baked2")] + base[4:] + ["--path-curve", "L path"]) == 0
    rec2 = json.loads((tmp_path / "baked2" / "manifest.jsonl").read_text())
    assert json.loads(open(rec2["settings"]["path"]).read()) == points
