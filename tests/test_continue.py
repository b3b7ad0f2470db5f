"""Continuing a motion: the splice (body/splice.py) against a motion it must rebuild exactly,
and ``--continue-from`` end to end on the shipped demo model (the sampler's prefix against the
release's loop is in test_sampler.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionprompt.body.motion import Motion
from motionprompt.body.rotations import yaw_matrix
from motionprompt.body.splice import align, splice
from motionprompt.files.formats import export, load_motion
from motionprompt.request import GenerateRequest, RequestError, motion_ref


def _walk(seconds=4.0) -> Motion:
    from motionprompt_demo import synth

    R, root, joints = synth.render(synth.make_action("walk_forward", {"duration": seconds, "speed": "slow"}))
    m = Motion(R, root, joints=joints)
    return m.with_(rest=m.rest_offsets(), joints=None)


def _moved(m: Motion, turn: float, shift) -> Motion:
    Y = yaw_matrix(np.float64(turn))
    R = m.rotations.copy()
    R[:, 0] = Y @ R[:, 0]
    return m.with_(rotations=R, root_translation=m.root_translation @ Y.T + shift)


def test_splice_rebuilds_a_motion_from_its_moved_continuation():
    """The given part of a walk, then the rest of it turned 1 rad and moved 3 m (as a
    generation anchored elsewhere would come out): splice puts it back exactly (with no blend;
    with the default one, the walk's own bend over the blend is all that differs: joints within
    2 cm, measured 1.2, and exact after it)."""
    full = _walk()
    T0 = 60
    given = full.with_(rotations=full.rotations[:T0], root_translation=full.root_translation[:T0])
    later = full.with_(rotations=full.rotations[40:], root_translation=full.root_translation[40:])
    generated = _moved(later, 1.0, [3.0, 0.0, -2.0])
    blended = splice(given, generated, start=T0 - 40)
    assert np.abs(blended.joint_positions() - full.joint_positions()).max() < 0.02
    np.testing.assert_allclose(blended.rotations[T0 + 10:], full.rotations[T0 + 10:], atol=1e-9)
    out = splice(given, generated, start=T0 - 40, blend=0)
    assert out.num_frames == full.num_frames
    np.testing.assert_allclose(out.rotations, full.rotations, atol=1e-9)
    np.testing.assert_allclose(out.root_translation, full.root_translation, atol=1e-9)
    assert out.meta["continued"] == {"frames": T0, "seconds": round(T0 / 30, 4)}
    back = align(generated, 0, full.rotations[40, 0], full.root_translation[40])
    np.testing.assert_allclose(back.root_translation[:, [0, 2]], later.root_translation[:, [0, 2]], atol=1e-9)


def test_splice_fades_a_pose_difference_at_the_join():
    """A join whose generated frame differs from the given one (a bent knee, a higher pelvis)
    starts from the given pose and eases into the generated one over the blend."""
    full = _walk()
    given = full.with_(rotations=full.rotations[:60], root_translation=full.root_translation[:60])
    later = full.with_(rotations=full.rotations[59:].copy(), root_translation=full.root_translation[59:] + [0, 0.04, 0])
    from motionprompt.body.rotations import axis_angle_to_matrix

    later.rotations[:, 4] = axis_angle_to_matrix(np.array([0.5, 0.0, 0.0])) @ later.rotations[:, 4]
    later = later.with_(rotations=later.rotations)
    out = splice(given, later, start=1, blend=6)
    P = out.joint_positions()
    step = np.linalg.norm(np.diff(P, axis=0), axis=-1).max(axis=1)
    own = np.linalg.norm(np.diff(full.joint_positions(), axis=0), axis=-1).max(axis=1)
    assert step[59] <= own[59] + 0.03  # no jump at the join: the bend and the height come in gradually
    np.testing.assert_allclose(out.rotations[67:], later.rotations[8:], atol=1e-9)  # after the blend: generated


def _carried_on(given: Motion) -> np.ndarray:
    """(22, 3) joints, root-relative, of ``given``'s last pose carried on one frame at its own
    rates: each local rotation turned again by its last turn, the pelvis moved by its last step."""
    R, c = given.rotations, given.root_translation
    R_on = R[-1] @ np.swapaxes(R[-2], -1, -2) @ R[-1]
    P = Motion(R_on[None], (2 * c[-1] - c[-2])[None], rest=given.rest_offsets()).joint_positions()[0]
    return P - P[0]


def _seam(out: Motion, given: Motion) -> tuple[float, float, float, float]:
    """(first new frame against ``_carried_on``, root-relative joints; its pelvis against the
    given pelvis' linear extrapolation; the fastest joint acceleration at the seam (frames
    T0 - 1 .. T0 + 1); the given motion's own fastest over its last second), metres."""
    T0 = given.num_frames
    P = out.joint_positions()
    first = np.linalg.norm((P[T0] - P[T0, 0]) - _carried_on(given), axis=-1).max()
    pelvis = np.linalg.norm(P[T0, 0] - (2 * P[T0 - 1, 0] - P[T0 - 2, 0]))
    a = np.linalg.norm(P[2:] - 2 * P[1:-1] + P[:-2], axis=-1).max(axis=1)  # (T - 2,) at frames 1..T-2
    return first, pelvis, a[T0 - 2:T0 + 1].max(), a[max(0, T0 - 32):T0 - 2].max()


