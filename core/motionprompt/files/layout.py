"""The files of one motion in a result folder, as MotionMillion's ``inference_batch.py`` lays them out::

    {flag}_predict.npy    (T, 272) de-normalised frames
    {flag}_text.txt       the prompt that was generated
    {flag}_smplx.npz      SMPL-X poses / trans (format "npz")
    {flag}_<first 50 chars of the prompt>.gif / .mp4   previews

``flag`` 0 is the prompt as written, 1 its rewrite.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..atomic import atomic_path
from ..body.motion import Motion
from . import formats

__all__ = ["output_files", "short_name"]


def short_name(prompt: str, n: int = 50) -> str:
    """The release's preview file stem: the first ``n`` characters (``...`` when cut), made safe
    for file names on every OS."""
    s = prompt.strip()
    cut = len(s) > n
    s = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", s[:n]).rstrip(". ") or "motion"
    return s + "..." if cut else s


def output_files(motion: Motion, folder: Path, flag: int, previews: bool = True) -> list[str]:
    """Write one motion's files into ``folder`` (see the module docstring); returns their names."""
    written = []
    formats.export(motion, "npy", folder / f"{flag}_predict.npy")
    written.append(f"{flag}_predict.npy")
    with atomic_path(folder / f"{flag}_text.txt") as tmp:
        Path(tmp).write_text(motion.prompt + "\n", encoding="utf-8")
    written.append(f"{flag}_text.txt")
    formats.export(motion, "npz", folder / f"{flag}_smplx.npz")
    written.append(f"{flag}_smplx.npz")
    if previews:  # GIF and MP4 from one pass over the frames
        from .preview import write_gif_and_mp4

        stem = f"{flag}_{short_name(motion.prompt)}"
        write_gif_and_mp4(motion, folder / f"{stem}.gif", folder / f"{stem}.mp4")
        written += [f"{stem}.gif", f"{stem}.mp4"]
    return written
