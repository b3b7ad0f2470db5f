"""The add-on in real Blender: registration, Generate (in-process and worker, synchronous
headless path), cancel, a killed worker, history in the NLA, export buttons."""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest
from blender_helpers import SMPLX_TO_BLENDER, bpy, reset, world_heads

from motionprompt.body.motion import Motion
from motionprompt.files.formats import load_motion
from motionprompt.request import GenerateRequest
from motionprompt.body.skeleton import BODY_JOINT_NAMES, JOINT_NAMES

import blender_addon  # noqa: E402
from blender_addon import backend, compat, history, preferences  # noqa: E402

TESTS = os.path.dirname(os.path.abspath(__file__))
OPERATORS = ("generate", "cancel", "random_seed", "restart_backend", "load_motion", "history_use", "export",
             "apply_cleanup", "continue_take", "inbetween")


@pytest.fixture
def addon(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTIONPROMPT_GENERATOR_FACTORY", "fake_generator:make_generator")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(preferences._Defaults, "results_dir", str(tmp_path / "results"))
    reset()
    blender_addon.register()
    s = bpy.context.scene.motionprompt
    s.prompt, s.seconds, s.seed = "a person waves", 0.6, 10
    yield s
    backend.shutdown_backend()
    blender_addon.unregister()


def test_register_unregister_and_operators_exist():
    reset()
    for _ in range(2):
        blender_addon.register()
        for name in OPERATORS:
            assert getattr(bpy.ops.motionprompt, name).get_rna_type() is not None
        for panel in ("MOTIONPROMPT_PT_generate", "MOTIONPROMPT_PT_keys", "MOTIONPROMPT_PT_history",
                      "MOTIONPROMPT_PT_export", "MOTIONPROMPT_PT_cleanup"):
            assert hasattr(bpy.types, panel)
        assert hasattr(bpy.types.Scene, "motionprompt")
        blender_addon.unregister()
        assert not hasattr(bpy.types.Scene, "motionprompt")
        assert not hasattr(bpy.types, "MOTIONPROMPT_PT_generate")


def _check_keys_match_file(obj, action):
    """The keys are the action's motion: its file (worker results; the packed frames equal it),
    else the frames packed in the .blend (in-process results write no file)."""
    path = action.get(history.PROPS["file"])
    if path is not None:
        motion = load_motion(path)
        assert np.array_equal(history.frames_272(motion), history.frames_272(history.stored_motion(obj, action)))
    else:
        motion = history.stored_motion(obj, action)
    fk = motion.joint_positions() @ SMPLX_TO_BLENDER.T
    for f in (0, motion.num_frames - 1):
        assert np.abs(world_heads(obj, BODY_JOINT_NAMES, 1 + f) - fk[f]).max() < 1e-4


@pytest.mark.parametrize("mode", ["IN_PROCESS", "WORKER"])
def test_generate_sync_keys_samples_into_history(addon, monkeypatch, mode):
    monkeypatch.setattr(preferences._Defaults, "backend", mode)
    addon.num = 2
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert backend.current_backend().kind == ("in-process" if mode == "IN_PROCESS" else "worker")
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and "pelvis" in obj.pose.bones
    acts = history.history(obj)
    assert len(acts) == 2 and len(obj.animation_data.nla_tracks) == 2
    assert [a[history.PROPS["seed"]] for a in acts] == [10, 11]
    assert all(a[history.PROPS["prompt"]] == "a person waves" for a in acts)
    assert acts[0].name.startswith("a person waves") and obj.animation_data.action == acts[0]
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1, 18)
    _check_keys_match_file(obj, acts[0])
    assert addon.progress == 1.0 and not addon.running
    # the second variant can be made active from the history
    assert bpy.ops.motionprompt.history_use(action=acts[1].name) == {"FINISHED"}
    assert obj.animation_data.action == acts[1]
    _check_keys_match_file(obj, acts[1])


def test_worker_killed_is_reported_then_restarted(addon, monkeypatch):
    monkeypatch.setattr(preferences._Defaults, "backend", "WORKER")
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    be = backend.current_backend()
    first_pid = be.client.proc.pid
    addon.prompt = "crash"  # the fake generator exits the process with code 3
    with pytest.raises(RuntimeError, match=r"exited \(code 3\)[\s\S]*crashing on purpose"):
        bpy.ops.motionprompt.generate()
    assert not be.busy and not be.client.alive()
    be.client.start()
    be.client.proc.kill()  # killed from outside while idle
    be.client.proc.wait(10)
    addon.prompt = "a person jumps"
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert be.client.alive() and be.client.proc.pid != first_pid


@pytest.mark.parametrize("mode", ["IN_PROCESS", "WORKER"])
def test_cancel_and_busy_refusal(addon, monkeypatch, mode):
    monkeypatch.setattr(preferences._Defaults, "backend", mode)
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.05")
    be = backend.get_backend(mode, "demo", "cpu")
    req = be.submit(GenerateRequest(["walk"], seconds=4.0))
    with pytest.raises(backend.BusyError):
        be.submit(GenerateRequest(["again"], seconds=1.0))
    with pytest.raises(RuntimeError, match="already running"):
        bpy.ops.motionprompt.generate()
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline and not any(m.get("type") == "progress" for m in seen):
        seen += be.wait_messages(0.1)
    be.cancel()
    while time.monotonic() < deadline and be.busy:
        seen += be.wait_messages(0.1)
    assert [m["type"] for m in seen if m.get("id") == req["id"]][-1] == "cancelled"
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}  # alive and free again


@pytest.mark.parametrize("compose", ["ON", "OFF"])
def test_composed_prompt_marks_where_each_action_begins(addon, compose):
    """Pose markers at each action's first frame, at the scene's frame rate after resampling."""
    addon.prompt, addon.seconds, addon.compose, addon.frame_start = "a person walks. Next, she waves", 2.0, compose, 5
    addon.fps_mode = "RESAMPLE"
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 24, 1.0
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    action = bpy.context.active_object.animation_data.action
    marks = sorted((m.frame, m.name) for m in action.pose_markers)
    if compose == "OFF":
        assert marks == []
    else:  # the fake generator gives the two actions one second each
        assert marks == [(5, "a person walks"), (5 + 24, "she waves")]
        assert action.frame_range[1] == 5 + 47  # 60 frames at 30 fps: 59 / 30 s, 47 frames at 24


def test_generation_warnings_are_reported(addon):
    """A motion's warnings (``Motion.meta["warnings"]``) end the panel's status and make the
    operator's report a warning."""
    from blender_addon import operators

    addon.prompt, addon.seconds = "a person warns", 1.0
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert addon.status.endswith("; warning: fake warning for 'a person warns'")
    assert operators.report_level("done", addon.status) == {"WARNING"}
    assert operators.report_level("done", "2 motion(s) keyed in 0.1 s") == {"INFO"}
    assert operators.result_warnings({"motions": [{"warnings": ["a", "b"]}, {"warnings": ["b"]}, {}]}) == ["a", "b"]


