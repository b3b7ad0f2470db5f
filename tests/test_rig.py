"""Rig maths without Blender: pose key values on synthetic targets, checked by simulating how
Blender poses a bone hierarchy (rotations through scipy), and axes/units from rest heads."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motionprompt.body import rig
from motionprompt.body.motion import Motion
from motionprompt.body.skeleton import BODY_JOINT_NAMES, DEFAULT_REST_OFFSETS, JOINT_NAMES, PARENTS
from motionprompt.postprocess import in_place

#: SMPL-X (x, y, z) -> Blender (x, -z, y), written out independently of the module.
Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
J = 22


def _motion(T: int = 24, seed: int = 0) -> Motion:
    """Smooth random SMPL-X motion (rotations up to ~70 degrees, a turning, wandering pelvis)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, T)[:, None]
    aa = rng.normal(0.0, 0.5, (1, J, 3)) * np.sin(2 * np.pi * t[:, :, None] + rng.uniform(0, 6.3, (1, J, 3)))
    aa[:, 0, 1] += np.linspace(0.0, 2.5 * np.pi, T)
    rots = Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(T, J, 3, 3)
    root = np.stack([np.sin(3 * t[:, 0]), 0.9 + 0.1 * np.cos(5 * t[:, 0]), 2.0 * t[:, 0]], axis=1)
    return Motion(rots, root, fps=30.0)


def _rest_smplx() -> np.ndarray:
    """(22, 3) default rest joints, SMPL-X metres, pelvis 0.95 m up, computed by hand."""
    pos = np.zeros((J, 3))
    for j in range(1, J):
        pos[j] = pos[PARENTS[j]] + DEFAULT_REST_OFFSETS[j]
    return pos + np.array([0.0, 0.95, 0.0])


def _world_rotations_scipy(motion: Motion) -> list[Rotation]:
    """SMPL-X world rotation of every joint, composed by hand with scipy: G_j = G_parent R_j."""
    local = [Rotation.from_matrix(motion.rotations[:, j]) for j in range(J)]
    world = [local[0]]
    for j in range(1, J):
        world.append(world[PARENTS[j]] * local[j])
    return world


def _fk_smplx(motion: Motion, rest: np.ndarray) -> np.ndarray:
    """(T, 22, 3) world joint positions, SMPL-X metres, by hand."""
    G = _world_rotations_scipy(motion)
    pos = [motion.root_translation]
    for j in range(1, J):
        p = PARENTS[j]
        pos.append(pos[p] + G[p].apply(rest[j] - rest[p]))
    return np.stack(pos, axis=1)