def test_splice_goes_on_from_the_last_given_pose_at_its_own_speed():
    """A walk continued by a part of it 10 frames further on (another pose, other speeds): the
    first new frame is the last given pose carried on at its own rates (root-relative joints
    within 1 cm, the pelvis within 1 cm of its extrapolation), not the generated frame; the
    generated motion is back by the end of the blend."""
    full = _walk()
    given = full.frames(0, 60)
    later = full.frames(69, full.num_frames)
    out = splice(given, later, start=1, blend=10)
    first, pelvis, _, _ = _seam(out, given)
    assert first < 0.01 and pelvis < 0.01, (first, pelvis)
    P, Q = out.joint_positions(), later.joint_positions()
    jump = np.linalg.norm((P[60] - P[60, 0]) - (Q[1] - Q[1, 0]), axis=-1).max()
    assert jump > 0.05  # the generated frame was elsewhere: the seam did the work
    np.testing.assert_allclose(out.rotations[70:, 1:], later.rotations[11:, 1:], atol=1e-9)  # local: the root turned


def test_motion_ref_and_its_errors(tmp_path):
    f = tmp_path / "m.npy"
    export(_walk(1.0), "npy", f)
    assert motion_ref(str(f)) == (f, None) and motion_ref(f"{f}:12") == (f, 12)
    for bad, word in ((f"{f}:0", "no frame 0"), (str(tmp_path / "none.npy"), "no such motion file"),
                      (str(tmp_path / "m.txt"), "no .npy")):
        with pytest.raises(RequestError, match=word):
            motion_ref(bad)
    req = GenerateRequest(["a person waves"], continue_from=f"{f}:12")
    assert GenerateRequest.from_json(req.to_json()).continue_from == f"{f}:12"


@pytest.fixture(scope="module")
def demo():
    from motionprompt.generation.generator import Generator

    return Generator.from_spec("demo")


