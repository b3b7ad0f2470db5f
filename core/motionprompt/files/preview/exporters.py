"""Exporters for ``formats.EXPORTERS`` (``fn(motion, path, **opts)``): previews of a ``Motion``
with its prompt as title and its fps; options other formats take are ignored."""

from __future__ import annotations

import numpy as np

from ...body.contacts import contact_frames
from .projection import Camera
from .render import render_contact_sheet, render_gif, render_gif_and_mp4, render_mp4


def _motion_joints(motion) -> np.ndarray:
    """(T, 22, 3) joints of a ``Motion``: FK of its rotations (what gets keyed in Blender)."""
    return motion.joint_positions()


def _contacts(motion) -> np.ndarray | None:
    """(T, 4) bool foot contacts from the motion's ``meta["contacts"]`` spans (set by the foot
    lock), or None: the previews mark planted feet."""
    spans = motion.meta.get("contacts")
    return None if spans is None else contact_frames(spans, motion.num_frames, motion.fps)


def write_gif(motion, path, size: int = 960, camera: Camera | None = None, progress=None, **_) -> None:
    """Animated GIF of ``motion`` at ``path``, ``size`` pixels a side; ``progress(done, total)``
    after each frame."""
    render_gif(_motion_joints(motion), path, title=motion.prompt, fps=motion.fps, size=size, camera=camera,
               progress=progress, contacts=_contacts(motion))


def write_mp4(motion, path, size: int = 960, camera: Camera | None = None, progress=None, **_) -> None:
    """H.264 MP4 of ``motion`` at ``path``, ``size`` pixels a side (rounded up to even)."""
    render_mp4(_motion_joints(motion), path, title=motion.prompt, fps=motion.fps, size=size, camera=camera,
               progress=progress, contacts=_contacts(motion))


def write_png(motion, path, tile: int = 320, count: int = 8, columns: int = 4, camera: Camera | None = None,
              **_) -> None:
    """PNG contact sheet of ``count`` key frames of ``motion``, ``tile`` pixels each."""
    render_contact_sheet(_motion_joints(motion), path, title=motion.prompt, fps=motion.fps, tile=tile,
                         count=count, columns=columns, camera=camera, contacts=_contacts(motion))


def write_gif_and_mp4(motion, gif_path, mp4_path, size: int = 960, camera: Camera | None = None) -> None:
    """Both previews of a ``Motion`` from one pass over the frames (use this rather than two exports)."""
    render_gif_and_mp4(_motion_joints(motion), gif_path, mp4_path, title=motion.prompt, fps=motion.fps,
                       size=size, camera=camera, contacts=_contacts(motion))