def _rest4(rot: np.ndarray, head: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rot, head
    return m


def _pose_like_blender(hierarchy: list[tuple], channels: dict, t: int) -> dict[str, np.ndarray]:
    """Armature-space 4x4 pose matrix of every bone at frame ``t``, the way Blender builds it:
    ``pose_b = pose_parent @ rest_parent^-1 @ rest_b @ basis_b`` (``rest_parent`` dropped for a
    top-level bone), ``basis_b`` = the keyed quaternion and location (identity when unkeyed).

    hierarchy: (name, parent name or None, (3, 3) rest rotation, (3,) rest head), parents first.
    """
    pose: dict[str, np.ndarray] = {}
    rests: dict[str, np.ndarray] = {}
    for name, parent, rot, head in hierarchy:
        rests[name] = _rest4(rot, head)
        basis = np.eye(4)
        q = channels.get((name, "rotation_quaternion"))
        if q is not None:
            basis[:3, :3] = Rotation.from_quat(q[t], scalar_first=True).as_matrix()
        loc = channels.get((name, "location"))
        if loc is not None:
            basis[:3, 3] = loc[t]
        rel = rests[name] if parent is None else np.linalg.inv(rests[parent]) @ rests[name]
        pose[name] = (np.eye(4) if parent is None else pose[parent]) @ rel @ basis
    return pose


def _random_rest(rng, n: int) -> np.ndarray:
    return Rotation.random(n, random_state=rng).as_matrix()


def _foreign(axes: np.ndarray, scale: float, rng, drop=(), twist: bool = False, root_rest=None):
    """A foreign rig: random rest bone rotations, SMPL-X names, heads at ``scale * axes @ rest``;
    joints in ``drop`` have no bone (children hang on the nearest kept ancestor); ``twist`` puts
    an undriven bone between spine1 and spine2 (or spine3); ``root_rest`` adds a top-level
    ``root`` bone parenting the pelvis. Returns (hierarchy, RigTarget)."""
    heads_smplx = _rest_smplx()
    heads = scale * heads_smplx @ axes.T
    rests = _random_rest(rng, J)
    hierarchy, parent_of, rest, head = [], {}, {}, {}
    if root_rest is not None:
        hierarchy.append(("root", None, root_rest, np.zeros(3)))
        parent_of["root"], rest["root"], head["root"] = None, root_rest, np.zeros(3)
    kept = [j for j in range(J) if j not in drop]
    for j in kept:
        p = PARENTS[j]
        while p in drop:
            p = PARENTS[p]
        parent = BODY_JOINT_NAMES[p] if p >= 0 else ("root" if root_rest is not None else None)
        if twist and p == 3:
            if "twist" not in parent_of:
                tw_rot, tw_head = _random_rest(rng, 1)[0], 0.5 * (heads[3] + heads[6])
                hierarchy.append(("twist", BODY_JOINT_NAMES[3], tw_rot, tw_head))
                parent_of["twist"], rest["twist"], head["twist"] = BODY_JOINT_NAMES[3], tw_rot, tw_head
            parent = "twist"
        name = BODY_JOINT_NAMES[j]
        hierarchy.append((name, parent, rests[j], heads[j]))
        parent_of[name], rest[name], head[name] = parent, rests[j], heads[j]
    target = rig.RigTarget.from_bones({j: BODY_JOINT_NAMES[j] for j in kept}, parent_of, rest, head,
                                      axes=axes, scale=scale)
    return hierarchy, target


# ---------------------------------------------------------------------------------------------
# pose_channels


def _aligned_target(scale: float = 1.0) -> rig.RigTarget:
    heads = scale * _rest_smplx() @ Z_UP.T
    return rig.RigTarget(joints=np.arange(J), bones=BODY_JOINT_NAMES, rest=np.broadcast_to(Z_UP, (J, 3, 3)),
                         heads=heads, parent_row=PARENTS[:J], axes=Z_UP, scale=scale)


def test_smpl_aligned_rest_keys_are_the_local_rotations():
    motion = _motion(seed=1)
    out = rig.pose_channels(motion, _aligned_target())
    assert len(out) == J + 1
    for j, name in enumerate(BODY_JOINT_NAMES):
        q = out[(name, "rotation_quaternion")]
        assert q.shape == (motion.num_frames, 4)
        got = Rotation.from_quat(q, scalar_first=True).as_matrix()
        assert np.allclose(got, motion.rotations[:, j], atol=1e-9), name
        assert np.all(np.sum(q[1:] * q[:-1], axis=1) > 0), f"{name}: keys not sign-continuous"
    # Pelvis location: the SMPL-X pelvis offset from rest, in the (aligned) bone frame = SMPL-X axes.
    loc = out[("pelvis", "location")]
    assert np.allclose(loc, motion.root_translation - _rest_smplx()[0], atol=1e-12)


@pytest.mark.parametrize("axes_name,scale", [("z_up", 1.0), ("y_up", 100.0), ("z_up", 0.01)])
def test_foreign_rest_keys_pose_bones_onto_the_fk(axes_name, scale):
    rng = np.random.default_rng(3)
    axes = Z_UP if axes_name == "z_up" else np.eye(3)
    hierarchy, target = _foreign(axes, scale, rng)
    motion = _motion(seed=2)
    out = rig.pose_channels(motion, target)
    fk = scale * _fk_smplx(motion, _rest_smplx()) @ axes.T  # (T, 22, 3) armature space
    G = _world_rotations_scipy(motion)
    for t in (0, 9, 23):
        pose = _pose_like_blender(hierarchy, out, t)
        for j, (name, _, rest_rot, _) in enumerate(hierarchy):
            assert np.allclose(pose[name][:3, 3], fk[t, j], atol=1e-9 * max(scale, 1.0)), (t, name)
            world = axes @ G[j][t].as_matrix() @ axes.T @ rest_rot  # the rest frame turned by the joint's delta
            assert np.allclose(pose[name][:3, :3], world, atol=1e-9), (t, name)


def test_missing_joint_and_undriven_bone_keep_world_rotations():
    """No spine2 bone (spine3 hangs on an undriven twist bone under spine1): every driven
    bone still gets its joint's world rotation; the twist bone gets no key."""
    rng = np.random.default_rng(5)
    hierarchy, target = _foreign(Z_UP, 1.0, rng, drop=(6,), twist=True)
    assert 6 not in target.joints and target.joints[target.parent_row[target.row(9)]] == 3
    motion = _motion(seed=6)
    out = rig.pose_channels(motion, target)
    assert not any(bone == "twist" for bone, _ in out)
    G = _world_rotations_scipy(motion)
    fk = _fk_smplx(motion, _rest_smplx()) @ Z_UP.T
    for t in (0, 13):
        pose = _pose_like_blender(hierarchy, out, t)
        for name, _, rest_rot, _ in hierarchy:
            if name == "twist":
                continue
            j = BODY_JOINT_NAMES.index(name)
            assert np.allclose(pose[name][:3, :3], Z_UP @ G[j][t].as_matrix() @ Z_UP.T @ rest_rot, atol=1e-9), name
        for name in ("pelvis", "left_hip", "right_knee", "spine1"):  # not below the missing joint
            j = BODY_JOINT_NAMES.index(name)
            assert np.allclose(pose[name][:3, 3], fk[t, j], atol=1e-9), name


def test_root_motion_modes_on_a_root_bone():
    rng = np.random.default_rng(8)
    root_rest = Rotation.from_euler("z", 180, degrees=True).as_matrix()  # a bone pointing -Y
    hierarchy, target = _foreign(Z_UP, 100.0, rng, root_rest=root_rest)
    assert target.root == "root" and np.allclose(target.root_rest, root_rest)
    motion = _motion(seed=9)
    p_world = 100.0 * motion.root_translation @ Z_UP.T  # (T, 3) armature space, cm

    out = rig.pose_channels(motion, target, "root")
    for t in (0, 11, 23):
        pose = _pose_like_blender(hierarchy, out, t)
        assert np.allclose(pose["pelvis"][:3, 3], p_world[t], atol=1e-8)
        travel = 100.0 * np.array([motion.root_translation[t, 0], 0.0, motion.root_translation[t, 2]]) @ Z_UP.T
        assert np.allclose(pose["root"][:3, 3], travel, atol=1e-8)

    out = rig.pose_channels(motion, target, "pelvis")
    assert ("root", "location") not in out
    assert np.allclose(_pose_like_blender(hierarchy, out, 17)["pelvis"][:3, 3], p_world[17], atol=1e-8)

    out = rig.pose_channels(in_place(motion), target, "pelvis")  # in place: the post-processing step
    heads = np.array([_pose_like_blender(hierarchy, out, t)["pelvis"][:3, 3] for t in range(motion.num_frames)])
    assert np.allclose(heads[:, :2], p_world[0, :2], atol=1e-8)  # floor plane (Blender x, y) held
    assert np.allclose(heads[:, 2], p_world[:, 2], atol=1e-8)  # height still moves


def test_root_mode_without_a_root_bone_is_pelvis_and_bad_mode_raises():
    target = _aligned_target()
    motion = _motion(T=5)
    a, b = rig.pose_channels(motion, target, "root"), rig.pose_channels(motion, target, "pelvis")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="root_motion"):
        rig.pose_channels(motion, target, "hips")


