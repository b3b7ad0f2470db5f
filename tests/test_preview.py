"""Skeleton previews (GIF / MP4 / PNG) and the batch gallery, checked against independent facts:
a hand-computed pinhole projection, files read back by Pillow / imageio-ffmpeg, html.parser."""

from __future__ import annotations

import html.parser
import math
import os
import shutil
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from motionprompt.files import formats, preview
from motionprompt.files.gallery import gallery_html, write_gallery
from motionprompt.body.motion import Motion
from motionprompt.body.skeleton import CHAIN_COLORS, DEFAULT_REST_OFFSETS, rest_positions

SPINE = (0, 3, 6, 9, 12, 15)


def walking_joints(T: int = 24) -> np.ndarray:
    """(T, 22, 3) rest skeleton sliding forward along +Z at 1 m/s, legs swinging."""
    rest = rest_positions(DEFAULT_REST_OFFSETS)
    t = np.arange(T) / 30.0
    j = np.repeat(rest[None], T, axis=0)
    j[:, :, 2] += t[:, None]
    j[:, [4, 7, 10], 2] += 0.2 * np.sin(2 * np.pi * t)[:, None]
    j[..., 1] -= j[..., 1].min()
    return j


def ls(folder) -> list[str]:
    return sorted(os.listdir(folder))


# --------------------------------------------------------------------------- the picture

def test_a_point_is_drawn_where_a_hand_computed_pinhole_puts_it():
    # Camera straight in front (azimuth 0, elevation 0): it sits at look + (0, 0, d) looking
    # down -Z, so a point q lands at u = c + f (qx - lx) / depth, v = c - f (qy - ly) / depth,
    # depth = (lz + d) - qz, f = (size / 2) / tan(fov / 2).
    size, d, fov, lh = 480, 2.0, 60.0, 0.5
    j = np.zeros((1, 22, 3))
    spine_pts = np.array([[0.0, 0.0, 0.0], [0.05, 0.12, 0.02], [0.10, 0.24, 0.04],
                          [0.15, 0.36, 0.06], [0.20, 0.48, 0.08], [0.25, 0.60, 0.10]]) + [0.3, 1.0, -0.2]
    j[0, list(SPINE)] = spine_pts
    j[0, [1, 2, 4, 5, 7, 8, 10, 11]] = spine_pts[0] + [0, -0.9, 0]   # legs: a dot far below
    j[0, [13, 14, 16, 17, 18, 19, 20, 21]] = spine_pts[5]             # arms: a dot at the head
    cam = preview.Camera(azimuth_deg=0.0, elevation_deg=0.0, distance=d, fov_deg=fov, look_height=lh)
    frame = preview.render_frame(j, 0, size=size, camera=cam, show_time=False)

    floor_y = j[0, :, 1].min()
    look = np.array([j[0, 0, 0], floor_y + lh, j[0, 0, 2]])
    f = (size / 2) / math.tan(math.radians(fov) / 2)
    q = (spine_pts[1] + spine_pts[2]) / 2                               # on the spine, between joints 3 and 6
    depth = (look[2] + d) - q[2]
    u = size / 2 + f * (q[0] - look[0]) / depth
    v = size / 2 - f * (q[1] - look[1]) / depth
    black = np.array(CHAIN_COLORS[2], float)
    assert np.abs(frame[int(v), int(u)].astype(float) - black).max() < 40
    for du in (-12, 12):  # beside the line: not spine-coloured
        assert np.abs(frame[int(v), int(u) + du].astype(float) - black).max() > 100


def test_camera_centres_its_look_at_point_and_keeps_up_up():
    for az, el in [(30, 22), (-70, 45), (180, 5)]:
        cam = preview.Camera(azimuth_deg=az, elevation_deg=el)
        R = cam.rotation()
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert abs(R[0, 1]) < 1e-12                    # image x axis is horizontal
        assert R[1, 1] > 0                             # world up points up in the image
        # the look-at point is straight ahead at the camera distance
        np.testing.assert_allclose(R @ (-cam.offset()), [0, 0, cam.distance], atol=1e-12)
        # the camera is el degrees above the look-at point
        assert math.isclose(cam.offset()[1], cam.distance * math.sin(math.radians(el)), rel_tol=1e-12)


