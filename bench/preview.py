"""Benchmark: skeleton preview GIF + MP4, the release's way (matplotlib 3D) vs motionprompt.files.preview.

    .venv/bin/python bench/preview.py [--frames 300] [--size 960] [--release-frames N]

The release-style renderer draws each frame with a fresh matplotlib 3D figure (floor plane,
root trajectory, five chains, root recentred), keeps all frames, saves the GIF with imageio,
then re-encodes the GIF to MP4 (what moviepy's VideoFileClip(gif).write_videofile does: ffmpeg
decodes the GIF, libx264 preset medium encodes it). Ours renders once and streams to both.
``--release-frames N`` times the release's renderer on N frames only and scales its frame loop to the
full length (the encode steps are still timed on real frames). Needs matplotlib (the ``bench``
extra); without it only our timings are printed. Prints figures, never fails.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from motionprompt.files import preview
from motionprompt.body.skeleton import KINEMATIC_CHAINS

REAL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "clip000000_joints55.npy"


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def sample_joints(T: int) -> tuple[np.ndarray, str]:
    """(T, 22, 3) joints: the real clip when present, else a synthetic walk."""
    if REAL.is_file():
        return np.load(REAL)[:T, :22].astype(np.float64), f"real clip {REAL.name}[:{T}, :22]"
    from motionprompt.body.skeleton import DEFAULT_REST_OFFSETS, rest_positions

    rest = rest_positions(DEFAULT_REST_OFFSETS)
    t = np.arange(T) / 30.0
    j = np.repeat(rest[None], T, axis=0)
    j[:, :, 2] += 1.2 * t[:, None]                                      # walk along +Z
    j[:, [4, 7, 10], 2] += 0.15 * np.sin(2 * np.pi * t)[:, None]        # swing the legs
    j[:, [5, 8, 11], 2] -= 0.15 * np.sin(2 * np.pi * t)[:, None]
    j[..., 1] -= j[..., 1].min()
    return j, "synthetic walk"


def seed_style_frames(joints: np.ndarray, title: str, size: int):
    """Yield RGBA frames drawn like the release: a new matplotlib 3D figure per frame.

    (RGBA matters: imageio / Pillow quantize RGBA frames with the fast octree method, about 4x
    faster than RGB frames, so this keeps the release's GIF step as fast as it really is.)"""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    data = joints.copy()
    mins, maxs = data.min(axis=(0, 1)), data.max(axis=(0, 1))
    data[..., 1] -= mins[1]
    traj = data[:, 0, [0, 2]].copy()
    data[..., 0] -= data[:, 0:1, 0]
    data[..., 2] -= data[:, 0:1, 2]
    colours = ["red", "blue", "black", "red", "blue"]
    dpi = 96
    for i in range(len(data)):
        fig = plt.figure(figsize=(size / dpi, size / dpi), dpi=dpi)
        fig.suptitle("\n".join(textwrap.wrap(title, 40)), fontsize=16)
        ax = fig.add_subplot(projection="3d")
        ax.set_xlim(-2, 2)
        ax.set_ylim(-2, 2)
        ax.set_zlim(0, 2)
        ax.view_init(elev=110, azim=-90)
        x0, x1 = mins[0] - traj[i, 0], maxs[0] - traj[i, 0]
        z0, z1 = mins[2] - traj[i, 1], maxs[2] - traj[i, 1]
        plane = Poly3DCollection([[[x0, 0, z0], [x0, 0, z1], [x1, 0, z1], [x1, 0, z0]]])
        plane.set_facecolor((0.5, 0.5, 0.5, 0.5))
        ax.add_collection3d(plane)
        if i > 1:
            ax.plot3D(traj[:i, 0] - traj[i, 0], np.zeros(i), traj[:i, 1] - traj[i, 1], linewidth=1.0, color="blue")
        for chain, colour in zip(KINEMATIC_CHAINS, colours):
            c = list(chain)
            ax.plot3D(data[i, c, 0], data[i, c, 1], data[i, c, 2], linewidth=4.0, color=colour)
        ax.set_axis_off()
        buf = io.BytesIO()
        fig.savefig(buf, format="raw", dpi=dpi)
        w, h = (int(v) for v in fig.bbox.bounds[2:])
        plt.close(fig)
        yield np.frombuffer(buf.getvalue(), np.uint8).reshape(h, w, -1)  # RGBA, as the release keeps it


def seed_style(joints: np.ndarray, title: str, size: int, out: Path, release_frames: int) -> dict:
    import imageio
    import imageio_ffmpeg

    n = min(release_frames, len(joints))
    c0, t0 = cpu_seconds(), time.perf_counter()
    frames = list(seed_style_frames(joints[:n], title, size))
    t_draw = (time.perf_counter() - t0) * len(joints) / n
    c_draw = (cpu_seconds() - c0) * len(joints) / n
    c0 = cpu_seconds()
    frames = [frames[k % n] for k in range(len(joints))]  # the full length for the encoders
    t0 = time.perf_counter()
    gif = out / "release.gif"
    imageio.mimsave(gif, frames, duration=1000 / 30, loop=0)
    t_gif = time.perf_counter() - t0
    t0 = time.perf_counter()
    reader = imageio_ffmpeg.read_frames(str(gif))
    meta = reader.__next__()
    writer = imageio_ffmpeg.write_frames(str(out / "release.mp4"), meta["size"], fps=30, codec="libx264",
                                         output_params=["-preset", "medium"], macro_block_size=2)
    writer.send(None)
    for fr in reader:
        writer.send(fr)
    writer.close()
    t_mp4 = time.perf_counter() - t0
    return {"draw": t_draw, "gif": t_gif, "mp4": t_mp4, "total": t_draw + t_gif + t_mp4,
            "cpu": c_draw + cpu_seconds() - c0, "extrapolated": n < len(joints)}


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds incl. ffmpeg) of ``fn()``."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu_seconds() - c0


