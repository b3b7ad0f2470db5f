"""The procedural corpus: physically plausible clips, prompts with truly held-out wordings."""

from __future__ import annotations

import numpy as np
import pytest

from motionprompt_demo import captions, synth
from motionprompt_demo.recognise import Recogniser, default_path
from motionprompt.body.contacts import foot_skating
from motionprompt.body.rep272 import recover_from_272, recover_positions
from motionprompt.body.skeleton import DEFAULT_REST_OFFSETS, forward_kinematics

L_WRIST, R_WRIST, HEAD = 20, 21, 15


def _render(name, params=None, heading=0.0):
    params = params or synth.sample_params(name, np.random.default_rng(3))
    seg = synth.make_action(name, params)
    R, root, joints = synth.render(seg, heading=heading)
    return seg, R, root, joints


def _facing(joints):
    across = (joints[:, 1] - joints[:, 2]) + (joints[:, 16] - joints[:, 17])
    return np.unwrap(np.arctan2(-across[:, 2], across[:, 0]))


@pytest.mark.parametrize("name", list(synth.ACTIONS))
def test_every_action_is_finite_grounded_and_planted(name):
    seg, R, root, joints = _render(name)
    assert np.all(np.isfinite(joints)) and joints.shape == (seg.num_frames, 22, 3)
    # Rotations are proper rotations.
    assert np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-9)
    # The joints are FK of the rotations on the default skeleton (independent recomputation).
    P, _ = forward_kinematics(R, root, DEFAULT_REST_OFFSETS)
    assert np.allclose(P, joints, atol=1e-9)
    # The lowest foot point touches the floor on every frame with a planted foot.
    feet = np.minimum(joints[:, [7, 8], 1], joints[:, [10, 11], 1])
    planted = seg.contact.any(axis=1) & ~seg.seat
    assert np.allclose(feet.min(axis=1)[planted], 0.0, atol=1e-6)
    assert feet.min() > -1e-6
    # The only foot planted on two consecutive frames does not slide (its toe stays put).
    lock = joints[:, [10, 11]][..., [0, 2]]
    both = seg.contact[1:] & seg.contact[:-1]
    single = both & (both.sum(axis=1, keepdims=True) == 1)
    slide = np.linalg.norm(np.diff(lock, axis=0), axis=-1)[single]
    assert slide.size == 0 or slide.max() < 1e-9, f"{name}: planted foot slides {slide.max():.3f} m/frame"
    # The evaluation's skating measure (toes near the floor) stays under its 2 cm/frame target.
    assert foot_skating(joints)[0] < 0.02


def test_locomotion_goes_where_it_says():
    def travel(name, **p):
        _, _, root, _ = _render(name, dict(duration=3.0, speed="normal", **p))
        return root[-1] - root[0]

    fwd, back = travel("walk_forward"), travel("walk_backward")
    assert fwd[2] > 1.0 and abs(fwd[0]) < 0.1  # the body faces +Z at heading 0
    assert back[2] < -0.6
    assert travel("sidestep_left")[0] > 0.5 and travel("sidestep_right")[0] < -0.5  # left is +X
    assert travel("run")[2] > 2.0 * fwd[2] - 0.5
    assert np.linalg.norm(travel("jog_in_place")[[0, 2]]) < 0.2
    assert np.linalg.norm(travel("march")[[0, 2]]) < 0.2


def test_turns_change_heading_by_the_asked_angle():
    for name, angle in (("turn_left", 1.5), ("turn_right", 1.5), ("turn_around", 3.1)):
        _, _, _, joints = _render(name, dict(duration=2.5, angle=angle))
        h = _facing(joints)
        sign = -1 if name == "turn_right" else 1
        assert abs((h[-1] - h[0]) - sign * angle) < 0.15, name


def test_arms_and_legs_follow_the_side():
    _, _, _, j = _render("wave_left", dict(count=2, speed="normal"))
    assert j[:, L_WRIST, 1].max() > j[:, HEAD, 1].max() > j[:, R_WRIST, 1].max()
    _, _, _, j = _render("wave_right", dict(count=2, speed="normal"))
    assert j[:, R_WRIST, 1].max() > j[:, HEAD, 1].max() > j[:, L_WRIST, 1].max()
    _, _, _, j = _render("kick_left", dict(count=1, speed="normal"))
    assert j[:, 10, 1].max() > 0.3 > j[:, 11, 1].max()
    _, _, _, j = _render("punch_right", dict(count=2, speed="normal"))
    reach = j[:, [L_WRIST, R_WRIST], 2] - j[:, [0], 2]
    assert reach[:, 1].max() > reach[:, 0].max() + 0.15


