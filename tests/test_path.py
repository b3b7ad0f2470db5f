"""Following a path (postprocess.path): the pelvis on the polyline, the body facing along it, the
source's own pace, planted feet not sliding; paths read from JSON and CSV, bad files named.
Measured independently: distance to the polyline's segments, the heading of the hips, the
source's own foot contacts carried through the retiming."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionprompt.body.motion import Motion
from motionprompt.postprocess.feet import foot_contacts
from motionprompt.postprocess.path import follow_path, load_path

TOES = (10, 11)
ARC = np.stack([2 - 2 * np.cos(np.linspace(0, np.pi / 2, 40)), 2 * np.sin(np.linspace(0, np.pi / 2, 40))], 1)
PATHS = {  # name: (points, arc lengths of corners)
    "line": (np.array([[1.0, 0.5], [1.0 + 3 * np.sin(0.5), 0.5 + 3 * np.cos(0.5)]]), []),
    "quarter circle r=2 m": (ARC, []),
    "L (90 degree corner)": (np.array([[0.0, 0.0], [0.0, 1.5], [1.5, 1.5]]), [1.5]),
}


@pytest.fixture(scope="module")
def walk() -> Motion:
    """The demo corpus' forward walk (``synth.walk``, what ``make_action("walk_forward")``
    builds), 8 s long so it covers every test path; real foot contacts (its root is solved from
    them)."""
    from motionprompt_demo import synth

    R, root, joints = synth.render(synth.walk(8.0, 1.0))
    return Motion(R, root, joints=joints)


def to_polyline(p: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance (T,) of floor points p (T, 2) to the polyline, the nearest segment's direction
    as a heading atan2(dx, dz) (T,), and the arc length of the nearest point (T,)."""
    a, ab = pts[:-1], np.diff(pts, axis=0)
    u = np.clip(np.einsum("tkd,kd->tk", p[:, None] - a, ab) / np.einsum("kd,kd->k", ab, ab), 0, 1)
    d = np.linalg.norm(p[:, None] - (a + u[..., None] * ab), axis=-1)  # (T, K)
    k = d.argmin(axis=1)
    seg = np.linalg.norm(ab, axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])[k] + u[np.arange(len(p)), k] * seg[k]
    return d.min(axis=1), np.arctan2(ab[k, 0], ab[k, 1]), arc


def hips_heading(P: np.ndarray) -> np.ndarray:
    """(T,) facing yaw atan2(f_x, f_z) from the hips: f = (-left_z, left_x), left = l_hip - r_hip."""
    left = P[:, 1] - P[:, 2]
    return np.arctan2(-left[:, 2], left[:, 0])


def toe_slide(out: Motion, contacts: np.ndarray) -> float:
    """Mean horizontal toe speed (m/frame) over frame pairs where ``contacts`` has the toe down."""
    P = out.joint_positions()
    slid = [np.linalg.norm(np.diff(P[:, j][:, [0, 2]], axis=0), axis=1)[contacts[1:, k] & contacts[:-1, k]]
            for k, j in ((1, TOES[0]), (3, TOES[1]))]
    return float(np.concatenate(slid).mean())


def carried_contacts(source: Motion, out: Motion) -> np.ndarray:
    """The source's own contacts on the result's frames (frame k plays source frame k * rate)."""
    rate = out.meta["path"]["rate"]
    idx = np.clip(np.round(np.arange(out.num_frames) * rate).astype(int), 0, source.num_frames - 1)
    return foot_contacts(source)[idx]