def test_resample_to_scene_fps_and_selected_target(addon):
    bpy.context.scene.render.fps = 24
    addon.fps_mode = "RESAMPLE"
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    obj = bpy.context.active_object
    assert tuple(obj.animation_data.action.frame_range) == (1.0, 15.0)  # 18 frames at 30 fps -> round(17 * 24 / 30) + 1 at 24
    assert bpy.context.scene.render.fps == 24
    addon.target, addon.fps_mode, addon.root_motion = "SELECTED", "SET_SCENE", "none"
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert len([o for o in bpy.data.objects if o.type == "ARMATURE"]) == 1
    assert len(history.history(obj)) == 2 and bpy.context.scene.render.fps == 30


def test_load_motion_file_and_export_buttons(addon, tmp_path):
    from motionprompt.files.formats import export
    from blender_helpers import synthetic_motion

    src = tmp_path / "clip.npy"
    export(synthetic_motion(T=20, seed=9), "npy", src)
    assert bpy.ops.motionprompt.load_motion(filepath=str(src)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.animation_data.action.name == "clip"
    for fmt in ("NPY", "NPZ", "FBX", "GIF"):
        out = tmp_path / f"out.{fmt.lower()}"
        assert bpy.ops.motionprompt.export(filepath=str(out), format=fmt, fbx_preset="unreal") == {"FINISHED"}
        assert out.is_file() and out.stat().st_size > 0
    back = load_motion(tmp_path / "out.npy")
    assert np.allclose(back.root_translation, load_motion(src).root_translation, atol=1e-5)


def test_invoke_headless_takes_the_synchronous_path(addon):
    assert bpy.ops.motionprompt.generate("INVOKE_DEFAULT") == {"FINISHED"}
    assert bpy.context.active_object.type == "ARMATURE"


@pytest.mark.parametrize("escape", [False, True])
def test_modal_polls_replies_applies_on_main_thread_and_escape_cancels(addon, monkeypatch, escape):
    """Drives the modal handler as Blender's event loop would (no window in these tests)."""
    from types import SimpleNamespace

    from blender_addon.operators import MOTIONPROMPT_OT_generate, generation_request

    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.03" if escape else "0.002")
    be = backend.get_backend("WORKER", "demo", "cpu")
    reports = []
    op = SimpleNamespace(_backend=be, _model="demo", _timer=None, _onto=None, _anchor=None, _strip=None,
                         report=lambda kind, msg: reports.append(msg))
    be.submit(generation_request(bpy.context))
    modal = MOTIONPROMPT_OT_generate.modal
    assert modal(op, bpy.context, SimpleNamespace(type="MOUSEMOVE", value="NOTHING")) == {"PASS_THROUGH"}
    timer = SimpleNamespace(type="TIMER", value="NOTHING")
    deadline = time.monotonic() + 60
    state = {"RUNNING_MODAL"}
    while state == {"RUNNING_MODAL"} and time.monotonic() < deadline:
        if escape is True and addon.progress > 0:
            assert modal(op, bpy.context, SimpleNamespace(type="ESC", value="PRESS")) == {"RUNNING_MODAL"}
            escape = "sent"
        time.sleep(0.02)
        state = modal(op, bpy.context, timer)
    if escape:
        assert state == {"CANCELLED"} and reports[-1] == "generation cancelled"
        assert not [o for o in bpy.data.objects if o.type == "ARMATURE"]
    else:
        assert state == {"FINISHED"} and "keyed" in reports[-1]
        assert bpy.context.active_object.type == "ARMATURE" and addon.progress == 1.0
    assert not be.busy and not addon.running


def test_demo_model_through_the_worker_to_keys(addon, monkeypatch):
    from motionprompt.models import model_spec

    if not model_spec.DEMO_SPEC.is_file():
        pytest.skip("demo model not installed")
    monkeypatch.delenv("MOTIONPROMPT_GENERATOR_FACTORY")
    monkeypatch.setattr(preferences._Defaults, "backend", "WORKER")
    addon.prompt, addon.seconds = "a person walks forward, then waves with the right hand", 10.0
    assert addon.compose == "MODEL"  # the demo's own choice: action by action
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    obj = bpy.context.active_object
    action = obj.animation_data.action
    assert "demo" in action[history.PROPS["model"]]
    _check_keys_match_file(obj, action)
    marks = sorted((m.frame, m.name) for m in action.pose_markers)
    assert [n for _, n in marks] == ["a person walks forward", "waves with the right hand"]
    assert marks[0][0] == 1 and 1 < marks[1][0] < action.frame_range[1]


def test_rest_from_smplx_model_files_and_selected_target_needs_an_armature(addon, monkeypatch):
    import motionprompt.body.smplx_body as smplx_body
    from motionprompt.body.skeleton import DEFAULT_REST_OFFSETS, rest_positions

    from motionprompt.body.skeleton import EXTRA_REST_OFFSETS

    joints = rest_positions(np.concatenate([DEFAULT_REST_OFFSETS * 1.1, EXTRA_REST_OFFSETS])) + [0.0, 0.3, 0.0]
    seen = []
    monkeypatch.setattr(smplx_body, "rest_joints", lambda folder, **kw: seen.append(folder) or joints)
    addon.rest, addon.smplx_dir = "SMPLX", "/models/smplx"
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert seen == ["/models/smplx"]
    obj = bpy.context.active_object
    heads = np.array([tuple(obj.data.bones[n].head_local) for n in JOINT_NAMES])
    rel = (heads - heads[0]) @ SMPLX_TO_BLENDER  # back to SMPL-X axes, pelvis-relative
    assert np.allclose(rel, joints - joints[0], atol=1e-5)

    addon.target = "SELECTED"
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match="select an SMPL-X armature"):
        bpy.ops.motionprompt.generate()


def test_model_that_cannot_load_is_reported_by_name(addon, monkeypatch, tmp_path):
    monkeypatch.delenv("MOTIONPROMPT_GENERATOR_FACTORY")
    monkeypatch.setattr(preferences._Defaults, "backend", "WORKER")
    addon.model, addon.model_file = "FILE", str(tmp_path / "missing_model.toml")
    with pytest.raises(RuntimeError, match="missing_model.toml"):
        bpy.ops.motionprompt.generate()
    assert not backend.current_backend().busy and not addon.running