def ours_both(joints: np.ndarray, title: str, size: int, out: Path, repeat: int) -> list[tuple[float, float]]:
    """(wall, CPU) of ``repeat`` runs of our GIF+MP4 in one pass."""
    return [timed(lambda: preview.render_gif_and_mp4(joints, out / "ours.gif", out / "ours.mp4", title=title,
                                                      size=size)) for _ in range(repeat)]


def per_thread(joints: np.ndarray, title: str, size: int, out: Path) -> dict:
    """CPU seconds of each stage of one GIF+MP4 run, in the thread that runs it: drawing (main
    thread), GIF (its worker: changed rectangle + LZW), MP4 feed (its worker: yuv420p + pipe),
    and ffmpeg (x264, its own threads). With a free core per stage the wall-clock time would
    approach the largest of the first three and ffmpeg's CPU over its threads."""
    spent = {"draw": 0.0, "gif": 0.0, "mp4 feed": 0.0}
    originals = []

    def account(cls, name, key):
        orig = getattr(cls, name)
        originals.append((cls, name, orig))

        def timed_call(self, *a, **k):
            t = time.thread_time()
            try:
                return orig(self, *a, **k)
            finally:
                spent[key] += time.thread_time() - t
        setattr(cls, name, timed_call)

    account(preview._Painter, "frame", "draw")
    account(preview._GifStream, "write", "gif")
    account(preview._Mp4Stream, "write", "mp4 feed")
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        preview.render_gif_and_mp4(joints, out / "threads.gif", out / "threads.mp4", title=title, size=size)
    finally:
        for cls, name, orig in originals:
            setattr(cls, name, orig)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent["ffmpeg"] = after.ru_utime + after.ru_stime - kids.ru_utime - kids.ru_stime
    return spent


def ours(joints: np.ndarray, title: str, size: int, out: Path, repeat: int = 3) -> dict:
    """Our GIF+MP4 in one pass (median of ``repeat`` runs), then the parts alone."""
    runs = ours_both(joints, title, size, out, repeat)
    both, cpu = (float(np.median(v)) for v in zip(*runs))

    def draw():  # the frames as the encoders get them (palette indices), nothing encoded
        for _ in preview._Painter(joints, size, title).frames():
            pass

    return {"total": both, "cpu": cpu, "runs": runs,
            "gif_only": timed(lambda: preview.render_gif(joints, out / "ours_only.gif", title=title, size=size)),
            "mp4_only": timed(lambda: preview.render_mp4(joints, out / "ours_only.mp4", title=title, size=size)),
            "draw": timed(draw),
            "png": timed(lambda: preview.render_contact_sheet(joints, out / "ours.png", title=title)),
            "threads": per_thread(joints, title, size, out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", type=int, default=960)
    ap.add_argument("--release-frames", type=int, default=None, help="time the release's renderer on fewer frames")
    ap.add_argument("--repeat", type=int, default=3, help="runs of ours (median reported)")
    args = ap.parse_args()
    joints, what = sample_joints(args.frames)
    title = "a person walks forward, turns around, then waves with the right hand"
    print(f"motion: {what}, {len(joints)} frames, {args.size}x{args.size}, GIF + MP4")
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        o = ours(joints, title, args.size, out, max(1, args.repeat))
        sizes = {p.name: p.stat().st_size for p in out.iterdir()}
        print(f"ours:  GIF+MP4 {o['total']:.2f} s wall, {o['cpu']:.2f} s CPU incl. ffmpeg (median of {args.repeat}) "
              f"({len(joints) / o['total']:.0f} frames/s); GIF {sizes['ours.gif'] / 1e6:.1f} MB, "
              f"MP4 {sizes['ours.mp4'] / 1e6:.2f} MB")
        print("       alone (wall / CPU s): " + ", ".join(f"{k} {o[k][0]:.2f} / {o[k][1]:.2f}" for k in
                                                          ("draw", "gif_only", "mp4_only", "png")))
        stages = ", ".join(f"{k} {v:.2f}" for k, v in o["threads"].items())
        print(f"       CPU by stage in one GIF+MP4 run (s): {stages} (each in its own thread or process)")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("release-style: matplotlib not installed (pip install -e .[bench]); ratio not measured")
            return
        s = seed_style(joints, title, args.size, out, args.release_frames or len(joints))
        # the load of a shared machine drifts: ours again after the release's, median of all runs
        runs = o["runs"] + ours_both(joints, title, args.size, out, max(1, args.repeat))
        o["total"], o["cpu"] = (float(np.median(v)) for v in zip(*runs))
        print(f"ours again after it: GIF+MP4 median of {len(runs)} runs before and after: {o['total']:.2f} s wall, "
              f"{o['cpu']:.2f} s CPU")
        note = " (frame loop extrapolated)" if s["extrapolated"] else ""
        print(f"release-style matplotlib: {s['total']:.2f} s wall{note} = draw {s['draw']:.2f} + GIF {s['gif']:.2f} "
              f"+ GIF->MP4 {s['mp4']:.2f}; {s['cpu']:.2f} s CPU; GIF {(out / 'release.gif').stat().st_size / 1e6:.1f} MB")
        print(f"speed-up GIF+MP4: {s['total'] / o['total']:.1f}x wall-clock, {s['cpu'] / o['cpu']:.1f}x CPU time "
              f"(target >= 20x; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
