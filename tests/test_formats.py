"""Motion files: re-imported files give back the same joints; bad files give clear errors."""

import os
import subprocess
import sys

import numpy as np
import pytest

from motionprompt.files import formats
from motionprompt.files.formats import MotionFileError, export, load_motion
from motionprompt.body.motion import Motion
from motionprompt.body.rotations import axis_angle_to_matrix
from motionprompt.body.skeleton import BODY_JOINT_NAMES, DEFAULT_REST_PELVIS

from test_rep272 import synthetic_motion


@pytest.fixture
def motion():
    local, root, pos = synthetic_motion(T=40, seed=5)
    return Motion(local, root, joints=pos, prompt="a person — walks ünïcode", seed=3)


def _elementary(axis, deg):
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    if axis == "X":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "Y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def read_bvh_positions(path):
    """A small independent BVH reader: world joint positions (T, J, 3) and names."""
    tokens = open(path).read().split()
    names, parents, offsets, channels = [], [], [], []
    stack, i, end_site = [], 0, False
    while tokens[i] != "MOTION":
        t = tokens[i]
        if t in ("ROOT", "JOINT"):
            names.append(tokens[i + 1]); parents.append(stack[-1] if stack else -1); i += 2
        elif t == "End":
            end_site = True; i += 2
        elif t == "{":
            stack.append(None if end_site else len(names) - 1); i += 1
        elif t == "}":
            if stack.pop() is None:
                end_site = False
            i += 1
        elif t == "OFFSET":
            if not end_site:
                offsets.append([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif t == "CHANNELS":
            n = int(tokens[i + 1]); channels.append(tokens[i + 2:i + 2 + n]); i += 2 + n
        else:
            i += 1
    T = int(tokens[i + 2]); i += 6  # MOTION Frames: T Frame Time: dt
    data = np.array(tokens[i:], dtype=float).reshape(T, -1)
    J = len(names)
    pos, glob = np.zeros((T, J, 3)), np.zeros((T, J, 3, 3))
    for t in range(T):
        c = 0
        for j in range(J):
            R, p = np.eye(3), None
            for ch in channels[j]:
                v = data[t, c]; c += 1
                if ch.endswith("position"):
                    p = np.zeros(3) if p is None else p
                    p["XYZ".index(ch[0])] = v
                else:
                    R = R @ _elementary(ch[0], v)
            if parents[j] < 0:
                glob[t, j], pos[t, j] = R, p
            else:
                q = parents[j]
                glob[t, j] = glob[t, q] @ R
                pos[t, j] = pos[t, q] + glob[t, q] @ np.array(offsets[j])
    return names, pos


def test_bvh_reimport_gives_the_same_joints(motion, tmp_path):
    path = export(motion, "bvh", tmp_path / "m.bvh")
    names, pos = read_bvh_positions(path)
    assert sorted(names) == sorted(BODY_JOINT_NAMES)
    order = [names.index(n) for n in BODY_JOINT_NAMES]
    np.testing.assert_allclose(pos[:, order], motion.joint_positions(), atol=2e-5)  # 6 decimals in the file


def test_npz_reimport_gives_the_same_joints(motion, tmp_path):
    path = export(motion, "npz", tmp_path / "m.npz")
    with np.load(path) as d:
        assert d["poses"].shape == (40, 165) and d["trans"].shape == (40, 3) and d["betas"].shape == (10,)
        assert float(d["mocap_frame_rate"]) == 30.0 and str(d["gender"]) == "neutral"
        np.testing.assert_array_equal(d["poses"][:, 66:], 0)
        # SMPL-X transl puts J0 + transl on the pelvis
        np.testing.assert_allclose(d["trans"] + DEFAULT_REST_PELVIS, motion.root_translation, atol=1e-12)
        np.testing.assert_allclose(axis_angle_to_matrix(d["poses"][:, :66].reshape(40, 22, 3)), motion.rotations, atol=1e-9)
        assert str(d["prompt"]) == motion.prompt
    back = load_motion(path)
    assert back.prompt == motion.prompt and back.fps == 30.0
    np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=1e-9)


def test_npy_and_arrays(motion, tmp_path):
    x = np.load(export(motion, "npy", tmp_path / "a.npy"))
    assert x.shape == (40, 272) and x.dtype == np.float32
    back = load_motion(tmp_path / "a.npy")
    np.testing.assert_allclose(back.joint_positions(), Motion.from_272(motion.to_272()).joint_positions(), atol=1e-5)
    j = np.load(export(motion, "joints", tmp_path / "j.npy"))
    assert j.shape == (40, 22, 3)
    np.testing.assert_allclose(j, motion.joint_positions(), atol=1e-6)
    s85 = np.load(export(motion, "smplx85", tmp_path / "s85.npy"))
    s322 = np.load(export(motion, "smplx322", tmp_path / "s322.npy"))
    assert s85.shape == (40, 85) and s322.shape == (40, 322)
    np.testing.assert_array_equal(s322[:, :66], s85[:, :66])
    np.testing.assert_array_equal(s322[:, 309:312], s85[:, 72:75])
    np.testing.assert_array_equal(s322[:, 312:322], s85[:, 75:85])
    np.testing.assert_array_equal(s85[:, 66:72], 0)
    np.testing.assert_allclose(axis_angle_to_matrix(s85[:, :66].reshape(40, 22, 3)), motion.rotations, atol=1e-5)


@pytest.mark.parametrize("content, match", [
    (b"not an array at all", "not a readable"),
    ("zeros_263", r"\(40, 263\) is not a motion"),
    ("nan", "NaN"),
    ("truncated", "not a readable"),
    ("strings", "dtype"),
])
def test_bad_files_raise_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.npy"
    if content == "zeros_263":
        np.save(path, np.zeros((40, 263)))
    elif content == "nan":
        a = np.zeros((40, 272)); a[7, 3] = np.nan; np.save(path, a)
    elif content == "truncated":
        np.save(path, np.zeros((40, 272))); path.write_bytes(path.read_bytes()[:1000])
    elif content == "strings":
        np.save(path, np.array(["a", "b"]))
    else:
        path.write_bytes(content)
    with pytest.raises(MotionFileError, match=match) as e:
        load_motion(path)
    assert str(path) in str(e.value)


def test_atomic_write_leaves_nothing_on_failure(motion, tmp_path, monkeypatch):
    target = tmp_path / "m.npy"
    target.write_bytes(b"old")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(formats.np, "save", boom)
    with pytest.raises(RuntimeError):
        export(motion, "npy", target)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.npy"]


def test_export_cli_every_format(motion, tmp_path):
    src = tmp_path / "in.npy"
    export(motion, "npy", src)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "motionprompt", "export", str(src), "--to", "npy,joints,smplx85,smplx322,npz,bvh",
                        "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["in.npy", "in_joints.npy", "in_smplx85.npy", "in_smplx322.npy", "in.npz", "in.bvh"])
    r = subprocess.run([sys.executable, "-m", "motionprompt", "export", str(tmp_path / "missing.npy"), "--to", "bvh"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "missing.npy: no such file" in r.stderr


def test_bvh_through_blenders_importer(motion, tmp_path):
    """Blender's own BVH importer reads our file back to the same joints (Z up: (x, -z, y))."""
    bpy = pytest.importorskip("bpy")
    path = export(motion, "bvh", tmp_path / "m.bvh")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=1.0, frame_start=1, use_fps_scale=False,
                            update_scene_fps=True, update_scene_duration=True, axis_forward="-Z", axis_up="Y")
    arm = bpy.context.object
    assert arm.type == "ARMATURE"
    assert bpy.context.scene.render.fps == 30
    assert [b.name for b in arm.data.bones] and set(BODY_JOINT_NAMES) <= {b.name for b in arm.data.bones}
    joints = motion.joint_positions()
    for f in (0, 13, 39):
        bpy.context.scene.frame_set(f + 1)
        got = np.array([list(arm.matrix_world @ arm.pose.bones[n].head) for n in BODY_JOINT_NAMES])
        exp = joints[f][:, [0, 2, 1]] * [1, -1, 1]
        np.testing.assert_allclose(got, exp, atol=1e-4)


def test_smplx_model_sets_transl_from_exact_rest_pelvis(motion, tmp_path, monkeypatch):
    """With an SMPL-X model file, transl = pelvis - J0(betas) from the body model (a stand-in
    file here, the real ones cannot be shipped: its regressor picks vertex j for joint j)."""
    j0 = np.array([0.01, -0.35, 0.02])
    v = np.zeros((55, 3))
    v[0] = j0
    (tmp_path / "smplx").mkdir()
    np.savez(tmp_path / "smplx" / "SMPLX_NEUTRAL.npz", v_template=v, shapedirs=np.zeros((55, 3, 10)),
             J_regressor=np.eye(55))
    src = tmp_path / "in.npz"
    export(motion, "npz", src)
    from motionprompt.app.cli import main

    assert main(["export", str(src), "--to", "smplx85", "-o", str(tmp_path / "o.npy"), "--smplx-model", str(tmp_path)]) == 0
    s85 = np.load(tmp_path / "o.npy")
    np.testing.assert_allclose(s85[:, 72:75] + j0, motion.root_translation, atol=1e-6)


@pytest.mark.parametrize("case", ["zeros", "complex", "npz fps 0", "npz fps text", "npz rest_pelvis", "cli fps"])
def test_bad_motion_files_are_named_without_a_traceback(case, tmp_path, capsys):
    from motionprompt.app.cli import main

    src, extra = tmp_path / "m.npy", []
    if case == "zeros":
        np.save(src, np.zeros((10, 272)))
    elif case == "complex":
        np.save(src, np.ones((10, 272), dtype=complex))
    elif case == "cli fps":
        np.save(src, np.zeros((10, 272)))
        extra = ["--fps", "-5"]
    else:
        src = tmp_path / "m.npz"
        arrays = dict(poses=np.zeros((5, 66)), trans=np.zeros((5, 3)))
        arrays.update({"npz fps 0": dict(mocap_frame_rate=np.array(0.0)),
                       "npz fps text": dict(mocap_frame_rate=np.array("fast")),
                       "npz rest_pelvis": dict(rest_pelvis=np.zeros(7))}[case])
        np.savez(src, **arrays)
    rc = main(["export", str(src), "--to", "bvh", "-o", str(tmp_path / "o.bvh"), *extra])
    err = capsys.readouterr().err
    assert rc in (1, 2) and "Traceback" not in err and (str(src) in err or "--fps" in err), err
    assert {"zeros": "rotation channels are zero", "complex": "real numbers", "npz fps 0": "mocap_frame_rate",
            "npz fps text": "mocap_frame_rate", "npz rest_pelvis": "rest_pelvis", "cli fps": "--fps"}[case] in err
    assert not (tmp_path / "o.bvh").exists()