# ---------------------------------------------------------------------------------------------
# RigTarget


def test_from_bones_keyed_parents_root_and_estimated_axes():
    heads_smplx = _rest_smplx()
    names = {j: "m_avg_" + BODY_JOINT_NAMES[j] for j in range(J) if j != 3}  # no spine1
    parent_of = {"Armature": None, "hips_ctrl": "Armature"}
    for j, name in names.items():
        p = PARENTS[j]
        parent_of[name] = "hips_ctrl" if p < 0 else ("spine_mid" if p == 3 else names[p])
    parent_of["spine_mid"] = names[0]
    heads = {n: 100.0 * heads_smplx[j] for j, n in names.items()}  # Y-up centimetres
    rest = {n: np.eye(3) for n in list(names.values()) + ["hips_ctrl"]}
    target = rig.RigTarget.from_bones(names, parent_of, rest, heads)
    assert target.joint_bones == names
    assert target.joints[target.parent_row[target.row(6)]] == 0  # past the undriven spine_mid and the missing spine1
    assert target.parent_row[target.row(0)] == -1
    assert target.root is None  # the pelvis' parent is not a top-level bone
    assert np.allclose(target.axes, np.eye(3)) and target.scale == 100.0
    parent_of["hips_ctrl"] = None
    target = rig.RigTarget.from_bones(names, parent_of, rest, heads, axes=Z_UP)
    assert target.root == "hips_ctrl" and target.scale == 1.0 and np.allclose(target.axes, Z_UP)