def check_on_path(source: Motion, out: Motion, pts: np.ndarray, corners, label: str) -> None:
    P = out.joint_positions()
    dist, tangent, arc = to_polyline(P[:, 0, [0, 2]], pts)
    err = np.degrees(np.abs((hips_heading(P) - tangent + np.pi) % (2 * np.pi) - np.pi))
    away = np.all(np.abs(arc[:, None] - np.asarray(corners, float)[None]) > 0.6, axis=1)  # 2 x corner (0.3 m)
    slide = toe_slide(out, carried_contacts(source, out))
    rms = float(np.sqrt(np.mean(dist ** 2)))
    print(f"{label}: {out.num_frames} frames, pelvis {rms * 100:.2f} cm rms from the path, heading within "
          f"{err[away].max():.1f} deg of the tangent ({err.max():.1f} everywhere), toe slide on contact "
          f"{slide * 100:.3f} cm/frame, {out.meta['path']}")
    assert rms <= 0.05
    assert err[away].max() <= 10.0
    assert slide <= 0.005


@pytest.mark.parametrize("name", list(PATHS))
def test_follows_the_path_at_the_source_pace(walk, name):
    pts, corners = PATHS[name]
    out = follow_path(walk, pts)
    check_on_path(walk, out, pts, corners, name)
    info = out.meta["path"]
    assert info["reached"] == 1.0 and info["rate"] == 1.0 and abs(info["facing"]) < np.radians(3)
    # it starts on the path's first point and ends on its last
    np.testing.assert_allclose(out.root_translation[0, [0, 2]], pts[0], atol=0.03)
    np.testing.assert_allclose(out.root_translation[-1, [0, 2]], pts[-1], atol=0.06)
    # the pose relative to the root is the source's; the pelvis height too, but where the lock
    # lowers it (a leg that cannot reach its pinned foot: 1.5 cm on the source itself, 4.5 at
    # the L's corner)
    n = out.num_frames
    np.testing.assert_allclose(out.rotations[:, 12:], walk.rotations[:n, 12:], atol=1e-9)  # the upper body
    drop = walk.root_translation[:n, 1] - out.root_translation[:, 1]
    assert drop.min() > -1e-9 and drop.max() < 0.05
    unlocked = follow_path(walk, pts, lock_feet="off")
    np.testing.assert_allclose(unlocked.rotations[:, 1:], walk.rotations[:n, 1:], atol=1e-12)
    np.testing.assert_allclose(unlocked.root_translation[:, 1], walk.root_translation[:n, 1], atol=1e-12)


def test_distance_per_frame_is_the_source_speed(walk):
    """No moonwalking: on a straight path the motion ends where the source has walked the
    path's length, and without the lock its feet slide no more than the source's own."""
    pts, _ = PATHS["line"]
    out = follow_path(walk, pts, lock_feet="off")
    travelled = np.linalg.norm(walk.root_translation[:, [0, 2]] - walk.root_translation[0, [0, 2]], axis=1)
    assert abs(out.num_frames - 1 - int(np.argmax(travelled >= 3.0))) <= 3
    own = toe_slide(walk, foot_contacts(walk))
    assert toe_slide(out, carried_contacts(walk, out)) <= own + 0.0005
    assert "contacts" not in out.meta or out.meta["contacts"] == walk.meta.get("contacts")  # the lock did not run


def test_duration_stretches_time(walk):
    pts, corners = PATHS["L (90 degree corner)"]
    for seconds in (5.0, 2.0):
        out = follow_path(walk, pts, duration=seconds)
        assert out.duration == pytest.approx(seconds, abs=2.5 / out.fps)
        assert out.meta["path"]["reached"] == 1.0
        check_on_path(walk, out, pts, corners, f"L in {seconds:g} s")


def test_a_motion_that_ends_first_stops_short(walk):
    pts = np.array([[0.0, 0.0], [0.0, 12.0]])
    out = follow_path(walk, pts)
    travelled = np.linalg.norm(walk.root_translation[-1, [0, 2]] - walk.root_translation[0, [0, 2]])
    assert out.num_frames == walk.num_frames
    assert out.meta["path"]["reached"] == pytest.approx(travelled / 12.0, rel=0.03)
    assert out.meta["path"]["reached"] < 1.0