class _Layout:
    """Records a panel's draw calls and checks every property and operator it names exists."""

    def __init__(self, log):
        self.log = log

    def _child(self, *a, **kw):
        return _Layout(self.log)

    column = row = _child

    def prop(self, data, name, **kw):
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        self.log.append(("prop", name))

    def label(self, text="", **kw):
        self.log.append(("label", text) if "icon" not in kw else ("label", text, kw["icon"]))

    def progress(self, factor=0.0, type="BAR", text=""):
        self.log.append(("progress", text))

    def prop_search(self, data, name, search_data, search_name, **kw):
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        assert search_name in search_data.bl_rna.properties, f"{type(search_data).__name__} has no {search_name!r}"
        self.log.append(("prop_search", name))

    def template_list(self, list_id, list_name, data, name, active_data, active_name, **kw):
        assert hasattr(bpy.types, list_id), f"no UIList {list_id!r} registered"
        assert name in data.bl_rna.properties and active_name in active_data.bl_rna.properties
        self.log.append(("template_list", list_id))
        ui_list = getattr(bpy.types, list_id)
        for i, item in enumerate(getattr(data, name)):  # each row, as Blender would draw it
            ui_list.draw_item(None, bpy.context, _Layout(self.log), data, item, 0, active_data, active_name, i)

    def operator(self, idname, **kw):
        cat, name = idname.split(".")
        props = getattr(getattr(bpy.ops, cat), name).get_rna_type().properties
        self.log.append(("operator", idname))

        class _Props:
            def __setattr__(self, key, value):
                assert key in props, f"{idname} has no property {key!r}"

        return _Props()


def test_panels_draw_with_existing_properties_and_operators(addon):
    from types import SimpleNamespace

    from blender_addon import panel

    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    for running in (False, True):
        addon.running, addon.model, addon.rest = running, "FILE", "SMPLX"
        log = []
        for cls in panel.CLASSES:
            cls.draw(SimpleNamespace(layout=_Layout(log)), bpy.context)
        ops = {x[1] for x in log if x[0] == "operator"}
        assert ("motionprompt.cancel" in ops) == running and ("motionprompt.generate" in ops) != running
        assert {"motionprompt.export", "motionprompt.history_use", "motionprompt.random_seed"} <= ops
        assert ("prop", "model_file") in log and ("prop", "smplx_dir") in log


def _packed(action) -> np.ndarray:
    """(T, 272) float32 frames packed on ``action``."""
    return np.array(action[history.PROPS["frames"]], dtype=np.float32).reshape(-1, 272)


def test_in_process_generate_writes_no_file_and_keys_what_the_worker_would(addon, monkeypatch, tmp_path):
    results_dir = tmp_path / "results"
    monkeypatch.setattr(preferences._Defaults, "backend", "IN_PROCESS")
    addon.num = 2
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert backend.current_backend().kind == "in-process"
    assert results_dir.is_dir() and not list(results_dir.iterdir())  # nothing written for in-process results
    reply = backend.current_backend().run_sync(GenerateRequest(["walk"], seconds=0.4, out_dir=results_dir))
    assert isinstance(reply["motions"][0]["motion"], Motion)
    assert "path" not in reply["motions"][0] and not list(results_dir.iterdir())
    in_obj = bpy.context.active_object
    in_acts = history.history(in_obj)
    for act in in_acts:
        assert history.PROPS["file"] not in act
        assert act[history.PROPS["sha256"]] == history.content_hash(_packed(act))
        assert act[history.PROPS["fps"]] == 30.0 and act[history.PROPS["prompt"]] == "a person waves"

    # the same request through the worker process: the same frames, the same keys
    monkeypatch.setattr(preferences._Defaults, "backend", "WORKER")
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    wk_obj = bpy.context.active_object
    assert wk_obj != in_obj and backend.current_backend().kind == "worker"
    wk_acts = history.history(wk_obj)
    assert len(list(results_dir.glob("*.npy"))) == 2
    for a_in, a_wk in zip(in_acts, wk_acts):
        assert np.array_equal(_packed(a_in), _packed(a_wk))
        assert np.array_equal(_packed(a_wk), np.load(a_wk[history.PROPS["file"]]))
        assert a_in[history.PROPS["sha256"]] == a_wk[history.PROPS["sha256"]]
    heads_in = {f: world_heads(in_obj, JOINT_NAMES, f) for f in (1, 9, 18)}
    for f, heads in heads_in.items():
        assert np.abs(world_heads(wk_obj, JOINT_NAMES, f) - heads).max() < 1e-6
    _check_keys_match_file(in_obj, in_acts[0])


def test_export_from_a_reopened_blend_is_its_own_motion_not_the_results_file(addon, monkeypatch, tmp_path):
    """A later session restarts request ids in the same results folder: exports of an old .blend's
    action still give that action's motion; an action that depends on an overwritten file fails."""
    import itertools
    import shutil

    monkeypatch.setattr(preferences._Defaults, "backend", "WORKER")
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    action = bpy.context.active_object.animation_data.action
    name, first_file = action.name, action[history.PROPS["file"]]
    first = np.load(first_file)
    assert np.array_equal(_packed(action), first)
    blend = tmp_path / "first.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))

    # a fresh session: ids start again at g1, another motion (another seed)
    backend.shutdown_backend()
    monkeypatch.setattr(backend, "_ids", itertools.count(1))
    reset()
    addon = bpy.context.scene.motionprompt
    addon.prompt, addon.seconds, addon.seed = "a person waves", 0.6, 99
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    second_file = bpy.context.active_object.animation_data.action[history.PROPS["file"]]
    second = np.load(second_file)
    assert second_file != first_file and np.array_equal(np.load(first_file), first)  # unique names per take
    assert not np.array_equal(second, first)
    shutil.copyfile(second_file, first_file)  # what the id-named files of before did to the first take

    bpy.ops.wm.open_mainfile(filepath=str(blend))
    obj = bpy.context.active_object
    action = obj.animation_data.action
    assert action.name == name and obj.type == "ARMATURE"
    for fmt in ("NPY", "NPZ", "GIF"):
        out = tmp_path / f"old.{fmt.lower()}"
        assert bpy.ops.motionprompt.export(filepath=str(out), format=fmt) == {"FINISHED"}
        assert out.is_file() and out.stat().st_size > 0
    assert np.array_equal(np.load(tmp_path / "old.npy"), first)  # the first motion, not the file's
    assert np.allclose(load_motion(tmp_path / "old.npz").root_translation,
                       load_motion(tmp_path / "old.npy").root_translation, atol=1e-5)

    # only a file path and its hash recorded (frames lost): the overwritten file is refused
    del action[history.PROPS["frames"]]
    msg = rf"{name}[\s\S]*{first_file}[\s\S]*was overwritten since; re-generate or export FBX"
    with pytest.raises(RuntimeError, match=msg):
        bpy.ops.motionprompt.export(filepath=str(tmp_path / "bad.npy"), format="NPY")
    # only a file path (an action from before frames were packed): checked against the keys
    del action[history.PROPS["sha256"]]
    with pytest.raises(RuntimeError, match=msg):
        bpy.ops.motionprompt.export(filepath=str(tmp_path / "bad.npy"), format="NPY")
    assert not (tmp_path / "bad.npy").exists()
    np.save(first_file, first)  # the genuine file back: the old action exports from it
    assert bpy.ops.motionprompt.export(filepath=str(tmp_path / "legacy.npy"), format="NPY") == {"FINISHED"}
    assert np.array_equal(np.load(tmp_path / "legacy.npy"), first)
    assert bpy.ops.motionprompt.export(filepath=str(tmp_path / "old.fbx"), format="FBX") == {"FINISHED"}


