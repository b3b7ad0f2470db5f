"""Where a continuation joins its given motion and where an in-between reaches its pose, on the
shipped demo model (never fails; prints a line per case and a summary).

Continuations (walk, jog, wave, turn, each cut at 40 and 60 frames, continued by three prompts):
the first new frame against the last given pose carried on one frame at its own joint rates
(root-relative joints, cm; ``body.splice`` makes them equal), against each joint's linear
extrapolation (cm: the given motion's own curvature shows here), and the fastest joint
acceleration at the seam (frames T0 - 1 .. T0 + 1) as a share of the given motion's own over
its last second.

In-betweens (walks and a jog, cut and sent to a later frame of themselves): horizontal ankle
and toe speed on the frames the feet stand over the 15-frame blend, the plain blend
(``body.splice.blend_to_pose``) against the planted one (``postprocess.feet.plant_into_pose``)
on the same candidate, and the last frame's distance to the pose.

    .venv/bin/python bench/continuation_seams.py
"""

from __future__ import annotations

import numpy as np

import motionprompt.generation.generator as generator
from motionprompt.body.motion import Motion
from motionprompt.body.splice import blend_to_pose
from motionprompt.postprocess.feet import foot_contacts
from motionprompt.request import GenerateRequest

FEET = [7, 10, 8, 11]  # left ankle, left toe, right ankle, right toe (CONTACT_POINTS' order)


def seam(m: Motion, T0: int) -> tuple[float, float, float]:
    """(cm against the carried-on pose, cm against linear extrapolation, seam acceleration / own)."""
    J = m.joint_positions()
    rel = J - J[:, :1]
    R, c = m.rotations, m.root_translation
    R_on = R[T0 - 1] @ np.swapaxes(R[T0 - 2], -1, -2) @ R[T0 - 1]
    on = Motion(R_on[None], (2 * c[T0 - 1] - c[T0 - 2])[None], rest=m.rest_offsets()).joint_positions()[0]
    carried = np.linalg.norm(rel[T0] - (on - on[0]), axis=-1).max()
    linear = np.linalg.norm(rel[T0] - (2 * rel[T0 - 1] - rel[T0 - 2]), axis=-1).max()
    a = np.linalg.norm(J[2:] - 2 * J[1:-1] + J[:-2], axis=-1).max(axis=1)  # (T - 2,) at frames 1 .. T - 2
    return 100 * carried, 100 * linear, a[T0 - 2:T0 + 1].max() / a[max(0, T0 - 32):T0 - 2].max()


def sliding(m: Motion, contacts: np.ndarray) -> float:
    """Mean horizontal speed (cm/frame) of the foot points over the last len(contacts) frames'
    pairs where ``contacts`` has them down."""
    P = m.joint_positions()[-len(contacts):][:, FEET]
    v = np.linalg.norm(np.diff(P[..., [0, 2]], axis=0), axis=-1)
    both = contacts[1:] & contacts[:-1]
    return 100 * float(v[both].mean()) if both.any() else float("nan")


def main() -> None:
    demo = generator.Generator.from_spec("demo")
    rows = []
    for src_prompt, s0 in (("a person walks forward", 1), ("a person jogs forward", 2),
                           ("a person waves with the right hand", 3), ("a person turns around", 4)):
        src = demo.generate(GenerateRequest([src_prompt], seconds=3.0, seeds=[s0]))[0]
        for cut in (40, 60):
            given = src.frames(0, min(cut, src.num_frames))
            for prompt, seed in (("a person waves with the right hand", 3), ("a person walks forward", 5),
                                 ("a person turns around", 7)):
                m = demo.generate(GenerateRequest([prompt], seconds=2.0, seeds=[seed]), context=given)[0]
                rows.append(seam(m, given.num_frames))
                print(f"continue {src_prompt[9:]!r}:{given.num_frames} with {prompt[9:]!r}: carried-on "
                      f"{rows[-1][0]:.3f} cm, linear {rows[-1][1]:.2f} cm, seam acceleration {rows[-1][2]:.2f} x own")
    r = np.array(rows)
    print(f"continuations: carried-on max {r[:, 0].max():.3f} cm; linear median {np.median(r[:, 1]):.2f}, "
          f"max {r[:, 1].max():.2f} cm; seam acceleration max {r[:, 2].max():.2f} x the given motion's own")

    seen = []
    planted = generator.plant_into_pose
    generator.plant_into_pose = lambda m, p, n: seen.append((m, p, n)) or planted(m, p, n)
    before, after = [], []
    for prompt, s0, cut, to, seed in (("a person walks forward", 1, 50, 88, 4), ("a person walks forward", 2, 40, 85, 7),
                                      ("a person walks forward", 5, 30, 80, 9), ("a person jogs forward", 6, 45, 90, 2),
                                      ("a person walks forward, then turns left", 8, 50, 100, 3)):
        src = demo.generate(GenerateRequest([prompt], seconds=4.0, seeds=[s0]))[0]
        pose = src.frames(to - 1, to)
        out = demo.generate(GenerateRequest(["a person walks forward"], seconds=(to - cut) / 30, seeds=[seed]),
                            context=src.frames(0, cut), target=pose)[0]
        candidate, _, B = seen[-1]
        contacts = foot_contacts(candidate)[-(B + 1):]
        contacts[-1] = foot_contacts(pose, min_frames=1)[0]
        before.append(sliding(blend_to_pose(candidate, pose, B), contacts))
        after.append(sliding(out, contacts))
        P, Q = out.joint_positions()[-1], pose.joint_positions()[0]
        print(f"in-between {prompt[9:]!r} {cut} -> {to}: standing feet {before[-1]:.2f} -> {after[-1]:.2f} cm/frame, "
              f"last frame {100 * np.abs((P - P[0]) - (Q - Q[0])).max():.4f} cm root-relative, "
              f"{100 * np.linalg.norm(P[0] - Q[0]):.4f} cm pelvis")
    print(f"in-betweens: standing feet over the blend {np.nanmean(before):.2f} -> {np.nanmean(after):.2f} cm/frame")


if __name__ == "__main__":
    main()