def test_jumps_leave_the_floor_and_sitting_gets_low():
    _, _, root, j = _render("jump_in_place", dict(count=2, height=0.3))
    feet = np.minimum(j[:, [7, 8], 1], j[:, [10, 11], 1]).min(axis=1)
    assert feet.max() > 0.2  # both feet well off the ground at the apex
    _, _, root, _ = _render("sit_down", dict(sit_time=1.0, speed="normal"))
    assert root[:, 1].min() < 0.45 and root[-1, 1] > 0.9


def test_sequences_blend_and_keep_labels_in_order():
    rng = np.random.default_rng(5)
    clip = synth.sample_clip(rng, actions=["walk_forward", "turn_around", "wave_right"])
    assert clip.labels == ["walk_forward", "turn_around", "wave_right"]
    starts = [s for s, _ in clip.spans]
    assert starts == sorted(starts) and clip.spans[-1][1] == len(clip.joints)
    # No jump between neighbouring frames anywhere (smooth blends): < 15 cm per frame per joint.
    assert np.linalg.norm(np.diff(clip.joints, axis=0), axis=-1).max() < 0.15


def test_272_conversion_round_trips():
    clip = synth.sample_clip(np.random.default_rng(2), actions=["walk_forward", "turn_left"])
    x = clip.to_272()
    assert x.shape == (len(clip.joints), 272) and np.all(np.isfinite(x))
    # Pairwise joint distances are invariant to the canonical placement of the 272 recovery.
    pos = recover_positions(x)
    d_ref = np.linalg.norm(clip.joints[:, :, None] - clip.joints[:, None], axis=-1)
    d_rec = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1)
    assert np.allclose(d_ref, d_rec, atol=1e-6)
    R, _ = recover_from_272(x)
    assert np.allclose(R[:, 1:], clip.rotations[:, 1:], atol=1e-6)


def test_corpus_is_deterministic():
    a = synth.sample_clip(np.random.default_rng(11))
    b = synth.sample_clip(np.random.default_rng(11))
    assert a.labels == b.labels and np.array_equal(a.joints, b.joints)


def test_heldout_wordings_never_appear_in_training_text():
    train = {p for tr, _ in captions.PHRASES.values() for p in tr}
    for action, (_, held) in captions.PHRASES.items():
        assert held and not set(held) & train, action
    rng = np.random.default_rng(0)
    texts = []
    for _ in range(300):
        clip = synth.sample_clip(rng)
        texts.append(captions.describe(*clip.items[0], rng) if len(clip.items) == 1
                     else captions.describe_sequence(clip.items, rng))
    singles, pairs = captions.heldout_prompts()
    assert len(singles) == sum(len(h) for _, h in captions.PHRASES.values()) and len(pairs) >= 10
    held_subjects = [s for s, _, _ in captions.HELDOUT_SUBJECTS]
    held_connectors = [c.split("{")[0].strip() for c in captions.HELDOUT_CONNECTORS]  # "Next,", "afterwards"
    for t in texts:
        assert not any(t.startswith(s + " ") for s in held_subjects), t
        assert not any(c.lower() in t.lower() for c in held_connectors), t
    assert not {p for p, _ in singles} & set(texts)
    assert set(captions.PHRASES) == set(synth.ACTIONS)


def test_shipped_recogniser_labels_fresh_clips():
    if not default_path().exists():
        pytest.skip("no recogniser fitted yet (tools/train_demo.py)")
    rec = Recogniser.load()
    rng = np.random.default_rng(2024)  # not the training seed
    ok = []
    for name in synth.ACTIONS:
        clip = synth.sample_clip(rng, actions=[name])
        ok.append(rec.predict(clip.joints) == name)
    assert np.mean(ok) >= 0.95, [n for n, k in zip(synth.ACTIONS, ok) if not k]
    clip = synth.sample_clip(rng, actions=["walk_forward", "wave_right"])
    assert rec.predict_order(clip.joints, "walk_forward", "wave_right")[0]
    assert not rec.predict_order(clip.joints, "wave_right", "walk_forward")[0]
