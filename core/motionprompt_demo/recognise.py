"""An action recogniser from physical features of joint positions, independent of any model.

``features(joints)`` measures a clip (T, 22, 3) the way a person would describe it: how far
and which way the pelvis travelled in the body's own frame, how much the heading changed,
how high and how often the feet leave the floor, how high each wrist goes relative to the
head, how far each wrist / foot reaches forward, how low the pelvis goes, how far the head
leans forward. A softmax classifier over those named features (and their squares) is fitted
on ground-truth procedural clips (``motionprompt_demo.synth``), never on a model's output, and
stored as a small .npz; it then labels generated motions.

Also here, for the evaluation: ``foot_skating`` (stance-toe slide, m/frame), the one in
``motionprompt.body.contacts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from motionprompt.body.contacts import DEFAULT_FPS, foot_skating, lowest_foot_height
from motionprompt.body.skeleton import ANKLE_JOINTS, TOE_JOINTS

__all__ = ["FEATURE_NAMES", "features", "foot_skating", "Recogniser", "fit_recogniser", "default_path"]

FPS = DEFAULT_FPS
(PELVIS, L_HIP, R_HIP, L_KNEE, R_KNEE, NECK, HEAD, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST) = (
    0, 1, 2, 4, 5, 12, 15, 16, 17, 20, 21)
L_FOOT, R_FOOT = TOE_JOINTS

FEATURE_NAMES = (
    "fwd_speed", "lat_speed", "path_speed", "dheading", "abs_dheading", "dheading_sq",
    "pelvis_low", "pelvis_range", "airborne_frac", "lfoot_high", "rfoot_high", "foot_high_asym",
    "lfoot_up_frac", "rfoot_up_frac", "knee_high", "lwrist_over_head", "rwrist_over_head",
    "wrist_over_head_asym", "lwrist_raised_speed", "rwrist_raised_speed", "wrist_close_frac",
    "wrist_dist_p10", "lwrist_reach", "rwrist_reach", "wrist_reach_asym", "lfoot_reach", "rfoot_reach",
    "foot_reach_asym", "head_lean", "head_drop", "pelvis_bounce", "vertical_speed",
)


def _facing(joints: np.ndarray) -> np.ndarray:
    """Heading (T,) radians of the body from its hips and shoulders (0 = facing +Z, + = left)."""
    across = (joints[:, L_HIP] - joints[:, R_HIP]) + (joints[:, L_SHOULDER] - joints[:, R_SHOULDER])
    fwd_x, fwd_z = -across[:, 2], across[:, 0]  # across x up
    return np.unwrap(np.arctan2(fwd_x, fwd_z))


def _to_body(v: np.ndarray, heading: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal vectors (..., 3) in the frame of ``heading`` (broadcast): (lateral +left, forward)."""
    c, s = np.cos(heading), np.sin(heading)
    fwd = v[..., 0] * s + v[..., 2] * c
    lat = v[..., 0] * c - v[..., 2] * s
    return lat, fwd


