"""Foot lock on generated motions: 20 motions from the shipped demo model (walks, runs, turns,
side steps, jogs, sits, dances), each measured before and after ``foot_lock`` ("toes"): the
horizontal toe speed on the motion's own contact frames (cm/frame; contacts found once, on
the generated motion, and used for both), the lowest heel or toe against the floor
(penetration, cm), and the bone-length change (m). Prints a table and the means (targets:
skating <= 0.3 cm/frame after, penetration <= 0.5 cm, bone lengths to 1e-6 m); never fails.

    .venv/bin/python bench/foot_lock_demo.py [--seconds 4]
"""

from __future__ import annotations

import argparse

import numpy as np

from motionprompt.body.skeleton import PARENTS
from motionprompt.generation.generator import Generator
from motionprompt.postprocess.feet import foot_contacts, foot_lock
from motionprompt.request import GenerateRequest

PROMPTS = [
    "a person walks forward", "a person walks forward slowly", "a person runs forward", "a person jogs in place",
    "a person walks backward", "a person side steps to the left", "a person side steps to the right",
    "a person turns around", "a person walks forward, then turns left", "a person marches in place",
    "a person walks forward, then stops", "a person runs, then walks", "a person squats down and stands up",
    "a person waves with the right hand", "a person jumps forward", "a person walks in a circle",
    "a person steps forward and kicks", "a person walks forward, turns around and walks back",
    "a person stands and looks around", "a person hops on the spot",
]
TOES, HEELS = (10, 11), (7, 8)


def skating(motion, contacts) -> float:
    """Mean horizontal toe speed (cm/frame) over frame pairs a toe is down in ``contacts``."""
    P = motion.joint_positions()
    out = []
    for k, j in ((1, TOES[0]), (3, TOES[1])):
        both = contacts[1:, k] & contacts[:-1, k]
        out.append(np.linalg.norm(np.diff(P[:, j][:, [0, 2]], axis=0), axis=1)[both])
    v = np.concatenate(out)
    return float(v.mean() * 100) if len(v) else 0.0


def lowest(motion) -> float:
    """The lowest heel or toe joint against the floor (cm; negative: below)."""
    P = motion.joint_positions()
    return float(np.minimum(P[:, HEELS, 1], P[:, TOES, 1]).min() * 100)


def bone_change(a, b) -> float:
    """Largest change of a body bone's length between two motions (m)."""
    pa, pb = a.joint_positions(), b.joint_positions()
    la = np.linalg.norm(pa[:, 1:] - pa[:, PARENTS[1:22]], axis=-1)
    lb = np.linalg.norm(pb[:, 1:] - pb[:, PARENTS[1:22]], axis=-1)
    return float(np.abs(la - lb).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    gen = Generator.from_spec("demo")
    motions = gen.generate(GenerateRequest(PROMPTS, seconds=args.seconds, seeds=list(range(len(PROMPTS)))))
    rows = []
    print(f"{'prompt':52s} {'frames':>6s} {'skate before':>12s} {'after':>6s} {'low before':>10s} {'after':>6s} {'bones':>8s}")
    for prompt, m in zip(PROMPTS, motions):
        c = foot_contacts(m)
        locked = foot_lock(m, "toes", contacts=c)
        row = (skating(m, c), skating(locked, c), lowest(m), lowest(locked), bone_change(m, locked))
        rows.append(row)
        print(f"{prompt[:52]:52s} {m.num_frames:6d} {row[0]:12.2f} {row[1]:6.2f} {row[2]:10.2f} {row[3]:6.2f} {row[4]:8.1e}")
    r = np.array(rows)
    print(f"{'mean (cm/frame, cm, m)':52s} {'':6s} {r[:, 0].mean():12.2f} {r[:, 1].mean():6.2f} "
          f"{r[:, 2].min():10.2f} {r[:, 3].min():6.2f} {r[:, 4].max():8.1e}  (low: the lowest of all)")


if __name__ == "__main__":
    main()
