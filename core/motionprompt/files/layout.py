"""The files of one motion in a result folder, as MotionMillion's ``inference_batch.py`` lays them out::

    {flag}_predict.npy    (T, 272) de-normalised frames
    {flag}_text.txt       the prompt that was generated
    {flag}_smplx.npz      SMPL-X poses / trans (format "npz")
    {flag}_<first 50 chars of the prompt>.gif / .mp4   previews (MP4 960 px; GIF 960 px or smaller)

``flag`` 0 is the prompt as written, 1 its rewrite.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..atomic import atomic_path
from ..body.motion import Motion
from . import formats

__all__ = ["output_files", "write_previews", "preview_names", "short_name", "MP4_SIZE"]

MP4_SIZE = 960  # the release's preview size; the GIF may be smaller (``--preview-size``)


def short_name(prompt: str, n: int = 50) -> str:
    """The release's preview file stem: the first ``n`` characters (``...`` when cut), made safe
    for file names on every OS."""
    s = prompt.strip()
    cut = len(s) > n
    s = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", s[:n]).rstrip(". ") or "motion"
    return s + "..." if cut else s


def preview_names(motion: Motion, flag: int) -> tuple[str, str]:
    """The GIF and MP4 names of a motion's previews in its folder."""
    stem = f"{flag}_{short_name(motion.prompt)}"
    return f"{stem}.gif", f"{stem}.mp4"


def write_previews(motion: Motion, folder: Path, flag: int, gif_size: int = MP4_SIZE) -> list[str]:
    """Write the GIF (``gif_size`` pixels a side) and the 960 px MP4 of one motion; returns their
    names. At one size both come from one pass over the frames."""
    from .preview import write_gif, write_gif_and_mp4, write_mp4

    gif, mp4 = preview_names(motion, flag)
    if gif_size == MP4_SIZE:
        write_gif_and_mp4(motion, folder / gif, folder / mp4, size=MP4_SIZE)
    else:
        write_gif(motion, folder / gif, size=gif_size)
        write_mp4(motion, folder / mp4, size=MP4_SIZE)
    return [gif, mp4]


def output_files(motion: Motion, folder: Path, flag: int, previews: bool = True,
                 gif_size: int = MP4_SIZE) -> list[str]:
    """Write one motion's files into ``folder`` (see the module docstring); returns their names."""
    written = []
    formats.export(motion, "npy", folder / f"{flag}_predict.npy")
    written.append(f"{flag}_predict.npy")
    with atomic_path(folder / f"{flag}_text.txt") as tmp:
        Path(tmp).write_text(motion.prompt + "\n", encoding="utf-8")
    written.append(f"{flag}_text.txt")
    formats.export(motion, "npz", folder / f"{flag}_smplx.npz")
    written.append(f"{flag}_smplx.npz")
    if previews:
        written += write_previews(motion, folder, flag, gif_size)
    return written