def features(joints: np.ndarray, floor: float | None = None, fps: float = FPS) -> np.ndarray:
    """Physical features of one clip or window.

    Args:
        joints: (T, 22, 3) joint positions, metres, Y up (T >= 4).
        floor: floor height (default: the lowest joint of the window).
        fps: frames per second.
    Returns:
        (len(FEATURE_NAMES),) float64.
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 3 or j.shape[1] < 22 or j.shape[2] != 3 or j.shape[0] < 4:
        raise ValueError(f"features: expected (T>=4, 22, 3) joints, got {j.shape}")
    j = j[:, :22].copy()
    j[..., 1] -= j[..., 1].min() if floor is None else floor
    T = len(j)
    dur = T / fps
    head = _facing(j)
    h0 = head[: min(5, T)].mean()
    dh = head[-min(5, T):].mean() - h0
    root = j[:, PELVIS]
    lat, fwd = _to_body(root[-1] - root[0], h0)
    step = np.linalg.norm(np.diff(root[:, [0, 2]], axis=0), axis=1)
    pel = root[:, 1]
    foot = lowest_foot_height(j, ANKLE_JOINTS, TOE_JOINTS)  # (T, 2)
    # Heights of the feet above their resting height (the ankle stands ~8 cm up).
    foot_up = foot - np.percentile(foot, 5, axis=0)
    knee = j[:, [L_KNEE, R_KNEE], 1] - pel[:, None]
    wr_head = j[:, [L_WRIST, R_WRIST], 1] - j[:, [HEAD], 1]  # (T, 2)
    raised = j[:, [L_WRIST, R_WRIST], 1] > j[:, [L_SHOULDER, R_SHOULDER], 1]
    wr_speed = np.linalg.norm(np.diff(j[:, [L_WRIST, R_WRIST]], axis=0), axis=-1) * fps  # (T-1, 2)
    raised_speed = (wr_speed * raised[1:]).sum(0) / np.maximum(raised[1:].sum(0), 1)
    wdist = np.linalg.norm(j[:, L_WRIST] - j[:, R_WRIST], axis=-1)
    rel = j - root[:, None]
    _, wr_reach = _to_body(rel[:, [L_WRIST, R_WRIST]], head[:, None])
    _, ft_reach = _to_body(rel[:, [L_FOOT, R_FOOT]], head[:, None])
    _, head_fwd = _to_body(rel[:, HEAD], head)
    head_h = rel[:, HEAD, 1]
    p95 = lambda x, axis=0: np.percentile(x, 95, axis=axis)  # noqa: E731
    f = {
        "fwd_speed": fwd / dur, "lat_speed": lat / dur, "path_speed": step.mean() * fps,
        "dheading": dh, "abs_dheading": abs(dh), "dheading_sq": dh * dh,
        "pelvis_low": np.percentile(pel, 5), "pelvis_range": pel.max() - pel.min(),
        "airborne_frac": float(np.mean(foot_up.min(axis=1) > 0.04)),
        "lfoot_high": p95(foot_up[:, 0]), "rfoot_high": p95(foot_up[:, 1]),
        "foot_high_asym": p95(foot_up[:, 0]) - p95(foot_up[:, 1]),
        "lfoot_up_frac": float(np.mean(foot_up[:, 0] > 0.08)), "rfoot_up_frac": float(np.mean(foot_up[:, 1] > 0.08)),
        "knee_high": p95(knee.max(axis=1)),
        "lwrist_over_head": p95(wr_head[:, 0]), "rwrist_over_head": p95(wr_head[:, 1]),
        "wrist_over_head_asym": p95(wr_head[:, 0]) - p95(wr_head[:, 1]),
        "lwrist_raised_speed": raised_speed[0], "rwrist_raised_speed": raised_speed[1],
        "wrist_close_frac": float(np.mean(wdist < 0.2)), "wrist_dist_p10": np.percentile(wdist, 10),
        "lwrist_reach": p95(wr_reach[:, 0]), "rwrist_reach": p95(wr_reach[:, 1]),
        "wrist_reach_asym": p95(wr_reach[:, 0]) - p95(wr_reach[:, 1]),
        "lfoot_reach": p95(ft_reach[:, 0]), "rfoot_reach": p95(ft_reach[:, 1]),
        "foot_reach_asym": p95(ft_reach[:, 0]) - p95(ft_reach[:, 1]),
        "head_lean": p95(head_fwd), "head_drop": np.median(head_h) - np.percentile(head_h, 5),
        "pelvis_bounce": np.std(np.diff(pel)) * fps, "vertical_speed": np.abs(np.diff(pel)).mean() * fps,
    }
    return np.array([float(f[k]) for k in FEATURE_NAMES])


def _expand(F: np.ndarray) -> np.ndarray:
    return np.concatenate([F, F * F], axis=-1)


@dataclass
class Recogniser:
    """Softmax regression over standardised physical features (and their squares)."""

    labels: tuple
    mean: np.ndarray
    std: np.ndarray
    W: np.ndarray  # (2F, C)
    b: np.ndarray  # (C,)

    def logits(self, joints: np.ndarray, floor: float | None = None) -> np.ndarray:
        x = (_expand(features(joints, floor)) - self.mean) / self.std
        return x @ self.W + self.b

    def log_proba(self, joints: np.ndarray, floor: float | None = None) -> np.ndarray:
        z = self.logits(joints, floor)
        return z - np.logaddexp.reduce(z)

    def predict(self, joints: np.ndarray) -> str:
        """The most likely action label of a clip (T, 22, 3)."""
        return self.labels[int(np.argmax(self.logits(joints)))]

    def predict_order(self, joints: np.ndarray, first: str, second: str,
                      min_frames: int = 20) -> tuple[bool, tuple[str, str], int]:
        """Is ``first`` followed by ``second``? Best split by joint log-likelihood.

        Returns:
            (both halves recognised as asked, (label of part 1, label of part 2), split frame).
        """
        j = np.asarray(joints, dtype=np.float64)
        floor = j[..., 1].min()
        ia, ib = self.labels.index(first), self.labels.index(second)
        best = (-np.inf, 0, None, None)
        for s in range(min_frames, len(j) - min_frames + 1, 5):  # a few dozen splits
            la, lb = self.log_proba(j[:s], floor), self.log_proba(j[s:], floor)
            score = la[ia] + lb[ib]
            if score > best[0]:
                best = (score, s, la, lb)
        if best[2] is None:
            return False, ("", ""), 0
        got = (self.labels[int(np.argmax(best[2]))], self.labels[int(np.argmax(best[3]))])
        return got == (first, second), got, best[1]

    def save(self, path) -> None:
        from motionprompt.atomic import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, labels=np.array(self.labels), mean=self.mean, std=self.std, W=self.W, b=self.b)

    @classmethod
    def load(cls, path=None) -> "Recogniser":
        path = Path(path) if path else default_path()
        if not path.exists():
            raise FileNotFoundError(f"{path}: no recogniser; fit one with `python tools/train_demo.py --recogniser-only`")
        d = np.load(path)
        return cls(tuple(str(x) for x in d["labels"]), d["mean"], d["std"], d["W"], d["b"])


def default_path() -> Path:
    return Path(str(resources.files("motionprompt"))) / "data" / "demo" / "recogniser.npz"


def fit_recogniser(X: np.ndarray, y: np.ndarray, labels: tuple, l2: float = 1e-3, steps: int = 1500,
                   lr: float = 0.5) -> Recogniser:
    """Fit the softmax classifier by full-batch gradient descent (deterministic).

    Args:
        X: (N, F) raw features; y: (N,) label indices into ``labels``.
    """
    Xe = _expand(np.asarray(X, dtype=np.float64))
    mean, std = Xe.mean(0), Xe.std(0) + 1e-6
    Z = (Xe - mean) / std
    N, D = Z.shape
    C = len(labels)
    W, b = np.zeros((D, C)), np.zeros(C)
    Y = np.eye(C)[y]
    mW, mb = np.zeros_like(W), np.zeros_like(b)
    for _ in range(steps):  # full-batch steps with momentum
        z = Z @ W + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - Y) / N
        gW = Z.T @ g + l2 * W
        gb = g.sum(0)
        mW = 0.9 * mW + gW
        mb = 0.9 * mb + gb
        W -= lr * mW
        b -= lr * mb
    return Recogniser(tuple(labels), mean, std, W, b)
