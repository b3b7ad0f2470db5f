"""Projection: the preview camera and every 3D point of a motion taken to image pixels.

World coordinates are metres, SMPL-X axes (+Y up). Camera coordinates are metres along the
camera's right, up and forward (viewing) axes, depth = forward. Pixel coordinates (x right,
y down) put pixel k on [k, k + 1), so the image centre of a ``size`` image is ``size / 2``.
Everything is projected for all frames at once with numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...body.skeleton import KINEMATIC_CHAINS
from .style import FLOOR_HALF, GRID_STEP


@dataclass(frozen=True)
class Camera:
    """Perspective pinhole camera whose look-at point follows the root over the floor.

    Attributes:
        azimuth_deg: direction of the camera around +Y, seen from the look-at point:
            0 puts it on +Z (in front of a body that faces +Z), 90 on +X.
        elevation_deg: height angle of the camera above the horizontal (it looks down).
        distance: metres from the look-at point to the camera.
        fov_deg: field of view (the images are square: horizontal = vertical).
        look_height: metres above the floor of the look-at point; its x, z are the root's.
        near: metres; geometry closer to the camera plane than this is clipped away.
    """

    azimuth_deg: float = 30.0
    elevation_deg: float = 22.0
    distance: float = 4.0
    fov_deg: float = 40.0
    look_height: float = 0.9
    near: float = 0.05

    def rotation(self) -> np.ndarray:
        """(3, 3) world -> camera rotation; rows: right, up, forward (viewing direction)."""
        az, el = math.radians(self.azimuth_deg), math.radians(self.elevation_deg)
        back = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        forward = -back
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        return np.stack([right, up, forward])

    def offset(self) -> np.ndarray:
        """(3,) camera position minus look-at point, metres."""
        return -self.distance * self.rotation()[2]

    def focal(self, size: int) -> float:
        """Focal length in pixels for a ``size`` x ``size`` image."""
        return 0.5 * size / math.tan(math.radians(self.fov_deg) / 2)


def _clip_near(a: np.ndarray, b: np.ndarray, near: float):
    """Clip segments a-b (camera coordinates, (..., 3)) to depth >= near.

    Returns (a', b', visible) where visible (...) is False for segments wholly behind.
    """
    da, db = a[..., 2], b[..., 2]
    visible = (da >= near) | (db >= near)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip((near - da) / (db - da), 0.0, 1.0)[..., None]
    cut = a + t * (b - a)
    return np.where((da < near)[..., None], cut, a), np.where((db < near)[..., None], cut, b), visible


def _clip_polygon(poly: np.ndarray, near: float) -> np.ndarray:
    """Sutherland-Hodgman clip of one polygon (N, 3) camera coordinates to depth >= near."""
    out = []
    for k in range(len(poly)):
        p, q = poly[k], poly[(k + 1) % len(poly)]
        pin, qin = p[2] >= near, q[2] >= near
        if pin:
            out.append(p)
        if pin != qin:
            out.append(p + (near - p[2]) / (q[2] - p[2]) * (q - p))
    return np.array(out).reshape(-1, 3)


class _Scene:
    """Projected geometry of a whole motion, in output pixels (pixel k spans [k, k + 1)).

    Segment arrays are (T, N, 4) pixel coordinates (x0, y0, x1, y1) per frame, NaN where a
    segment lies wholly behind the camera's near plane (parts behind it are clipped away).
    """

    def __init__(self, joints: np.ndarray, size: int, camera: Camera, trajectory: np.ndarray):
        T = len(joints)
        self.T = T
        self.near = camera.near
        self.R = camera.rotation()
        self.f = camera.focal(size)
        self.c = size / 2.0
        self.floor_y = float(joints[..., 1].min())
        root = joints[:, 0]
        look = np.stack([root[:, 0], np.full(T, self.floor_y + camera.look_height), root[:, 2]], axis=1)
        self.eye = look + camera.offset()                                # (T, 3)
        self.eye_cam = self.eye @ self.R.T                               # (T, 3) eye in camera axes

        # skeleton and its shadow on the floor: one segment per bone, chain by chain
        pairs = [(c[k], c[k + 1]) for c in KINEMATIC_CHAINS for k in range(len(c) - 1)]
        self.bone_chain = np.array([n for n, c in enumerate(KINEMATIC_CHAINS) for _ in range(len(c) - 1)])
        parent, child = (list(v) for v in zip(*pairs))
        joints_cam = self._cam(joints)                                   # (T, 22, 3)
        shadow = joints.copy()
        shadow[..., 1] = self.floor_y
        shadow_cam = self._cam(shadow)
        self.bone_seg = self._segments(joints_cam[:, parent], joints_cam[:, child])     # (T, B, 4)
        self.shadow_seg = self._segments(shadow_cam[:, parent], shadow_cam[:, child])   # (T, B, 4)
        # each foot's print on the floor, a little beyond heel (ankle) and toe (ball): left, right
        heel, toe = shadow[:, [7, 8]], shadow[:, [10, 11]]
        self.foot_seg = self._segments(self._cam(heel - 0.4 * (toe - heel)), self._cam(toe + 0.4 * (toe - heel)))
        chain_depth = np.stack([joints_cam[:, list(c), 2].mean(axis=1) for c in KINEMATIC_CHAINS], axis=1)
        self.chain_order = np.argsort(-chain_depth, axis=1)              # (T, 5) far chains first

        # floor patch: a square around the root, so the same polygon in every frame's image
        h = FLOOR_HALF
        corners = np.array([[sx, 0.0, sz] for sx, sz in ((-h, -h), (h, -h), (h, h), (-h, h))])
        floor_cam = (corners + [root[0, 0], self.floor_y, root[0, 2]]) @ self.R.T - self.eye_cam[0]
        if (floor_cam[:, 2] < self.near).any():
            floor_cam = _clip_polygon(floor_cam, self.near)
        self.floor_px = self._px(floor_cam)                              # (P, 2)

        # grid lines at fixed world positions, clipped to the floor patch of each frame
        n = int(round(2 * h / GRID_STEP)) + 2
        segs = []
        for along in (0, 2):  # lines of constant x (along=0), then of constant z (along=2)
            other = 2 - along
            first = np.ceil((root[:, along] - h) / GRID_STEP)            # (T,)
            pos = (first[:, None] + np.arange(n)) * GRID_STEP            # (T, n)
            a = np.empty((T, n, 3))
            a[..., along] = pos
            a[..., 1] = self.floor_y
            b = a.copy()
            a[..., other] = (root[:, other] - h)[:, None]
            b[..., other] = (root[:, other] + h)[:, None]
            inside = pos <= (root[:, along] + h)[:, None] + 1e-9
            a[~inside] = np.nan
            b[~inside] = np.nan
            segs.append((a, b))
        a = np.concatenate([s[0] for s in segs], axis=1)
        b = np.concatenate([s[1] for s in segs], axis=1)
        self.grid_seg = self._segments(self._cam(a), self._cam(b))       # (T, G, 4)

        # trajectory on the floor: camera axes without the eye (subtracted per frame)
        traj = trajectory.copy()
        traj[:, 1] = self.floor_y
        self.traj = traj
        self.traj_rot = traj @ self.R.T                                  # (T, 3)
        self.root_xz = root[:, [0, 2]]

    def _cam(self, points: np.ndarray) -> np.ndarray:
        """World points (T, ..., 3) -> camera coordinates for each frame's eye."""
        shape = (self.T,) + (1,) * (points.ndim - 2) + (3,)
        return points @ self.R.T - self.eye_cam.reshape(shape)

    def _px(self, cam: np.ndarray) -> np.ndarray:
        """Camera coordinates (..., 3) with depth > 0 -> pixel coordinates (..., 2)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.c + self.f * cam[..., 0] / cam[..., 2]
            v = self.c - self.f * cam[..., 1] / cam[..., 2]
        return np.stack([u, v], axis=-1)

    def _segments(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Segments a-b in camera coordinates (..., 3) -> (..., 4) pixels, clipped at the near
        plane; NaN where wholly behind it (or where a or b is NaN)."""
        a, b, visible = _clip_near(a, b, self.near)
        seg = np.concatenate([self._px(a), self._px(b)], axis=-1)
        seg[~visible] = np.nan
        return seg

    def trajectory_segments(self, i: int, spacing: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
        """Pixel segments (M, 4) of the root path inside the floor patch of frame ``i``, and (M,)
        True where the segment is already travelled (it ends at or before frame ``i``).

        Points closer than ``spacing`` pixels along the path to the last one kept are skipped
        (a path sampled at 30 fps is mostly sub-pixel steps); the first and last point of every
        run inside the patch and the current frame's point are always kept."""
        cam = self.traj_rot - self.eye_cam[i]
        inside = (np.abs(self.traj[:, [0, 2]] - self.root_xz[i]) <= FLOOR_HALF).all(axis=1)
        inside &= cam[:, 2] >= self.near
        px = self._px(cam)
        step = np.hypot(*(px[1:] - px[:-1]).T)
        step[~(inside[1:] & inside[:-1])] = 0.0
        bucket = np.floor(np.concatenate([[0.0], np.cumsum(step)]) / spacing)
        edge = np.diff(inside.astype(np.int8)) != 0
        keep = np.concatenate([[True], (bucket[1:] != bucket[:-1]) | edge])
        keep[:-1] |= edge
        keep[[i, -1]] = True
        keep &= inside
        k = np.flatnonzero(keep)
        outside = np.concatenate([[0], np.cumsum(~inside)])               # outside points before each
        joined = outside[k[1:]] == outside[k[:-1]]                         # no point outside between
        seg = np.concatenate([px[k[:-1]], px[k[1:]]], axis=1)[joined]
        return seg, k[1:][joined] <= i