@pytest.mark.parametrize("fps_mode, root_motion", [("RESAMPLE", "none"), ("SET_SCENE", "root")])
def test_action_without_a_hash_checks_its_file_against_the_keys(addon, monkeypatch, tmp_path, fps_mode, root_motion):
    """The keys check of old actions holds whatever post-processing keyed them (resampled, in
    place, root motion), and catches another motion of the same length in the file."""
    monkeypatch.setattr(preferences._Defaults, "backend", "WORKER")
    bpy.context.scene.render.fps = 24
    addon.fps_mode, addon.root_motion, addon.frame_start, addon.num = fps_mode, root_motion, 7, 2
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    first, second = history.history(bpy.context.active_object)
    for act in (first, second):
        del act[history.PROPS["frames"]], act[history.PROPS["sha256"]]
    out = tmp_path / "m.npy"
    assert bpy.ops.motionprompt.export(filepath=str(out), format="NPY") == {"FINISHED"}
    assert np.array_equal(np.load(out), np.load(first[history.PROPS["file"]]))
    np.save(first[history.PROPS["file"]], np.load(second[history.PROPS["file"]]))  # the other seed's take
    with pytest.raises(RuntimeError, match="was overwritten since"):
        bpy.ops.motionprompt.export(filepath=str(out), format="NPY")


# ---------------------------------------------------------------------------------------------
# Bone maps: keying a selected third-party rig, the custom map editor


BONE_MAP_OPERATORS = ("bone_map_detect", "bone_map_add", "bone_map_remove", "bone_map_save", "bone_map_load")


def _select(obj):
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def _mixamo():
    import rig_builders

    rig = rig_builders.build_mixamo()
    _select(rig)
    return rig


def _keyed_bones(action) -> set[str]:
    return {fc.data_path.split('"')[1] for fc in compat.slot_fcurves(action)}


def _rows(obj) -> list[tuple]:
    return [(r.bone, r.joint, r.toward, round(r.t, 6)) for r in obj.motionprompt_bone_map]


def _draw_keys_panel(log=None) -> list:
    from types import SimpleNamespace

    log = [] if log is None else log
    bpy.types.MOTIONPROMPT_PT_keys.draw(SimpleNamespace(layout=_Layout(log)), bpy.context)
    return log


def _labels(log) -> list[str]:
    return [x[1] for x in log if x[0] == "label"]


def test_generate_onto_a_selected_mixamo_rig_with_auto_detect(addon, capfd):
    from blender_addon.results import BONE_MAP_PROP

    rig = _mixamo()
    addon.target = "SELECTED"
    assert addon.bone_map == "AUTO"
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert [o for o in bpy.data.objects if o.type == "ARMATURE"] == [rig]  # no new armature
    action = rig.animation_data.action
    assert history.history(rig) == [action]
    bones = _keyed_bones(action)
    assert len(bones) == 22 and all(b.startswith("mixamorig:") for b in bones)
    assert {"mixamorig:Hips", "mixamorig:LeftForeArm", "mixamorig:RightToeBase"} <= bones
    assert action[BONE_MAP_PROP] == "mixamo: 22 of 22 joints mapped"
    assert "22 of 22 joints mapped" in addon.status
    assert "mixamo: 22 of 22 joints mapped" in capfd.readouterr().out  # the operator's INFO report


@pytest.mark.parametrize("kind", ["mixamo", "ue5"])
def test_detect_then_save_and_load_map_round_trips_the_rows(addon, tmp_path, kind):
    import rig_builders

    rig = rig_builders.build_mixamo() if kind == "mixamo" else rig_builders.build_ue5()
    _select(rig)
    for name in BONE_MAP_OPERATORS:
        assert getattr(bpy.ops.motionprompt, name).poll()
    assert bpy.ops.motionprompt.bone_map_detect() == {"FINISHED"}
    assert addon.bone_map == "CUSTOM"
    rows = _rows(rig)
    assert len(rows) >= 22 and {r[0] for r in rows} <= set(rig.data.bones.keys())
    assert len({r[0] for r in rows}) == len(rows)
    if kind == "ue5":  # chain slots keep their place: spine_02 halfway from spine1 to spine2
        assert ("spine_02", "spine1", "spine2", 0.5) in rows and ("spine_03", "spine2", "spine2", 0.0) in rows
        assert rig.motionprompt_bone_map_root == "root"
    else:
        assert ("mixamorig:LeftForeArm", "left_elbow", "left_elbow", 0.0) in rows
    path = tmp_path / "maps" / f"{kind}.toml"
    path.parent.mkdir()
    assert bpy.ops.motionprompt.bone_map_save(filepath=str(path)) == {"FINISHED"}
    assert path.is_file()
    rig.motionprompt_bone_map.clear()
    rig.motionprompt_bone_map_root = ""
    addon.bone_map = "AUTO"
    assert bpy.ops.motionprompt.bone_map_load(filepath=str(path)) == {"FINISHED"}
    assert _rows(rig) == rows and addon.bone_map == "CUSTOM"
    assert rig.motionprompt_bone_map_root == ("root" if kind == "ue5" else "")
    # the saved file is a map file like any other
    addon.bone_map, addon.bone_map_file = "FILE", str(path)
    from blender_addon import properties

    assert properties.map_status(addon, rig) == (True, f"{kind}: 22 of 22 joints mapped")


def test_custom_map_without_the_left_elbow_keys_without_that_bone(addon, capfd):
    from blender_addon import properties
    from blender_addon.results import BONE_MAP_PROP

    rig = _mixamo()
    addon.target = "SELECTED"
    assert bpy.ops.motionprompt.bone_map_detect() == {"FINISHED"}
    elbow = [i for i, r in enumerate(rig.motionprompt_bone_map) if r.joint == "left_elbow"]
    assert len(elbow) == 1 and rig.motionprompt_bone_map[elbow[0]].bone == "mixamorig:LeftForeArm"
    n = len(rig.motionprompt_bone_map)
    assert bpy.ops.motionprompt.bone_map_remove(index=elbow[0]) == {"FINISHED"}
    assert len(rig.motionprompt_bone_map) == n - 1
    line = "custom: 21 of 22 joints mapped; unmapped: left_elbow"
    assert properties.map_status(addon, rig) == (True, line)
    assert "unmapped: left_elbow" in _labels(_draw_keys_panel())
    capfd.readouterr()
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    action = rig.animation_data.action
    bones = _keyed_bones(action)
    assert "mixamorig:LeftForeArm" not in bones and len(bones) == 21
    assert {"mixamorig:LeftArm", "mixamorig:LeftHand", "mixamorig:Hips"} <= bones
    assert action[BONE_MAP_PROP] == line and line in capfd.readouterr().out
    # a row added for the active bone maps it again
    rig.data.bones.active = rig.data.bones["mixamorig:LeftForeArm"]
    assert bpy.ops.motionprompt.bone_map_add() == {"FINISHED"}
    row = rig.motionprompt_bone_map[rig.motionprompt_bone_map_index]
    assert row.bone == "mixamorig:LeftForeArm"
    row.joint = "left_elbow"
    assert properties.map_status(addon, rig) == (True, "custom: 22 of 22 joints mapped")


