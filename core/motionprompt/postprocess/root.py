"""Steps on the root trajectory: ``in_place`` (no horizontal travel)."""

from __future__ import annotations

from ..body.motion import Motion

__all__ = ["in_place"]


def in_place(motion: Motion) -> Motion:
    """The same motion with the pelvis' floor-plane travel removed: x and z (SMPL-X, metres)
    held at frame 0's, height and every rotation unchanged."""
    root = motion.root_translation.copy()  # (T, 3)
    root[:, [0, 2]] = root[0, [0, 2]]
    return motion.with_(root_translation=root)