def test_antialiasing_smooths_the_bones():
    j = walking_joints(2)
    sharp = preview.render_frame(j, 0, size=480, antialias=False, show_time=False)
    smooth = preview.render_frame(j, 0, size=480, antialias=True, show_time=False)
    # anti-aliased edges produce many more distinct colours than the few the picture uses
    def colours(a):
        return len(np.unique(a.reshape(-1, 3), axis=0))
    assert colours(smooth) > 2 * colours(sharp)


def test_unicode_title_is_drawn():
    j = walking_joints(2)
    plain = preview.render_frame(j, 0, size=320, show_time=False)
    titled = preview.render_frame(j, 0, size=320, title="Привет — «вальс» ✓", show_time=False)
    band = slice(0, 30)
    assert (titled[band] < 100).all(axis=2).sum() > 50 and not (plain[band] < 100).all(axis=2).any()


# --------------------------------------------------------------------------- files read back

def test_gif_reads_back_with_every_frame_at_30_fps(tmp_path):
    T, size = 45, 96
    j = walking_joints(T)
    path = preview.render_gif(j, tmp_path / "walk.gif", title="walk", size=size)
    assert ls(tmp_path) == ["walk.gif"]
    with Image.open(path) as im:
        assert im.format == "GIF" and im.size == (size, size) and im.n_frames == T
        assert im.info.get("loop") == 0
        durations, decoded = [], []
        for k in range(T):
            im.seek(k)
            durations.append(im.info["duration"])
            decoded.append(np.asarray(im.convert("RGB"), dtype=float))
    assert sum(durations) == pytest.approx(1000 * T / 30, abs=10)          # 1.5 s
    assert set(durations) <= {30, 40}
    # every decoded frame (the GIF stores only changed rectangles) matches the rendered one
    for k, ref in enumerate(preview.iter_frames(j, size=size, title="walk")):
        assert np.abs(decoded[k] - ref).mean() < 3.0, k