def test_unresolvable_bone_maps_are_error_reports_and_nothing_is_keyed(addon, tmp_path):
    from blender_addon import properties

    rig = _mixamo()
    addon.target = "SELECTED"
    missing = tmp_path / "missing.toml"
    cases = [("FILE", str(missing), r"'Mixamo'[\s\S]*Map file[\s\S]*missing\.toml"),
             ("FILE", "", r"'Mixamo'[\s\S]*Map file[\s\S]*no map file chosen"),
             ("ue5", "", r"'Mixamo'[\s\S]*'ue5'[\s\S]*none of the armature's bones"),
             ("CUSTOM", "", r"'Mixamo'[\s\S]*Custom[\s\S]*no rows")]
    for setting, path, pattern in cases:
        addon.bone_map, addon.bone_map_file = setting, path
        for name in ("generate", "load_motion"):
            kw = {"filepath": str(_clip(tmp_path))} if name == "load_motion" else {}
            with pytest.raises(RuntimeError, match=pattern) as err:
                getattr(bpy.ops.motionprompt, name)(**kw)
            assert "Traceback" not in str(err.value)
        assert rig.animation_data is None and not bpy.data.actions  # nothing keyed
        ok, line = properties.map_status(addon, rig)
        assert not ok and re.search(pattern, line)
        labels = _labels(_draw_keys_panel())
        assert any(re.search(pattern, text) for text in labels)  # an error line, not a traceback
    # a bad row in the custom map
    assert bpy.ops.motionprompt.bone_map_detect() == {"FINISHED"}
    rig.motionprompt_bone_map[3].bone = "no_such_bone"
    with pytest.raises(RuntimeError, match=r"'Mixamo'[\s\S]*Custom[\s\S]*no bone 'no_such_bone'"):
        bpy.ops.motionprompt.generate()
    with pytest.raises(RuntimeError, match="no_such_bone"):
        bpy.ops.motionprompt.bone_map_save(filepath=str(tmp_path / "bad.toml"))
    assert not (tmp_path / "bad.toml").exists() and not bpy.data.actions
    # a missing file to load: an error, the rows unchanged
    rows = _rows(rig)
    with pytest.raises(RuntimeError, match="missing.toml"):
        bpy.ops.motionprompt.bone_map_load(filepath=str(missing))
    assert _rows(rig) == rows


def _clip(tmp_path):
    from motionprompt.files.formats import export
    from blender_helpers import synthetic_motion

    path = tmp_path / "clip.npy"
    if not path.exists():
        export(synthetic_motion(T=12, seed=3), "npy", path)
    return path


def test_keys_panel_draws_for_each_bone_map_setting_and_the_operators_poll(addon, tmp_path):
    from blender_addon import properties

    # target NEW: no bone map shown
    log = _draw_keys_panel()
    assert ("prop", "target") in log and ("prop", "bone_map") not in log
    names = {i.identifier: i.name for i in addon.bl_rna.properties["target"].enum_items}
    assert names == {"NEW": "New SMPL-X armature", "SELECTED": "Selected armature (any humanoid)"}
    settings = [i.identifier for i in addon.bl_rna.properties["bone_map"].enum_items]
    from blender_addon.core import bonemap

    assert settings == ["AUTO", *bonemap.PRESET_NAMES, "FILE", "CUSTOM"]

    addon.target = "SELECTED"
    bpy.context.view_layer.objects.active = None
    assert not bpy.ops.motionprompt.bone_map_detect.poll()
    assert any("Select the armature" in t for t in _labels(_draw_keys_panel()))

    rig = _mixamo()
    assert all(getattr(bpy.ops.motionprompt, n).poll() for n in BONE_MAP_OPERATORS)
    saved = tmp_path / "mixamo.toml"
    bonemap.write_map(bonemap.resolve("mixamo", rig.data.bones.keys()), saved)
    expected = {"AUTO": "mixamo: 22 of 22 joints mapped", "mixamo": "mixamo: 22 of 22 joints mapped",
                "FILE": "mixamo: 22 of 22 joints mapped"}
    for setting in settings:
        addon.bone_map, addon.bone_map_file = setting, str(saved)
        for with_rows in ((False, True) if setting == "CUSTOM" else (False,)):
            if with_rows:
                assert bpy.ops.motionprompt.bone_map_detect() == {"FINISHED"}
            log = _draw_keys_panel()
            assert ("prop", "bone_map") in log and (("prop", "bone_map_file") in log) == (setting == "FILE")
            ops = {x[1] for x in log if x[0] == "operator"}
            editor = {f"motionprompt.{n}" for n in BONE_MAP_OPERATORS}
            assert (editor <= ops) == (setting == "CUSTOM") and (not editor & ops) == (setting != "CUSTOM")
            labels = _labels(log)
            if setting in expected:
                assert expected[setting] in labels
            if setting == "CUSTOM":
                assert ("template_list", "MOTIONPROMPT_UL_bone_map") in log
                rows = [x for x in log if x == ("prop_search", "bone")]
                assert len(rows) == len(rig.motionprompt_bone_map)
                assert ("custom: 22 of 22 joints mapped" in labels) == with_rows
    # the cache follows the file: written after a miss, the line updates
    later = tmp_path / "later.toml"
    addon.bone_map, addon.bone_map_file = "FILE", str(later)
    assert not properties.map_status(addon, rig)[0]
    bonemap.write_map(bonemap.resolve("mixamo", rig.data.bones.keys()), later)
    assert properties.map_status(addon, rig) == (True, "mixamo: 22 of 22 joints mapped")

    # our own SMPL-X armature as the selected target: auto-detected as smplx
    addon.target, addon.bone_map = "NEW", "AUTO"
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    ours = bpy.context.active_object
    addon.target = "SELECTED"
    assert "smplx: 22 of 22 joints mapped" in _labels(_draw_keys_panel())
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert ours.animation_data.action["motionprompt_bone_map"] == "smplx: 22 of 22 joints mapped"


