"""Motion files: reading (validated) and writing (atomic) every format motionprompt speaks.

Formats (``EXPORTERS``; the preview module adds gif / mp4 / png):
- ``npy``: de-normalised 272-dim frames (T, 272) float32, the release's ``{flag}_predict.npy``.
- ``joints``: (T, 22, 3) float32 world joint positions, metres, SMPL-X axes (Y up), from FK of
  the recovered rotations with the rest skeleton estimated from the motion itself.
- ``smplx85``: (T, 85) [0:66] axis-angle of 22 joints, [66:72] zeros, [72:75] transl, [75:85] betas.
- ``smplx322``: (T, 322) Motion-X layout (root orient, body, hands, jaw, expression, face shape,
  trans, betas).
- ``npz``: AMASS / SMPL-X style, loadable by the official SMPL-X Blender add-on: ``poses``
  (T, 165), ``trans``, ``betas``, ``gender``, ``mocap_frame_rate``, plus ``joints``, ``prompt``
  and, after a foot lock, ``foot_contacts`` (T, 4) bool (``contacts.CONTACT_POINTS``).
- ``bvh``: SMPL-X body skeleton, metres, Y up (see ``motionprompt.files.bvh``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import atomic_path
from ..body import rep272
from ..body.contacts import contact_frames
from .bvh import bvh_text
from ..body.motion import Motion
from ..body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from ..body.skeleton import DEFAULT_BETAS, DEFAULT_REST_PELVIS, NUM_BODY_JOINTS

__all__ = ["load_motion", "export", "EXPORTERS", "SUFFIXES", "MotionFileError"]


class MotionFileError(ValueError):
    """A motion file could not be read: the message names the file and what was expected."""


def _save_array(path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, arr)


def _save_npz(path, arrays: dict) -> None:
    """``np.savez``'s layout (uncompressed zip of .npy members), with the zip closed on every
    path: numpy leaves it open when a write fails (a full disk), and its ``__del__`` then
    prints a second error after the real one."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        z = zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True)
        try:
            for name, value in arrays.items():
                with z.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
        except BaseException:
            with contextlib.suppress(OSError, ValueError):  # the first error is the one to report
                z.close()
            raise
        z.close()


# ---------------------------------------------------------------------------------------------
# writers: fn(motion, path, **opts)

def _smplx85(motion: Motion, betas=DEFAULT_BETAS, rest_pelvis=DEFAULT_REST_PELVIS) -> np.ndarray:
    T = motion.num_frames
    out = np.zeros((T, 85))
    out[:, 0:66] = matrix_to_axis_angle(motion.rotations).reshape(T, 66)
    out[:, 72:75] = motion.smplx_transl(rest_pelvis)
    out[:, 75:85] = np.asarray(betas, dtype=np.float64)[:10]
    return out


def write_npy(motion: Motion, path, **_) -> None:
    _save_array(path, motion.to_272().astype(np.float32))


def write_joints(motion: Motion, path, **_) -> None:
    _save_array(path, motion.joint_positions().astype(np.float32))


def write_smplx85(motion: Motion, path, betas=DEFAULT_BETAS, rest_pelvis=DEFAULT_REST_PELVIS, **_) -> None:
    _save_array(path, _smplx85(motion, betas, rest_pelvis).astype(np.float32))


def write_smplx322(motion: Motion, path, betas=DEFAULT_BETAS, rest_pelvis=DEFAULT_REST_PELVIS, **_) -> None:
    s85 = _smplx85(motion, betas, rest_pelvis)
    out = np.zeros((motion.num_frames, 322))
    out[:, 0:66] = s85[:, 0:66]  # root orient 0:3, body 3:66
    out[:, 309:312] = s85[:, 72:75]
    out[:, 312:322] = s85[:, 75:85]
    _save_array(path, out.astype(np.float32))


def write_npz(motion: Motion, path, betas=DEFAULT_BETAS, rest_pelvis=DEFAULT_REST_PELVIS,
              gender: str = "neutral", **_) -> None:
    s85 = _smplx85(motion, betas, rest_pelvis)
    T = motion.num_frames
    poses = np.zeros((T, 165))  # 55 joints x 3: body 22 first; jaw, eyes, hands zero
    poses[:, :66] = s85[:, :66]
    arrays = dict(
        poses=poses, trans=s85[:, 72:75], betas=np.asarray(betas, dtype=np.float64),
        gender=np.array(gender), mocap_frame_rate=np.array(float(motion.fps)),
        surface_model_type=np.array("smplx"), joints=motion.joint_positions(),
        rest_pelvis=np.asarray(rest_pelvis, dtype=np.float64), prompt=np.array(motion.prompt),
    )
    if motion.meta.get("contacts") is not None:  # foot contacts found by the post-processing
        arrays["foot_contacts"] = contact_frames(motion.meta["contacts"], T, motion.fps)
    _save_npz(path, arrays)


def write_bvh(motion: Motion, path, **_) -> None:
    text = bvh_text(motion.rotations, motion.root_translation, motion.rest_offsets(), motion.fps)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="ascii")


def _preview_writer(name: str) -> Callable:
    """A writer from ``motionprompt.files.preview``, imported on first use (keeps Pillow/ffmpeg lazy)."""
    def write(motion: Motion, path, **opts) -> None:
        from . import preview

        getattr(preview, name)(motion, path, **opts)
    write.__name__ = name
    return write