def test_bad_arguments(walk, tmp_path):
    with pytest.raises(ValueError, match="lock_feet"):
        follow_path(walk, PATHS["line"][0], lock_feet="heels")
    with pytest.raises(ValueError, match="at least 2 points"):
        follow_path(walk, [[0.0, 0.0]])
    with pytest.raises(ValueError, match="different points"):
        follow_path(walk, [[1.0, 2.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="duration"):
        follow_path(walk, PATHS["line"][0], duration=-1)
    f = tmp_path / "p.json"
    f.write_text(json.dumps(PATHS["line"][0].tolist()))
    out = follow_path(walk, f, lock_feet="off")  # a file name works too
    assert out.meta["path"]["reached"] == 1.0


def test_load_path_reads_json_and_csv(tmp_path):
    pts = [[0.0, 0.0], [1.5, 0.25], [-2, 3e-1]]
    (tmp_path / "a.json").write_text(json.dumps(pts))
    (tmp_path / "b.json").write_text(json.dumps({"name": "route", "points": pts}, indent=2))
    (tmp_path / "c.csv").write_text("x,z\n0,0\n1.5, 0.25\n\n-2,0.3  # last\n")
    (tmp_path / "d.txt").write_text("0 0\n1.5;0.25\n-2\t0.3\n")
    (tmp_path / "e").write_text("  [[0, 0], [1.5, 0.25], [-2, 0.3]]")
    for name in ("a.json", "b.json", "c.csv", "d.txt", "e"):
        got = load_path(tmp_path / name)
        assert got.shape == (3, 2) and got.dtype == np.float64
        np.testing.assert_allclose(got, pts)


@pytest.mark.parametrize("name,text,match", [
    ("one.json", "[[0, 0]]", r"one\.json: 1 point.*at least 2 points"),
    ("word.json", '{"points": [\n  [0, 0],\n  [1, "two"],\n  [2, 2]\n]}',
     r"word\.json: line 3: point 2 is \[1, \"two\"\]"),
    ("bool.json", "[[0, 0],\n [true, 1]]", r"bool\.json: line 2: point 2"),
    ("broken.json", "[[0, 0],\n [1, 1]\n", r"broken\.json: line 3: not valid JSON"),
    ("nopoints.json", '{"path": []}', r'nopoints\.json: line 1: .*without "points"'),
    ("same.json", "[[1, 2], [1, 2], [1.0, 2.0]]", r"same\.json.*every point is \(1, 2\).*two different points"),
    ("word.csv", "x,z\n0,0\n1,1\n1,abc\n", r"word\.csv: line 4: '1,abc' is not two numbers"),
    ("nan.csv", "0,0\n1,nan\n", r"nan\.csv: line 2"),
    ("three.csv", "0,0\n1,1,1\n", r"three\.csv: line 2: .*3 columns"),
    ("same.csv", "x,z\n3,4\n3,4\n", r"same\.csv \(lines 2-3\): every point is \(3, 4\)"),
    ("empty.csv", "x,z\n", r"empty\.csv: no points"),
    ("late_header.csv", "0,0\nx,z\n1,1\n", r"late_header\.csv: line 2"),
])
def test_load_path_names_the_file_and_line(tmp_path, name, text, match):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_path(f)


def test_the_fk_the_steps_carry_is_the_pose_s_own(walk, tmp_path):
    """follow_path, trim and foot_lock hand their FK on instead of recomputing it: equal to a
    fresh FK of the result's pose."""
    from motionprompt.postprocess import PostProcess, apply

    f = tmp_path / "l.json"
    f.write_text("[[0, 0], [0, 1.5], [1.5, 1.5]]")
    for post in (PostProcess(path=str(f)), PostProcess(trim=(0.3, 2.0)),
                 PostProcess(foot_lock="toes", trim=(0.2, None))):
        out = apply(walk, post)
        fresh = Motion(out.rotations, out.root_translation, rest=out.rest_offsets())
        np.testing.assert_allclose(out.joint_positions(), fresh.joint_positions(), atol=1e-9)
        np.testing.assert_allclose(out.global_rotations(), fresh.global_rotations(), atol=1e-9)