def test_cleanup_applies_foot_lock_and_trim_to_the_active_action(addon):
    """The Cleanup box: a new take keyed from the active action's own motion, trimmed, its
    feet locked and its contacts on the action; the first take stays in the history."""
    import json

    from blender_addon.results import CONTACTS_PROP

    addon.seconds = 2.0
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    obj = bpy.context.active_object
    first = obj.animation_data.action
    n_first = int(first.frame_range[1] - first.frame_range[0]) + 1
    addon.foot_lock, addon.trim_start, addon.trim_end = "toes", 0.5, 1.5
    assert bpy.ops.motionprompt.apply_cleanup() == {"FINISHED"}
    take = obj.animation_data.action
    assert take != first and len(history.history(obj)) == 2
    assert int(take.frame_range[1] - take.frame_range[0]) + 1 == 31 < n_first  # 0.5 .. 1.5 s at 30 fps, both kept
    spans = json.loads(take[CONTACTS_PROP])
    assert all({"point", "start", "end"} <= set(c) for c in spans)


def test_continue_from_playhead_keeps_the_take_up_to_the_playhead(addon):
    """Continue from Playhead: a new take on the same armature, its frames up to the playhead
    the old take's own keys, then Seconds of new motion; a playhead outside the take is an
    error naming it, and nothing is keyed."""
    addon.seconds = 1.0
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    obj = bpy.context.active_object
    first = obj.animation_data.action
    a, b = (int(v) for v in first.frame_range)
    scene = bpy.context.scene
    scene.frame_set(a + 10)
    names = ["pelvis", "left_knee", "right_wrist"]
    before = [world_heads(obj, names, f) for f in range(a, a + 11)]
    bpy.context.view_layer.objects.active = obj
    scene.frame_set(a + 10)
    assert bpy.ops.motionprompt.continue_take() == {"FINISHED"}
    take = obj.animation_data.action
    assert take != first and len(history.history(obj)) == 2
    a2, b2 = (int(v) for v in take.frame_range)
    assert b2 - a2 + 1 == 11 + 30  # 11 frames kept (the playhead's included), then 1 s at 30 fps
    after = [world_heads(obj, names, f) for f in range(a2, a2 + 11)]
    np.testing.assert_allclose(np.array(after), np.array(before), atol=2e-4)  # through the float32 272 file
    history.activate(obj, first)
    scene.frame_set(b + 40)
    n = len(history.history(obj))
    with pytest.raises(RuntimeError, match="outside take"):
        bpy.ops.motionprompt.continue_take()
    assert len(history.history(obj)) == n


def _a_take(addon, seconds: float):
    """A generated take of ``seconds``: (its armature, the action, its first and last frame)."""
    addon.seconds = seconds
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    obj = bpy.context.active_object
    first = obj.animation_data.action
    a, b = (int(v) for v in first.frame_range)
    return obj, first, a, b


@pytest.mark.parametrize("op", ["continue_take", "inbetween"])
def test_from_playhead_as_an_nla_strip(addon, op):
    """place="STRIP": the new motion alone (not the given part again) keyed as an action whose
    strip follows the take's own, cut at the playhead, on one unmuted NLA track; the armature
    plays the take's keys up to the playhead and then the same motion a new take gets (the
    same request keyed as a take, compared frame by frame)."""
    obj, first, a, b = _a_take(addon, 2.0)
    scene = bpy.context.scene
    names = ["pelvis", "left_knee", "right_wrist"]
    before = np.array([world_heads(obj, names, f) for f in range(a, a + 11)])
    if op == "inbetween":
        scene.timeline_markers.new("arrive", frame=a + 40)
    addon.seconds = 1.0
    scene.frame_set(a + 10)
    assert getattr(bpy.ops.motionprompt, op)() == {"FINISHED"}  # the default: a new take
    take = obj.animation_data.action
    a2, b2 = (int(v) for v in take.frame_range)
    as_take = np.array([world_heads(obj, names, f) for f in range(a + 11, b2 + 1)])
    history.activate(obj, first)
    scene.frame_set(a + 10)
    tracks = len(obj.animation_data.nla_tracks)
    assert getattr(bpy.ops.motionprompt, op)(place="STRIP") == {"FINISHED"}
    ad = obj.animation_data
    assert ad.action is None and len(ad.nla_tracks) == tracks + 2  # its history track, and the one that plays
    track = ad.nla_tracks[-1]
    assert not track.mute
    old, new = list(track.strips)
    assert old.action == first and (int(old.frame_start), int(old.frame_end)) == (a, a + 10)
    assert int(new.frame_start) == a + 11 and tuple(int(v) for v in new.action.frame_range) == (a + 11, b2)
    assert new.action in history.history(obj) and new.action != take
    assert (scene.frame_start, scene.frame_end) == (a, b2)
    np.testing.assert_allclose(np.array([world_heads(obj, names, f) for f in range(a, a + 11)]), before, atol=1e-6)
    as_strip = np.array([world_heads(obj, names, f) for f in range(a + 11, b2 + 1)])
    np.testing.assert_allclose(as_strip, as_take, atol=2e-4)
    for m in list(scene.timeline_markers):
        scene.timeline_markers.remove(m)