def test_continue_on_the_demo_model(demo, tmp_path, capsys):
    """generate --continue-from WALK.npy:60 --seconds 2: the walk's first 60 frames exactly,
    then 60 new ones; no joint faster at the join than the walk itself gets; the seed
    reproduces it; bad references exit 2 naming the file or frame, before the model loads."""
    from motionprompt.app.cli import main

    src = demo.generate(GenerateRequest(["a person walks forward"], seconds=3.0, seeds=[1]))[0]
    f = tmp_path / "walk.npy"
    export(src, "npy", f)
    walk = load_motion(f)
    args = ["generate", "a person waves with the right hand", "--continue-from", f"{f}:60", "--seconds", "2",
            "--seed", "3", "--out-dir", str(tmp_path), "--no-preview"]
    assert main(args + ["--exp-name", "c"]) == 0
    rec = json.loads((tmp_path / "c" / "manifest.jsonl").read_text())
    out = load_motion(tmp_path / "c" / rec["folder"] / "0_predict.npy")
    assert out.num_frames == 120 and rec["settings"]["continue_from"] == f"{f}:60"
    # the given part unchanged (the file's rotations; positions are re-anchored by the 272 form)
    assert np.abs(out.rotations[:60, 1:] - walk.rotations[:60, 1:]).max() < 1e-5
    assert np.abs(out.rotations[:60, 0] - walk.rotations[:60, 0]).max() < 1e-3  # heading re-anchored in float32
    in_memory = demo.generate(GenerateRequest(["a person waves with the right hand"], seconds=2.0, seeds=[3]),
                              context=walk.with_(rotations=walk.rotations[:60], root_translation=walk.root_translation[:60]))[0]
    np.testing.assert_array_equal(in_memory.rotations[:60], walk.rotations[:60])
    np.testing.assert_array_equal(in_memory.root_translation[:60], walk.root_translation[:60])
    P, P0 = in_memory.joint_positions(), walk.joint_positions()[:60]
    assert np.abs(P[:60] - P0).max() < 1e-9
    v = np.linalg.norm(np.diff(P, axis=0), axis=-1)
    own = np.linalg.norm(np.diff(P0, axis=0), axis=-1)
    assert v[59].max() <= 1.25 * own[-10:].max()
    assert main(args + ["--exp-name", "c2"]) == 0
    rec2 = json.loads((tmp_path / "c2" / "manifest.jsonl").read_text())
    again = load_motion(tmp_path / "c2" / rec2["folder"] / "0_predict.npy")
    np.testing.assert_allclose(again.root_translation, out.root_translation, atol=1e-6)
    capsys.readouterr()
    for ref, word in ((f"{f}:500", "past the motion's end"), (str(tmp_path / "none.npy"), "no such motion file")):
        assert main(["generate", "a person waves", "--continue-from", ref, "--out-dir", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert "--continue-from" in err and word in err and not (tmp_path / "x").exists()


def test_a_continuation_starts_from_the_last_given_pose(demo):
    """Walks, a jog and a wave continued at 40 / 60 frames: the first new frame is the last
    given pose carried on one frame at its own joint rates (root-relative joints within 1 cm;
    measured 1e-13), the pelvis within 1 cm of its own extrapolation, and the acceleration at
    the seam no more than the given motion's own over its last second (measured at most 0.86
    of it). Against the plain linear extrapolation of each joint's position the first frame
    is off by the given motion's own curvature (printed: median 1.1 cm, up to 6.9 cm where a
    jogging arm swings 18 cm a frame)."""
    linear = []
    for prompt, seed, cut in (("a person walks forward", 1, 40), ("a person walks forward", 1, 60),
                              ("a person jogs forward", 2, 40), ("a person waves with the right hand", 3, 40)):
        src = demo.generate(GenerateRequest([prompt], seconds=3.0, seeds=[seed]))[0]
        given = src.frames(0, min(cut, src.num_frames))
        out = demo.generate(GenerateRequest(["a person turns around"], seconds=2.0, seeds=[7]), context=given)[0]
        first, pelvis, seam, own = _seam(out, given)
        assert first < 0.01 and pelvis < 0.01, (prompt, cut, first, pelvis)
        assert seam <= own, (prompt, cut, seam, own)
        P, T0 = out.joint_positions(), given.num_frames
        rel = P - P[:, :1]
        linear.append(np.linalg.norm(rel[T0] - (2 * rel[T0 - 1] - rel[T0 - 2]), axis=-1).max())
    print(f"first new frame against linear extrapolation: {np.round(100 * np.array(linear), 2)} cm")


def test_a_minute_in_windows_on_the_demo_model(demo):
    """60 s from a model whose positions hold 12: windows, each continuing the one before;
    the length asked, and no join faster than the motion's own 99th percentile of joint speed."""
    m = demo.generate(GenerateRequest(["a person walks forward"], seconds=60.0, seeds=[5]))[0]
    assert m.num_frames == 1800 and len(m.meta["windows"]) >= 6
    assert m.meta["windows"][0]["start"] == 0.0 and m.meta["windows"][-1]["end"] == 60.0
    v = np.linalg.norm(np.diff(m.joint_positions(), axis=0), axis=-1).max(axis=1)
    p99 = np.percentile(v, 99)
    for w in m.meta["windows"][1:]:
        f = int(round(w["start"] * 30))
        assert v[f - 1:f + 2].max() <= p99, (w, v[f - 1:f + 2], p99)


def test_inbetween_on_the_demo_model(demo, tmp_path, capsys, monkeypatch):
    """--continue-from WALK:50 --to-pose WALK:88: the last frame is the target pose (its
    root-relative joints within 1 cm, the pelvis within 2 cm), no joint faster than the walk's
    own fastest; the standing feet slide less over the blend than the plain blend of the same
    candidate lets them (measured 0.51 -> 0.06 cm/frame); best of 8 timed; a bad pose
    reference exits 2 naming --to-pose."""
    import time

    import motionprompt.generation.generator as generator
    from motionprompt.app.batch import load_context, load_pose
    from motionprompt.app.cli import main
    from motionprompt.body.splice import blend_to_pose
    from motionprompt.postprocess.feet import foot_contacts

    seen = []
    planted = generator.plant_into_pose
    monkeypatch.setattr(generator, "plant_into_pose", lambda m, p, n: seen.append((m, n)) or planted(m, p, n))

    src = demo.generate(GenerateRequest(["a person walks forward"], seconds=4.0, seeds=[1]))[0]
    f = tmp_path / "walk.npy"
    export(src, "npy", f)
    given, pose = load_context(f"{f}:50"), load_pose(f"{f}:88")
    t = time.perf_counter()
    m = demo.generate(GenerateRequest(["a person walks forward"], seconds=38 / 30, seeds=[4]),
                      context=given, target=pose)[0]
    took = time.perf_counter() - t
    with capsys.disabled():
        print(f"in-between, best of 8: {took:.2f} s, gap before the blend {m.meta['inbetween']['gap']:.3f} m")
    assert m.num_frames == 88
    P, Q = m.joint_positions()[-1], pose.joint_positions()[0]
    assert np.abs((P - P[0]) - (Q - Q[0])).max() < 0.01 and np.linalg.norm(P[0] - Q[0]) < 0.02
    v = np.linalg.norm(np.diff(m.joint_positions(), axis=0), axis=-1)
    own = np.linalg.norm(np.diff(load_motion(f).joint_positions(), axis=0), axis=-1)
    assert v.max() <= 1.5 * own.max()
    (candidate, B), = seen
    contacts = foot_contacts(candidate)[-(B + 1):]
    contacts[-1] = foot_contacts(pose, min_frames=1)[0]
    both = contacts[1:] & contacts[:-1]  # (B, 4) frame pairs a heel / toe stands

    def sliding(motion):  # mean horizontal speed of the standing ankles and toes, m/frame
        P = motion.joint_positions()[-(B + 1):][:, [7, 10, 8, 11]]
        return np.linalg.norm(np.diff(P[..., [0, 2]], axis=0), axis=-1)[both].mean()

    plain = sliding(blend_to_pose(candidate, pose, B))
    with capsys.disabled():
        print(f"standing feet over the blend: plain {100 * plain:.2f}, planted {100 * sliding(m):.2f} cm/frame")
    assert sliding(m) < 0.5 * plain
    assert main(["generate", "a person walks", "--to-pose", f"{f}:999", "--out-dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--to-pose" in err and "past the motion's end" in err and not (tmp_path / "x").exists()