def test_target_validation():
    good = dict(joints=[0, 1], bones=["pelvis", "left_hip"], rest=np.tile(np.eye(3), (2, 1, 1)),
                heads=np.zeros((2, 3)), parent_row=[-1, 0])
    rig.RigTarget(**good)
    for bad in (dict(joints=[1, 2], parent_row=[-1, 0]), dict(heads=np.zeros((3, 3))),
                dict(bones=["pelvis", "pelvis"]), dict(parent_row=[-1, 4]), dict(parent_row=[-1, 1]),
                dict(scale=0.0), dict(t=[0.0, 1.5])):
        with pytest.raises(ValueError):
            rig.RigTarget(**{**good, **bad})
    with pytest.raises(ValueError, match="motion has"):
        rig.pose_channels(_motion(T=3), rig.RigTarget(**{**good, "joints": [0, 30]}))


# ---------------------------------------------------------------------------------------------
# Axes and units


@pytest.mark.parametrize("axes,scale", [
    (Z_UP, 1.0),  # Blender: Z up, faces -Y, metres
    (np.eye(3), 100.0),  # a Y-up centimetre rig kept in its own axes
    (Rotation.from_euler("z", 90, degrees=True).as_matrix() @ Z_UP, 1.0),  # turned to face +X
    (Z_UP, 0.01),  # metres imported at 0.01
])
def test_axes_and_scale_from_rest_heads(axes, scale):
    heads = scale * _rest_smplx() @ axes.T
    A, s = rig.axes_and_scale(heads)
    assert np.allclose(A, axes, atol=1e-12) and s == scale
    # Only some joints (no hips: the shoulders give the left; no spine3 / neck / head).
    keep = [0, 3, 6, 16, 17, 18]
    A, s = rig.axes_and_scale(heads[keep], keep)
    assert np.allclose(A, axes, atol=1e-12) and s == scale


def test_axes_snap_a_leaning_rest_but_keep_a_lying_one():
    heads = _rest_smplx()
    lean = Rotation.from_euler("x", 15, degrees=True).as_matrix()  # leaning forward 15 degrees
    A, _ = rig.axes_and_scale(heads @ (Z_UP @ lean).T)
    assert np.allclose(A, Z_UP)
    tilt = Rotation.from_euler("x", 45, degrees=True).as_matrix()
    tilted = heads @ (Z_UP @ tilt).T
    A, _ = rig.axes_and_scale(tilted)
    assert np.allclose(A.T @ A, np.eye(3)) and np.isclose(np.linalg.det(A), 1.0)
    left = tilted[1] - tilted[2]
    assert np.allclose(A[:, 0], left / np.linalg.norm(left))  # left is the hips' direction
    assert np.degrees(np.arccos(A[2, 1])) > 30  # up really is tilted: not snapped


def test_axes_default_without_hips_shoulders_or_spine():
    heads = _rest_smplx() @ np.eye(3).T
    for keep in ([0, 3, 6, 9], [0, 1, 2, 4, 5]):
        A, s = rig.axes_and_scale(heads[keep], keep)
        assert np.allclose(A, Z_UP) and s == 1.0


def test_snap_axes():
    near = Rotation.from_euler("xyz", [5, -8, 12], degrees=True).as_matrix() @ Z_UP
    assert np.array_equal(rig.snap_axes(near), Z_UP)
    far = Rotation.from_euler("z", 40, degrees=True).as_matrix()
    assert np.array_equal(rig.snap_axes(far), far)


# ---------------------------------------------------------------------------------------------
# Names and purity


def test_canonical_names_and_matching():
    assert rig.canonical_bone_name("left_eye") == "left_eye_smplhf"
    assert rig.canonical_bone_name("R_Index2") == "right_index2"
    assert rig.canonical_bone_name("m_avg_L_Wrist") == "left_wrist"
    assert rig.canonical_bone_name("SMPLX:Pelvis") == "pelvis"
    assert rig.canonical_bone_name("mixamorig:Spine") == "spine"
    found = rig.match_joint_bones(["root", "Pelvis", "pelvis", "L_Hip", "prop", "left_eye", "jaw"])
    assert found == {0: "pelvis", 1: "L_Hip", JOINT_NAMES.index("left_eye_smplhf"): "left_eye",
                     JOINT_NAMES.index("jaw"): "jaw"}


def test_rig_imports_without_bpy_torch_or_scipy():
    code = ("import sys\nfor m in ('bpy', 'mathutils', 'torch', 'scipy'): sys.modules[m] = None\n"
            "import motionprompt.body.rig as r\nprint(r.pose_channels.__name__)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