def test_a_strip_continuation_is_continued_again_exported_and_cleaned(addon, tmp_path):
    """With no active action, the take is the history strip under the playhead: a strip
    continuation continued again as a strip gives a new track that plays the first take, the
    first continuation up to the playhead, then the new motion (the old track muted, every
    earlier frame as it played); that new motion is the one a take continued from the same
    frame gets; the History marks the strip that plays; Export writes the strip's own frames;
    Apply Cleanup keys the whole motion; a playhead on no strip is an error naming the track's
    frames, and nothing is keyed."""
    from types import SimpleNamespace

    obj, first, a, b = _a_take(addon, 2.0)
    scene = bpy.context.scene
    names = ["pelvis", "left_knee", "right_wrist"]
    addon.seconds = 1.0
    scene.frame_set(a + 10)
    assert bpy.ops.motionprompt.continue_take(place="STRIP") == {"FINISHED"}
    ad = obj.animation_data
    track1 = ad.nla_tracks[-1]
    s1 = list(track1.strips)[-1].action
    assert ad.action is None and history.keyed_from(s1) == 11 and history.motion_start(s1) == a
    end1 = int(s1.frame_range[1])
    played = np.array([world_heads(obj, names, f) for f in range(a, a + 31)])

    scene.frame_set(a + 30)  # inside the first continuation's strip
    assert bpy.ops.motionprompt.continue_take(place="STRIP") == {"FINISHED"}
    track2 = ad.nla_tracks[-1]
    assert track2 != track1 and track1.mute and not track2.mute and ad.action is None
    strips = [(st.action, int(st.frame_start), int(st.frame_end)) for st in track2.strips]
    s2 = strips[-1][0]
    assert strips[:2] == [(first, a, a + 10), (s1, a + 11, a + 30)] and strips[2][1] == a + 31
    log = []  # the History marks the take that plays at the playhead
    scene.frame_set(a + 20)
    bpy.types.MOTIONPROMPT_PT_history.draw(SimpleNamespace(layout=_Layout(log)), bpy.context)
    assert [x[1].split("  #")[0] for x in log if x[0] == "label" and x[2] == "PLAY"] == [s1.name]
    assert history.keyed_from(s2) == 31 and history.motion_start(s2) == a
    end2 = int(s2.frame_range[1])
    assert end2 == a + 30 + 30 and end1 == a + 10 + 30
    np.testing.assert_allclose(np.array([world_heads(obj, names, f) for f in range(a, a + 31)]), played, atol=1e-6)
    as_strip = np.array([world_heads(obj, names, f) for f in range(a + 31, end2 + 1)])

    # the same continuation as a take, from the first continuation's strip at the same frame
    track2.mute, track1.mute = True, False
    scene.frame_set(a + 30)
    assert bpy.ops.motionprompt.continue_take() == {"FINISHED"}
    take = ad.action
    assert tuple(int(v) for v in take.frame_range) == (a, end2)
    np.testing.assert_allclose(np.array([world_heads(obj, names, f) for f in range(a, a + 31)]), played, atol=2e-4)
    np.testing.assert_allclose(np.array([world_heads(obj, names, f) for f in range(a + 31, end2 + 1)]), as_strip,
                               atol=2e-4)

    # Export and Apply Cleanup on the strip under the playhead
    ad.action = None
    track1.mute, track2.mute = True, False
    scene.frame_set(a + 40)
    out = tmp_path / "s2.npy"
    assert bpy.ops.motionprompt.export(filepath=str(out), format="NPY") == {"FINISHED"}
    assert len(np.load(out)) == end2 - (a + 31) + 1
    assert bpy.ops.motionprompt.apply_cleanup() == {"FINISHED"}
    cleaned = ad.action
    assert cleaned not in (take, s2) and int(cleaned.frame_range[1] - cleaned.frame_range[0]) + 1 == end2 - a + 1

    ad.action = None
    scene.frame_set(end2 + 20)
    n = len(history.history(obj))
    with pytest.raises(RuntimeError, match=f"none of the strips of NLA track .*{a}-{a + 10}"):
        bpy.ops.motionprompt.continue_take(place="STRIP")
    assert len(history.history(obj)) == n


def test_a_take_with_edited_keys_continues_as_edited(addon):
    """An animator edits a take's keys (the pelvis raised 10 cm on every key): Continue from
    Playhead keeps the edited pose up to the playhead, not the motion packed with
    the take; an unedited take still continues from its packed motion."""
    from blender_addon import compat, operators

    obj, first, a, b = _a_take(addon, 2.0)
    assert not operators.reads_pose(first)
    scene = bpy.context.scene
    for fc in compat.all_fcurves(first):
        if fc.data_path == 'pose.bones["pelvis"].location' and fc.array_index == 1:  # the pelvis' rest Y is up
            for kp in fc.keyframe_points:
                kp.co.y += 0.1
            fc.update()
    assert operators.reads_pose(first)
    names = ["pelvis", "left_knee", "right_wrist"]
    edited = np.array([world_heads(obj, names, f) for f in range(a, a + 11)])
    addon.seconds = 1.0
    scene.frame_set(a + 10)
    assert bpy.ops.motionprompt.continue_take() == {"FINISHED"}
    take = obj.animation_data.action
    assert take != first and tuple(int(v) for v in take.frame_range) == (a, a + 40)
    np.testing.assert_allclose(np.array([world_heads(obj, names, f) for f in range(a, a + 11)]), edited, atol=2e-4)
    assert not operators.reads_pose(take)


def _turned_walk() -> Motion:
    """A walk turned 100 degrees and moved off the origin (not the way a 272 file faces)."""
    from test_blender_retarget import _walk

    from motionprompt.body.rotations import yaw_matrix

    walk, turn = _walk(), yaw_matrix(np.radians(100.0))
    rotations = walk.rotations.copy()
    rotations[:, 0] = turn @ rotations[:, 0]
    return walk.with_(rotations=rotations, root_translation=walk.root_translation @ turn.T + [0.7, 0.0, -1.2])


@pytest.mark.parametrize("rig, place, mode", [("smplx", "TAKE", "IN_PROCESS"), ("mixamo", "TAKE", "IN_PROCESS"),
                                             ("mixamo", "STRIP", "IN_PROCESS"), ("mixamo", "TAKE", "WORKER")])
def test_continue_the_animators_own_animation(addon, monkeypatch, rig, place, mode):
    """An action that is no motionprompt take (the animator's own: here a walk, turned and off
    the origin, keyed on our armature or on a Mixamo rig) is continued from the playhead as the
    armature plays it: as a take, its frames up to the playhead are the action's pose (2e-4 m
    on ours, 1 mm on the Mixamo rig, whose feet are solved again), as a strip the action itself
    plays up to the playhead; the new motion starts where it stands; either backend; a playhead
    past the action is an error naming it, and nothing is keyed."""
    import rig_builders

    from blender_addon import armature, keys

    monkeypatch.setattr(preferences._Defaults, "backend", mode)
    walk = _turned_walk()
    obj = armature.build_armature("SMPLX", walk.rest_offsets()) if rig == "smplx" else rig_builders.build_mixamo()
    bpy.context.view_layer.objects.active = obj
    own = keys.apply_motion(obj, walk, name="my walk")
    names = ["pelvis", "left_knee", "right_wrist"]
    if rig != "smplx":
        jm = rig_builders.smplx_joint_map(obj)
        names = [jm[n] for n in names]
    scene = bpy.context.scene
    before = np.array([world_heads(obj, names, f) for f in range(1, 42)])
    addon.seconds = 1.0
    scene.frame_set(41)
    assert bpy.ops.motionprompt.continue_take(place=place) == {"FINISHED"}
    ad = obj.animation_data
    if place == "TAKE":
        take = ad.action
        assert take != own and tuple(int(v) for v in take.frame_range) == (1, 41 + 30)
        got = np.array([world_heads(obj, names, f) for f in range(1, 42)])
        np.testing.assert_allclose(got, before, atol=2e-4 if rig == "smplx" else 1e-3)
    else:
        assert ad.action is None
        strips = [(st.action, int(st.frame_start), int(st.frame_end)) for st in ad.nla_tracks[-1].strips]
        assert strips[0] == (own, 1, 41) and strips[1][1] == 42
        np.testing.assert_allclose(np.array([world_heads(obj, names, f) for f in range(1, 42)]), before, atol=1e-6)
    step = np.linalg.norm(world_heads(obj, names[:1], 42) - world_heads(obj, names[:1], 41))
    assert step < 0.03, step  # the walk's pelvis moves 1.3 cm a frame
    history.activate(obj, own)
    scene.frame_set(120)
    n = len(history.history(obj))
    with pytest.raises(RuntimeError, match="outside action 'my walk'"):
        bpy.ops.motionprompt.continue_take()
    assert len(history.history(obj)) == n