def test_mp4_reads_back_as_h264_yuv420p_30_fps(tmp_path):
    T = 30
    j = walking_joints(T)
    path = preview.render_mp4(j, tmp_path / "walk.mp4", title="walk", size=127)  # odd -> 128
    assert ls(tmp_path) == ["walk.mp4"]
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = [np.frombuffer(b, np.uint8).reshape(128, 128, 3).astype(float) for b in reader]
    assert meta["size"] == (128, 128) and meta["fps"] == pytest.approx(30.0)
    assert meta["codec"].startswith("h264") and meta["pix_fmt"].startswith("yuv420p")
    assert len(frames) == T
    ref = list(preview.iter_frames(j, size=128, title="walk"))
    assert np.abs(frames[T // 2] - ref[T // 2]).mean() < 6.0


def test_one_pass_gives_the_same_gif_as_the_gif_alone(tmp_path):
    j = walking_joints(12)
    preview.render_gif_and_mp4(j, tmp_path / "a.gif", tmp_path / "a.mp4", title="x", size=96)
    preview.render_gif(j, tmp_path / "b.gif", title="x", size=96)
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    assert (tmp_path / "a.mp4").stat().st_size > 0


def test_contact_sheet_tiles_are_the_key_frames(tmp_path):
    T, tile = 40, 96
    j = walking_joints(T)
    path = preview.render_contact_sheet(j, tmp_path / "sheet.png", tile=tile, count=6, columns=3)
    keys = preview.contact_sheet_frames(T, 6)
    assert keys.tolist() == [0, 8, 16, 23, 31, 39]
    with Image.open(path) as im:
        sheet = np.asarray(im.convert("RGB"))
    assert sheet.shape == (2 * tile, 3 * tile, 3)
    for k, i in enumerate(keys):
        r, c = divmod(k, 3)
        ref = preview.render_frame(j, int(i), size=tile)
        got = sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
        inner = (slice(1, -1), slice(1, -1))  # tile separators are drawn on the borders
        assert np.array_equal(got[inner], ref[inner]), k


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("bad, word", [
    (np.full((5, 22, 3), np.nan), "NaN"),
    (np.zeros((0, 22, 3)), "empty"),
    (np.zeros((5, 10, 3)), "shape"),
])
def test_bad_motion_is_a_clear_error_and_leaves_no_file(tmp_path, bad, word):
    for fn, name in ((preview.render_gif, "x.gif"), (preview.render_mp4, "x.mp4"),
                     (preview.render_contact_sheet, "x.png")):
        with pytest.raises(ValueError, match=word):
            fn(bad, tmp_path / name)
    assert ls(tmp_path) == []


def test_nan_in_one_frame_names_the_frame(tmp_path):
    j = walking_joints(10)
    j[7, 3, 1] = np.nan
    with pytest.raises(ValueError, match="frame 7"):
        preview.render_gif(j, tmp_path / "x.gif")
    assert ls(tmp_path) == []


def test_missing_or_unwritable_folder_is_a_clear_error(tmp_path):
    j = walking_joints(3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        preview.render_gif(j, tmp_path / "nope" / "x.gif", size=64)
    if os.geteuid() == 0:
        return  # root writes anywhere; the permission check cannot be exercised
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            preview.render_mp4(j, locked / "x.mp4", size=64)
    finally:
        locked.chmod(0o700)


def test_failure_while_encoding_leaves_nothing_behind(tmp_path, monkeypatch):
    j = walking_joints(10)
    real = preview._Painter.frame

    def flaky(self, i):
        if i == 4:
            raise RuntimeError("boom")
        return real(self, i)

    monkeypatch.setattr(preview._Painter, "frame", flaky)
    import threading

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="boom"):
        preview.render_gif_and_mp4(j, tmp_path / "x.gif", tmp_path / "x.mp4", size=64)
    assert ls(tmp_path) == []
    assert threading.active_count() == before  # the encoder threads ended too


# --------------------------------------------------------------------------- exporters

def test_preview_formats_are_registered_exporters(tmp_path):
    T = 8
    rots = np.repeat(np.eye(3)[None, None], T, axis=0).repeat(22, axis=1)
    root = np.stack([np.zeros(T), np.full(T, 0.95), np.linspace(0, 0.3, T)], axis=1)
    motion = Motion(rots, root, prompt="a person stands still")
    for fmt in ("gif", "mp4", "png"):
        assert fmt in formats.EXPORTERS
    formats.export(motion, "gif", tmp_path / "m.gif", size=64)
    formats.export(motion, "mp4", tmp_path / "m.mp4", size=64)
    formats.export(motion, "png", tmp_path / "m.png", tile=64, count=4)
    with Image.open(tmp_path / "m.gif") as im:
        assert im.n_frames == T and im.size == (64, 64)
    with Image.open(tmp_path / "m.png") as im:
        assert im.size[0] == 4 * 64 and im.size[1] > 64  # a title band above the tiles
    assert ls(tmp_path) == ["m.gif", "m.mp4", "m.png"]


def test_real_clip_renders(real_clip, tmp_path):
    j = real_clip["joints55"][:20]
    preview.render_gif(j, tmp_path / "real.gif", size=96)
    with Image.open(tmp_path / "real.gif") as im:
        assert im.n_frames == 20


# --------------------------------------------------------------------------- gallery

class _Checker(html.parser.HTMLParser):
    """Collects text, images and links; checks that every element is closed in order."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text, self.imgs, self.links, self.errors = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        if tag == "a":
            self.links.append(a.get("href"))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")

    def handle_data(self, data):
        self.text.append(data)


def test_gallery_lists_every_prompt_escaped_with_relative_links(tmp_path):
    (tmp_path / "000").mkdir()
    entries = [
        {"prompt": 'a <script>alert("x")</script> & jump', "gif": tmp_path / "000" / "0_a.gif",
         "mp4": "000/0_a.mp4", "seed": 7, "frames": 150, "timings": {"generate": 1.25, "preview": 0.5},
         "folder": "000", "variant": "original"},
        {"prompt": "walk in a circle — «fast»", "gif": "001/1_walk in a circle.gif", "seed": 8, "length": 60,
         "fps": 30, "error": None},
        {"prompt": "fails", "error": "CUDA out of <memory>"},
    ]
    path = write_gallery(tmp_path, entries)
    assert path == tmp_path / "index.html" and ls(tmp_path) == ["000", "index.html"]
    page = path.read_text(encoding="utf-8")
    assert "<script>" not in page
    chk = _Checker()
    chk.feed(page)
    chk.close()
    assert chk.errors == [] and chk.stack == []
    text = "".join(chk.text)
    for e in entries:
        assert e["prompt"] in text
    assert "seed 7" in text and "150 frames (5.0 s at 30 fps)" in text and "generate 1.25 s" in text
    assert "error: CUDA out of <memory>" in text and "variant: original" in text
    assert [i["src"] for i in chk.imgs] == ["000/0_a.gif", "001/1_walk%20in%20a%20circle.gif"]
    assert chk.imgs[0]["alt"] == entries[0]["prompt"]
    assert "000/0_a.mp4" in chk.links and "000" in chk.links


def test_gallery_rejects_entries_without_prompt(tmp_path):
    with pytest.raises(ValueError, match="prompt"):
        gallery_html(tmp_path, [{"gif": "x.gif"}])


def test_gallery_screenshot_in_headless_chromium(tmp_path):
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)),
                   None)
    if browser is None:
        pytest.skip("no chromium / google-chrome on PATH")
    (tmp_path / "000").mkdir()
    preview.render_gif(walking_joints(6), tmp_path / "000" / "a.gif", size=128)
    page = write_gallery(tmp_path, [{"prompt": "a person walks", "gif": "000/a.gif", "seed": 1, "frames": 6}])
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox", f"--screenshot={shot}",
                    "--window-size=800,600", page.as_uri()], check=True, timeout=120, capture_output=True)
    with Image.open(shot) as im:
        a = np.asarray(im.convert("RGB")).astype(int)
    # the skeleton's red and blue chains show up in the screenshot
    assert ((a[..., 0] > 180) & (a[..., 1] < 80) & (a[..., 2] < 80)).sum() > 10
    assert ((a[..., 2] > 180) & (a[..., 0] < 80)).sum() > 10


def test_run_gallery_from_a_batch_manifest(tmp_path):
    import json

    from motionprompt.files.gallery import write_run_gallery

    recs = [
        {"key": "b", "line": 3, "sample": 0, "prompt": "jump", "seed": 2, "status": "failed",
         "error": "ValueError: bad", "folder": None, "files": []},
        {"key": "a", "line": 1, "sample": 0, "prompt": "walk & wave", "seed": 1, "status": "done", "error": None,
         "folder": "0", "files": ["0_predict.npy", "0_walk & wave.gif", "0_walk & wave.mp4", "1_x.gif"],
         "texts": {"0": "walk & wave", "1": "A person walks and waves."}, "frames": 90,
         "settings": {"fps": 30}, "timings": {"generate_s": 1.5, "write_s": 0.25}},
        {"key": "b", "line": 3, "sample": 0, "prompt": "jump", "seed": 2, "status": "done", "error": None,
         "folder": "1", "files": ["0_jump.gif"], "frames": 60, "settings": {"fps": 30}, "timings": {}},
    ]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n{torn", encoding="utf-8")
    page = write_run_gallery(tmp_path).read_text(encoding="utf-8")
    chk = _Checker()
    chk.feed(page)
    text = "".join(chk.text)
    assert chk.errors == [] and text.index("walk & wave") < text.index("jump")     # by prompt line
    assert [i["src"] for i in chk.imgs] == ["0/0_walk%20%26%20wave.gif", "1/0_jump.gif"]
    assert "rewritten: A person walks and waves." in text and "generate 1.50 s" in text
    assert "error" not in text.split("jump")[1]                                    # the retry succeeded


def test_missing_glyphs_are_detected_and_long_titles_wrap():
    font = preview._font(24, "")
    if "DejaVu" not in str(font.getname()):
        pytest.skip("DejaVu Sans not available")
    # DejaVu Sans spells Latin, Cyrillic and Greek but has no Han characters
    assert preview._missing_glyphs(font, "walk Привет αβ ✓ 東京") == {"東", "京"}
    lines = preview._wrap("a person " * 40, font, 300, max_lines=3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(font.getlength(ln) <= 300 for ln in lines)
    cjk = preview._wrap("東" * 400, font, 300, max_lines=5)   # no spaces: breaks between characters
    assert len(cjk) == 5 and all(font.getlength(ln) <= 300 for ln in cjk)


def test_gif_delays_follow_the_true_frame_times_at_any_fps(tmp_path):
    import threading

    before = threading.active_count()
    for fps, T in ((24.0, 30), (20.0, 7), (29.97, 40)):
        path = preview.render_gif(walking_joints(T), tmp_path / f"{fps}.gif", fps=fps, size=64)
        with Image.open(path) as im:
            ends = np.cumsum([(im.seek(k), im.info["duration"])[1] for k in range(im.n_frames)])
        true_ends = 1000 * np.arange(1, T + 1) / fps
        assert np.abs(ends - true_ends).max() <= 5 + 1e-9            # within half a centisecond
    assert threading.active_count() == before                        # encoder threads are gone


def test_an_encoder_failure_is_raised_and_leaves_nothing(tmp_path):
    with pytest.raises(OSError, match="invalid preset"):
        preview.render_gif_and_mp4(walking_joints(6), tmp_path / "a.gif", tmp_path / "a.mp4", size=64,
                                   preset="no-such-preset")
    assert ls(tmp_path) == []


# --------------------------------------------------------------------------- rasteriser and encoders

def _capsule_coverage(seg, half_width, size, n=8):
    """Independent reference: fraction of n x n sub-samples of each pixel within ``half_width``
    of the segment (brute force over the whole image)."""
    x0, y0, x1, y1 = seg
    s = (np.arange(n) + 0.5) / n
    px = (np.arange(size)[:, None] + s[None]).ravel()                  # sample x (and y) coordinates
    X, Y = np.meshgrid(px, px)
    d = np.array([x1 - x0, y1 - y0])
    L2 = d @ d
    t = np.clip(((X - x0) * d[0] + (Y - y0) * d[1]) / L2, 0, 1) if L2 > 0 else np.zeros_like(X)
    inside = np.hypot(X - x0 - t * d[0], Y - y0 - t * d[1]) <= half_width
    return inside.reshape(size, n, size, n).mean(axis=(1, 3))


@pytest.mark.parametrize("seg, hw", [
    ((5.3, 7.1, 40.8, 19.6), 2.5),     # shallow, thick
    ((12.0, 3.5, 17.2, 44.9), 0.75),   # steep, thin
    ((30.5, 30.5, 30.5, 30.5), 2.0),   # a point: a disc
    ((-20.0, 10.0, 70.0, 35.0), 1.5),  # runs out of the image on both sides
])
def test_segment_coverage_matches_a_supersampled_capsule(seg, hw):
    size = 48
    flat, alpha, _ = preview._segment_pixels(np.array([seg], float), hw, size)
    got = np.zeros(size * size)
    np.maximum.at(got, flat, alpha / preview.ALPHA)
    got = got.reshape(size, size)
    ref = _capsule_coverage(seg, hw, size)
    assert flat.min() >= 0 and flat.max() < size * size
    assert abs(got.sum() - ref.sum()) <= 0.06 * ref.sum() + 0.5       # the same amount of ink
    assert np.abs(got - ref).max() <= 0.35                            # edges: box filter vs exact area
    assert ((ref == 1) <= (got >= 0.75)).all() and ((ref == 0) <= (got <= 0.25)).all()


def test_aliased_segments_cover_only_pixel_centres_inside():
    seg = np.array([[3.2, 4.9, 29.7, 21.3]])
    flat, alpha, _ = preview._segment_pixels(seg, 1.5, 32, antialias=False)
    assert set(alpha.tolist()) == {preview.ALPHA}
    centres = _capsule_coverage(seg[0], 1.5, 32, n=1) > 0                # one sample: the centre
    got = np.zeros(32 * 32, bool)
    got[flat] = True
    assert (got.reshape(32, 32) == centres).mean() > 0.99              # all but ties at the rim


def test_yuv420_planes_follow_bt709_with_2x2_chroma_means():
    p = preview._Painter(walking_joints(3), 96, title="walk")
    idx = p.frame(1)
    y, u, v = preview._to_yuv420(idx)
    rgb = preview._palette()[idx].astype(float) / 255
    Y = 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]
    U = 128 + 224 * (rgb[..., 2] - Y) / 1.8556
    V = 128 + 224 * (rgb[..., 0] - Y) / 1.5748
    def box(a):
        return (a[0::2, 0::2] + a[0::2, 1::2] + a[1::2, 0::2] + a[1::2, 1::2]) / 4
    assert np.abs(np.frombuffer(y, np.uint8).reshape(96, 96) - (16 + 219 * Y)).max() <= 0.5 + 1e-9
    assert np.abs(u - box(U)).max() <= 1 and np.abs(v - box(V)).max() <= 1
    # only the coloured box is looked up: the rest is grey, so the planes are the same
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    y0, y1, x0, x1 = p.colour_box
    outside = np.ones_like(grey)
    outside[y0:y1, x0:x1] = False
    assert grey[outside].all() and not grey.all()
    y2, u2, v2 = preview._to_yuv420(idx, p.colour_box)
    assert y2 == y and np.array_equal(u2, u) and np.array_equal(v2, v)


def test_time_label_from_cached_glyphs_looks_like_pillow_text():
    from PIL import ImageDraw

    font = preview._font(24)
    text = "12.34 s  ·  frame 371/600"
    mask, (dx, dy) = preview._GlyphLine(font).mask(text)
    x0, y0, x1, y1 = font.getbbox(text, anchor="ls")
    ref = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(ref).text((-x0, -y0), text, fill=255, font=font, anchor="ls")
    ref = np.asarray(ref, float)
    assert abs(dx - x0) <= 1 and abs(dy + font.getmetrics()[0]) <= 1
    assert abs(mask.shape[1] - ref.shape[1]) <= 3
    assert abs(mask.astype(float).sum() - ref.sum()) <= 0.03 * ref.sum()   # the same ink


def test_thinned_root_path_keeps_its_ends_and_the_current_frame():
    j = walking_joints(90)
    j[..., 2] -= 0.85 * np.arange(90)[:, None] / 30                  # slowed to 0.15 m/s: sub-pixel steps
    p = preview._Painter(j, 480)
    full = p.scene._px(p.scene.traj_rot - p.scene.eye_cam[40])
    seg, done = p.scene.trajectory_segments(40)
    assert len(seg) < 45                                             # thinned
    np.testing.assert_allclose(seg[0, :2], full[0])
    np.testing.assert_allclose(seg[-1, 2:], full[-1])
    assert np.isclose(seg[done][-1, 2:], full[40]).all()              # travelled part ends at frame 40
    assert np.allclose(seg[1:, :2], seg[:-1, 2:])                     # one connected polyline
    length = np.hypot(*(full[1:] - full[:-1]).T).sum()
    assert np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]).sum() == pytest.approx(length, rel=0.02)


def test_planted_feet_are_marked_under_the_foot():
    """With foot contacts, a dark mark lies on the floor under each planted foot (between the
    projected heel and toe), and only there; without them the frame is as before."""
    j = walking_joints(4)
    plain = preview.render_frame(j, 1, size=480, show_time=False)
    assert np.array_equal(plain, preview.render_frame(j, 1, size=480, show_time=False, contacts=np.zeros((4, 4), bool)))
    left = np.zeros((4, 4), bool)
    left[:, 1] = True  # the left toe down
    marked = preview.render_frame(j, 1, size=480, show_time=False, contacts=left)
    changed = np.argwhere((marked != plain).any(axis=-1))  # (N, 2) rows, columns
    assert len(changed) > 20
    dark = (marked[tuple(changed.T)] < 100).all(axis=-1).mean()
    assert dark > 0.4  # much of it the mark's ink (its anti-aliased edges blend)
    # where the left foot's shadow projects: the changed pixels sit around its heel-to-toe segment
    seg = preview.projection._Scene(j, 480, preview.Camera(), j[:, 0]).foot_seg[1, 0]  # (u0, v0, u1, v1)
    centre = np.array([(seg[1] + seg[3]) / 2, (seg[0] + seg[2]) / 2])
    assert np.linalg.norm(changed.mean(axis=0) - centre) < 6
    both = left.copy()
    both[:, 3] = True
    assert ((preview.render_frame(j, 1, size=480, show_time=False, contacts=both) != plain).any(axis=-1)).sum() > \
        1.5 * len(changed)
    with pytest.raises(ValueError, match="foot contacts"):
        preview.render_frame(j, 1, size=480, contacts=np.zeros((3, 4), bool))


def test_exported_previews_mark_the_contacts_the_foot_lock_found(tmp_path):
    """A motion through the foot lock carries its contacts (meta spans): its PNG sheet shows
    the marks, the same motion without them does not."""
    from motionprompt.postprocess.feet import foot_lock

    from motionprompt_demo import synth

    R, root, joints = synth.render(synth.make_action("walk_forward", {"duration": 1.0, "speed": "slow"}))
    m = Motion(R, root, joints=joints)
    locked = foot_lock(m, mode="off")  # contacts recorded, pose unchanged
    assert locked.meta["contacts"]
    formats.export(locked, "png", tmp_path / "marked.png")
    formats.export(locked.with_(meta={}), "png", tmp_path / "plain.png")
    a, b = (np.asarray(Image.open(tmp_path / f"{n}.png").convert("RGB")) for n in ("marked", "plain"))
    assert a.shape == b.shape and (a != b).any(axis=-1).sum() > 100
