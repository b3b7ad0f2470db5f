"""BVH export of the SMPL-X body (22 joints), readable by Blender's BVH importer.

Units are metres, axes SMPL-X (+Y up, the body faces +Z), as the 272-representation tools
write BVH; Blender's importer (default axis_up 'Y', axis_forward '-Z') stands it up in Z-up.
Channels: root ``Xposition Yposition Zposition Zrotation Yrotation Xrotation``, other joints
``Zrotation Yrotation Xrotation``, degrees; the local rotation is Rz @ Ry @ Rx (column
vectors). Root position channels are the absolute world pelvis position; the root OFFSET is
the rest pelvis (readers that add OFFSET to the channels are wrong for this file family,
Blender's importer does not).
"""

from __future__ import annotations

import io

import numpy as np
from ..body.rotations import matrix_to_euler_zyx
from ..body.skeleton import BODY_JOINT_NAMES, BODY_PARENTS

__all__ = ["bvh_text"]

# End-site direction and length for leaf joints (head, feet, wrists), metres, in the joint's frame.
_END_SITES = {15: (0.0, 0.12, 0.0), 10: (0.0, 0.0, 0.06), 11: (0.0, 0.0, 0.06),
              20: (0.08, 0.0, 0.0), 21: (-0.08, 0.0, 0.0)}


def _children(parents) -> dict[int, list[int]]:
    ch: dict[int, list[int]] = {j: [] for j in range(len(parents))}
    for j, p in enumerate(parents):
        if p >= 0:
            ch[p].append(j)
    return ch


def bvh_text(local_rots: np.ndarray, root_pos: np.ndarray, offsets: np.ndarray, fps: float,
             rest_pelvis: np.ndarray | None = None) -> str:
    """Render a BVH file.

    Args:
        local_rots: (T, 22, 3, 3) local rotations, joint 0 the world root orientation.
        root_pos: (T, 3) world pelvis positions, metres.
        offsets: (22, 3) rest offsets child - parent, metres.
        fps: frames per second.
        rest_pelvis: (3,) OFFSET of the root (default: the first frame's pelvis height on Y).
    Returns:
        The file's text.
    """
    T = local_rots.shape[0]
    children = _children(BODY_PARENTS)
    order: list[int] = []  # depth-first order = channel order in the MOTION lines
    out = io.StringIO()
    if rest_pelvis is None:
        rest_pelvis = np.array([0.0, float(root_pos[0, 1]), 0.0])

    def write_joint(j: int, depth: int) -> None:
        ind = "\t" * depth
        order.append(j)
        if j == 0:
            out.write(f"ROOT {BODY_JOINT_NAMES[j]}\n{{\n")
            off = rest_pelvis
            chans = "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation"
        else:
            out.write(f"{ind}JOINT {BODY_JOINT_NAMES[j]}\n{ind}{{\n")
            off = offsets[j]
            chans = "CHANNELS 3 Zrotation Yrotation Xrotation"
        out.write(f"{ind}\tOFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}\n{ind}\t{chans}\n")
        for c in children[j]:
            write_joint(c, depth + 1)
        if not children[j]:
            e = _END_SITES.get(j, (0.0, 0.05, 0.0))
            out.write(f"{ind}\tEnd Site\n{ind}\t{{\n{ind}\t\tOFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}\n{ind}\t}}\n")
        out.write(f"{ind}}}\n")

    out.write("HIERARCHY\n")
    write_joint(0, 0)
    eul = np.degrees(matrix_to_euler_zyx(local_rots[:, order])).reshape(T, len(order) * 3)  # z, y, x
    data = np.concatenate([root_pos, eul], axis=1)
    out.write(f"MOTION\nFrames: {T}\nFrame Time: {1.0 / fps:.6f}\n")
    np.savetxt(out, data, fmt="%.6f")
    return out.getvalue()
