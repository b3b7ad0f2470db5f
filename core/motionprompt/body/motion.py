"""``Motion``: the one value the rest of motionprompt passes around.

A motion is SMPL-X body pose over time: 22 local joint rotations and the world pelvis
trajectory (SMPL-X axes: metres, +Y up, the body faces +Z), at ``fps`` frames per second,
with what produced it (prompt, seed, source) and, when known, its 272-dim frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from . import rep272
from .skeleton import DEFAULT_REST_OFFSETS, DEFAULT_REST_PELVIS, NUM_BODY_JOINTS, estimate_rest_offsets, forward_kinematics

__all__ = ["Motion"]

#: The fields every derived cache (joints, 272 features) is computed from.
_POSE_FIELDS = ("rotations", "root_translation")


@dataclass(eq=False)
class Motion:
    """SMPL-X body motion.

    Attributes:
        rotations: (T, 22, 3, 3) local rotations; joint 0 is the world root orientation.
        root_translation: (T, 3) world PELVIS position, metres (not SMPL-X ``transl``).
        fps: frames per second (MotionMillion: 30).
        joints: (T, 22, 3) world joint positions, metres, when the source carries them
            (the 272 position channels, mocap); used to estimate the rest skeleton.
        features: (T, 272) de-normalised frames, when the motion came from them.
        prompt, seed, source: provenance (``source``: a file path, "demo", a model name...).
        rest: (22, 3) rest offsets child - parent, metres, when known from elsewhere (a motion
            made from another keeps its skeleton); else estimated from ``joints``.
        meta: what produced it beyond provenance (token count, action segments...).

    ``joints`` and ``features`` derive from the pose: replacing ``rotations`` or
    ``root_translation`` (``with_`` or assignment) drops them, keeping the rest skeleton.
    """

    rotations: np.ndarray
    root_translation: np.ndarray
    fps: float = 30.0
    joints: np.ndarray | None = None
    features: np.ndarray | None = None
    prompt: str = ""
    seed: int | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)
    rest: np.ndarray | None = None

    def __post_init__(self):
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.root_translation = np.asarray(self.root_translation, dtype=np.float64)
        T = self.rotations.shape[0]
        if self.rotations.shape != (T, NUM_BODY_JOINTS, 3, 3) or T < 1:
            raise ValueError(f"Motion.rotations must be (T, 22, 3, 3) with T >= 1, got {self.rotations.shape}")
        if self.root_translation.shape != (T, 3):
            raise ValueError(f"Motion.root_translation must be ({T}, 3), got {self.root_translation.shape}")
        if self.joints is not None:
            self.joints = np.asarray(self.joints, dtype=np.float64)
            if self.joints.shape != (T, NUM_BODY_JOINTS, 3):
                raise ValueError(f"Motion.joints must be ({T}, 22, 3), got {self.joints.shape}")
        if not (np.all(np.isfinite(self.rotations)) and np.all(np.isfinite(self.root_translation))):
            raise ValueError("Motion contains NaN or infinite values")
        if self.rest is not None:
            self.rest = np.asarray(self.rest, dtype=np.float64)
            if self.rest.shape != (NUM_BODY_JOINTS, 3):
                raise ValueError(f"Motion.rest must be (22, 3), got {self.rest.shape}")
        if not self.fps > 0:
            raise ValueError(f"Motion.fps must be positive, got {self.fps}")
        self.__dict__["_ready"] = True

    def __setattr__(self, name: str, value) -> None:
        if name in _POSE_FIELDS and self.__dict__.get("_ready"):
            self._drop_derived()
        elif name == "rest":
            self.__dict__.pop("_rest", None)
            self.__dict__.pop("_fk", None)
        object.__setattr__(self, name, value)

    def _drop_derived(self) -> None:
        """Forget what derives from the pose (joints, 272 features), keeping the rest skeleton."""
        if self.rest is None:
            object.__setattr__(self, "rest", self.rest_offsets())
        object.__setattr__(self, "joints", None)
        object.__setattr__(self, "features", None)
        self.__dict__.pop("_rest", None)
        self.__dict__.pop("_fk", None)

    @classmethod
    def from_272(cls, x: np.ndarray, fps: float = 30.0, prompt: str = "", seed: int | None = None,
                 source: str = "") -> "Motion":
        """Build a motion from de-normalised 272-dim frames (T, 272)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != rep272.DIM or x.shape[0] < 1:
            raise ValueError(f"expected (T, {rep272.DIM}) frames, got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("272-dim frames contain NaN or infinite values")
        rots, root, joints = rep272.recover(x)
        return cls(rotations=rots, root_translation=root, fps=fps, joints=joints,
                   features=x, prompt=prompt, seed=seed, source=source)

    @property
    def num_frames(self) -> int:
        return self.rotations.shape[0]

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.num_frames / self.fps

    @cached_property
    def _rest(self) -> tuple[np.ndarray, np.ndarray | None]:
        if self.rest is not None:
            return self.rest, None
        if self.joints is None:
            return np.array(DEFAULT_REST_OFFSETS), None
        return estimate_rest_offsets(self.rotations, self.joints)

    def rest_offsets(self) -> np.ndarray:
        """(22, 3) rest offsets child - parent, metres: ``rest`` when set, else estimated from
        the motion's own rotations and positions when it carries positions, else the shipped
        default."""
        return self._rest[0].copy()

    def rest_spread(self) -> np.ndarray | None:
        """(22,) RMS disagreement (metres) between per-frame offsets and the estimate, or None
        when the skeleton was not estimated from this motion's positions."""
        return None if self._rest[1] is None else self._rest[1].copy()

    @cached_property
    def _fk(self) -> tuple[np.ndarray, np.ndarray]:
        return forward_kinematics(self.rotations, self.root_translation, self._rest[0])

    def joint_positions(self, offsets: np.ndarray | None = None) -> np.ndarray:
        """(T, 22, 3) world joint positions, metres: FK of the rotations with ``offsets``
        (default: ``rest_offsets()``, computed once per pose), pelvis on ``root_translation``."""
        if offsets is None:
            return self._fk[0].copy()
        return forward_kinematics(self.rotations, self.root_translation, offsets)[0]

    def frames(self, start: int, stop: int) -> "Motion":
        """Frames ``start`` to ``stop`` (exclusive) as a motion: every per-frame field and what
        derives from them (joints, features, a computed FK) sliced, the skeleton and meta kept."""
        cut = slice(start, stop)
        out = replace(self, rotations=self.rotations[cut], root_translation=self.root_translation[cut],
                      joints=None if self.joints is None else self.joints[cut],
                      features=None if self.features is None else self.features[cut],
                      rest=self.rest_offsets(), meta=dict(self.meta))
        if "_fk" in self.__dict__:
            out.with_known_fk(self._fk[0][cut], self._fk[1][cut])
        return out

    def with_known_fk(self, positions: np.ndarray, global_rotations: np.ndarray) -> "Motion":
        """This motion, its FK taken as given (a solver that moved a few joints knows the rest):
        ``positions`` (T, 22, 3) and ``global_rotations`` (T, 22, 3, 3) must be
        ``forward_kinematics`` of the pose with ``rest_offsets()``. Returns self."""
        T = self.num_frames
        if positions.shape != (T, NUM_BODY_JOINTS, 3) or global_rotations.shape != (T, NUM_BODY_JOINTS, 3, 3):
            raise ValueError(f"with_known_fk: shapes {positions.shape}, {global_rotations.shape} do not fit {T} frames")
        self.__dict__["_fk"] = (positions, global_rotations)
        return self

    def global_rotations(self) -> np.ndarray:
        """(T, 22, 3, 3) world rotations of the joints (FK with ``rest_offsets()``)."""
        return self._fk[1].copy()

    def fk(self) -> tuple[np.ndarray, np.ndarray]:
        """FK with ``rest_offsets()``: (T, 22, 3) world joint positions, metres, and (T, 22, 3, 3)
        world rotations, as read-only views of the arrays computed once per motion (no copies:
        for solvers that build on them; ``joint_positions`` / ``global_rotations`` copy)."""
        views = tuple(a.view() for a in self._fk)
        for v in views:
            v.flags.writeable = False
        return views

    def smplx_transl(self, rest_pelvis: np.ndarray | None = None) -> np.ndarray:
        """(T, 3) SMPL-X ``transl``: SMPL-X puts the pelvis at J0(betas) + transl, so
        transl = pelvis - J0. ``rest_pelvis`` is J0 (exact from model files via ``smplx``);
        default: the shipped subject's J0 (``skeleton.DEFAULT_REST_PELVIS``)."""
        j0 = DEFAULT_REST_PELVIS if rest_pelvis is None else np.asarray(rest_pelvis, dtype=np.float64)
        return self.root_translation - j0

    def to_272(self) -> np.ndarray:
        """(T, 272) frames: the stored ones, else computed from rotations and FK positions."""
        if self.features is not None:
            return self.features
        return rep272.motion_to_272(self.rotations, self.joint_positions())

    def with_(self, **changes) -> "Motion":
        """A copy with some fields replaced. A new pose (``rotations`` / ``root_translation``)
        drops ``joints`` and ``features`` unless they are given too; the rest skeleton stays."""
        if any(k in changes for k in _POSE_FIELDS):
            changes.setdefault("joints", None)
            changes.setdefault("features", None)
            if changes["joints"] is None:
                changes.setdefault("rest", self.rest_offsets())
        changes.setdefault("meta", dict(self.meta))
        return replace(self, **changes)