def test_the_animators_own_animation_exports_cleans_and_inbetweens(addon, tmp_path):
    """The animator's own walk (turned, off the origin) on a Mixamo rig, no motionprompt take:
    Export NPZ writes it as SMPL-X (every limb within 1 degree of the walk's); Apply Cleanup
    with a foot lock keys it as a new take where the walk stands, with its contacts; In-between
    to a marker arrives in the action's own pose there."""
    import json

    import rig_builders

    from blender_addon import keys
    from blender_addon.results import CONTACTS_PROP

    walk = _turned_walk()
    obj = rig_builders.build_mixamo()
    bpy.context.view_layer.objects.active = obj
    own = keys.apply_motion(obj, walk, name="my walk")
    jm = rig_builders.smplx_joint_map(obj)
    names = [jm[n] for n in ("pelvis", "left_knee", "right_wrist")]
    scene = bpy.context.scene

    out = tmp_path / "walk.npz"
    assert bpy.ops.motionprompt.export(filepath=str(out), format="NPZ") == {"FINISHED"}
    back = load_motion(out)
    assert back.num_frames == walk.num_frames
    P, Q = walk.joint_positions(), back.joint_positions()
    for a, b in ((16, 18), (18, 20), (1, 4), (4, 7), (3, 9), (12, 15)):
        u, v = P[:, b] - P[:, a], Q[:, b] - Q[:, a]
        cos = np.einsum("ti,ti->t", u, v) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1.0, (a, b)

    start = world_heads(obj, names[:1], 1)
    addon.foot_lock = "feet"
    assert bpy.ops.motionprompt.apply_cleanup() == {"FINISHED"}
    cleaned = obj.animation_data.action
    assert cleaned != own and json.loads(cleaned[CONTACTS_PROP])
    np.testing.assert_allclose(world_heads(obj, names[:1], 1), start, atol=0.01)
    addon.foot_lock = "off"

    history.activate(obj, own)
    goal = world_heads(obj, names, 71)
    scene.timeline_markers.new("arrive", frame=71)
    scene.frame_set(41)
    assert bpy.ops.motionprompt.inbetween() == {"FINISHED"}
    take = obj.animation_data.action
    assert tuple(int(v) for v in take.frame_range) == (1, 71)
    np.testing.assert_allclose(world_heads(obj, names, 71), goal, atol=0.01)
    for m in list(scene.timeline_markers):
        scene.timeline_markers.remove(m)


def test_inbetween_to_the_next_marker(addon):
    """In-between to Next Marker: a new take, the old one's keys up to the playhead, then
    motion that reaches the old take's own pose on the marker's frame; no marker past the take
    is an error naming it."""
    obj, first, a, b = _a_take(addon, 2.0)
    scene = bpy.context.scene
    names = ["pelvis", "left_knee", "right_wrist"]
    start = [world_heads(obj, names, f) for f in range(a, a + 11)]
    goal = world_heads(obj, names, a + 40)
    scene.timeline_markers.new("arrive", frame=a + 40)
    scene.frame_set(a + 10)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.motionprompt.inbetween() == {"FINISHED"}
    take = obj.animation_data.action
    a2, b2 = (int(v) for v in take.frame_range)
    assert (a2, b2) == (a, a + 40)
    np.testing.assert_allclose(np.array([world_heads(obj, names, f) for f in range(a2, a2 + 11)]), np.array(start),
                               atol=2e-4)
    np.testing.assert_allclose(world_heads(obj, names, b2), goal, atol=2e-3)
    for m in list(scene.timeline_markers):
        scene.timeline_markers.remove(m)
    history.activate(obj, first)
    scene.frame_end = b + 100
    scene.frame_set(a + 10)
    with pytest.raises(RuntimeError, match="outside take"):
        bpy.ops.motionprompt.inbetween()


@pytest.mark.parametrize("mode", ["IN_PROCESS", "WORKER"])
def test_offload_text_encoder_reaches_the_model_loader_of_either_backend(addon, monkeypatch, mode):
    """The preference's offload goes to the loader (the fake names it in its motions' source),
    shows in the backend's status, and a change of it starts a backend loaded the other way."""
    monkeypatch.setattr(preferences._Defaults, "backend", mode)
    monkeypatch.setattr(preferences._Defaults, "offload_text_encoder", True)
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    be = backend.current_backend()
    source = history.PROPS["model"]
    assert history.history(bpy.context.active_object)[-1][source] == "fake-demo+offload"
    assert be.offload and "text encoder offloaded" in be.status()
    if mode == "WORKER":
        assert "--offload-text-encoder" in be.client.proc.args and be.client.info["offload_text_encoder"] is True
    monkeypatch.setattr(preferences._Defaults, "offload_text_encoder", False)
    assert bpy.ops.motionprompt.generate() == {"FINISHED"}
    assert backend.current_backend() is not be and not backend.current_backend().offload
    assert history.history(bpy.context.active_object)[-1][source] == "fake-demo"


def test_gif_export_takes_the_panels_preview_size(addon, tmp_path):
    from PIL import Image
    from types import SimpleNamespace

    from blender_addon import panel
    from blender_helpers import synthetic_motion
    from motionprompt.files.formats import export

    src = tmp_path / "clip.npy"
    export(synthetic_motion(T=8, seed=2), "npy", src)
    assert bpy.ops.motionprompt.load_motion(filepath=str(src)) == {"FINISHED"}
    addon.preview_size = 128
    sizes = {}

    class Op:  # what the Export panel sets on each button
        def __init__(self, fmt_log):
            self.__dict__["log"] = fmt_log

        def __setattr__(self, key, value):
            self.log[key] = value

    class Layout:
        def prop(self, data, name, **kw):
            assert name in data.bl_rna.properties

        def row(self, **kw):
            return self

        def operator(self, idname, text="", **kw):
            sizes[text] = {}
            return Op(sizes[text])

    panel.MOTIONPROMPT_PT_export.draw(SimpleNamespace(layout=Layout()), bpy.context)
    assert sizes["GIF"] == {"format": "GIF", "size": 128}
    for fmt, side in (("GIF", 128), ("MP4", None)):
        out = tmp_path / f"out.{fmt.lower()}"
        assert bpy.ops.motionprompt.export(filepath=str(out), **sizes[fmt]) == {"FINISHED"}
        if side:
            assert Image.open(out).size == (side, side)
        assert out.stat().st_size > 0
