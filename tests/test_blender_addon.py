"""The add-on in real Blender: registration, Generate (in-process and worker, synchronous
headless path), cancel, a killed worker, history in the NLA, export buttons."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from blender_helpers import SMPLX_TO_BLENDER, bpy, reset, world_heads

from motionprompt.body.motion import Motion
from motionprompt.files.formats import load_motion
from motionprompt.request import GenerateRequest
from motionprompt.body.skeleton import BODY_JOINT_NAMES, JOINT_NAMES

import blender_addon  # noqa: E402
from blender_addon import backend, history, preferences  # noqa: E402

TESTS = os.path.dirname(os.path.abspath(__file__))
OPERATORS = ("generate", "cancel", "random_seed", "restart_backend", "load_motion", "history_use", "export")


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
                      "MOTIONPROMPT_PT_export"):
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
    op = SimpleNamespace(_backend=be, _model="demo", _timer=None, report=lambda kind, msg: reports.append(msg))
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
        self.log.append(("label", text))

    def progress(self, factor=0.0, type="BAR", text=""):
        self.log.append(("progress", text))

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