EXPORTERS: dict[str, Callable] = {
    "npy": write_npy,
    "joints": write_joints,
    "smplx85": write_smplx85,
    "smplx322": write_smplx322,
    "npz": write_npz,
    "bvh": write_bvh,
    "gif": _preview_writer("write_gif"),
    "mp4": _preview_writer("write_mp4"),
    "png": _preview_writer("write_png"),
}
#: File suffix of each format (``joints`` etc. are .npy files).
SUFFIXES: dict[str, str] = {"npy": ".npy", "joints": ".npy", "smplx85": ".npy", "smplx322": ".npy",
                            "npz": ".npz", "bvh": ".bvh", "gif": ".gif", "mp4": ".mp4", "png": ".png"}


def export(motion: Motion, fmt: str, path, **opts) -> Path:
    """Write ``motion`` to ``path`` in format ``fmt`` (a key of ``EXPORTERS``), atomically."""
    if fmt not in EXPORTERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(sorted(EXPORTERS))}")
    EXPORTERS[fmt](motion, path, **opts)
    return Path(path)


# ---------------------------------------------------------------------------------------------
# reading

def _load_any(path: Path):
    if not path.is_file():
        raise MotionFileError(f"{path}: no such file")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise MotionFileError(f"{path}: not a readable .npy/.npz array file ({e}); "
                              "expected a (T, 272) motion .npy or a motionprompt/AMASS .npz") from e


def _finite(path: Path, name: str, a: np.ndarray) -> np.ndarray:
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise MotionFileError(f"{path}: {name} has dtype {a.dtype}, expected real numbers")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a.reshape(len(a), -1)))[0][0] if a.ndim else 0
        raise MotionFileError(f"{path}: {name} contains NaN or infinite values (first at frame {bad})")
    return a


def load_motion(path, fps: float = 30.0, prompt: str = "") -> Motion:
    """Read a motion file, validated.

    Accepts a (T, 272) de-normalised ``.npy`` (the release's ``*_predict.npy``), a (T, 85) smplx85
    ``.npy``, or an ``.npz`` with ``poses`` (T, >=66) and ``trans`` (AMASS / SMPL-X style; ours
    adds ``joints``). Raises ``MotionFileError`` naming the file and what was expected.
    """
    path = Path(path)
    data = _load_any(path)
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            if "poses" not in data.files or "trans" not in data.files:
                raise MotionFileError(f"{path}: .npz without 'poses' and 'trans' arrays "
                                      f"(has {', '.join(data.files) or 'nothing'})")
            poses = _finite(path, "poses", data["poses"])
            trans = _finite(path, "trans", data["trans"])
            if poses.ndim != 2 or poses.shape[1] < 66 or trans.shape != (len(poses), 3) or len(poses) < 1:
                raise MotionFileError(f"{path}: expected poses (T, >=66) and trans (T, 3), "
                                      f"got {poses.shape} and {trans.shape}")
            rest_pelvis = DEFAULT_REST_PELVIS
            if "rest_pelvis" in data.files:
                rest_pelvis = _finite(path, "rest_pelvis", data["rest_pelvis"])
                if rest_pelvis.shape != (3,):
                    raise MotionFileError(f"{path}: rest_pelvis has shape {rest_pelvis.shape}, expected (3,) metres")
            joints = data["joints"] if "joints" in data.files else None
            rate_key = next((k for k in ("mocap_frame_rate", "mocap_framerate") if k in data.files), None)
            if rate_key:
                rate = _finite(path, rate_key, data[rate_key]).reshape(-1)
                if rate.shape != (1,) or not rate[0] > 0:
                    raise MotionFileError(f"{path}: {rate_key} is {data[rate_key]!r}, expected one frame rate > 0")
                fps = float(rate[0])
            prompt = str(data["prompt"]) if "prompt" in data.files and not prompt else prompt
        rots = axis_angle_to_matrix(poses[:, :66].reshape(-1, NUM_BODY_JOINTS, 3))
        return Motion(rots, trans + rest_pelvis, fps=fps,
                      joints=None if joints is None or joints.shape != (len(poses), 22, 3) else joints,
                      prompt=prompt, source=str(path))
    a = _finite(path, "array", data)
    if not (isinstance(fps, (int, float)) and np.isfinite(fps) and fps > 0):
        raise MotionFileError(f"{path}: frame rate {fps!r} is not a frame rate; give a number > 0")
    if a.ndim == 2 and a.shape[1] == rep272.DIM and len(a) >= 1:
        if not np.all(np.abs(a[:, rep272.ROTATION_SLICE]).reshape(len(a), -1, 6).sum(-1) > 0):
            raise MotionFileError(f"{path}: its rotation channels are zero (an all-zero or normalised array?); "
                                  "expected de-normalised 272-dim frames")
        return Motion.from_272(a, fps=fps, prompt=prompt, source=str(path))
    if a.ndim == 2 and a.shape[1] == 85 and len(a) >= 1:
        rots = axis_angle_to_matrix(a[:, :66].reshape(-1, NUM_BODY_JOINTS, 3))
        return Motion(rots, a[:, 72:75] + DEFAULT_REST_PELVIS, fps=fps, prompt=prompt, source=str(path))
    raise MotionFileError(f"{path}: array of shape {a.shape} is not a motion; expected (T, 272) "
                          "de-normalised 272-dim frames or (T, 85) smplx85")
