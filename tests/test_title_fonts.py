"""Preview titles in any script: a font that covers the prompt's characters, else those
characters (or the whole title) left out with a warning, never drawn as boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from motionprompt.files.preview import text as T

CJK = "一个人向前走"
BOX = "\U000F0000"  # a private-use code point: every font draws its missing-glyph box for it


@pytest.fixture
def dejavu_only(monkeypatch):
    """Only the Latin/Cyrillic DejaVu Sans, as on a machine without CJK fonts."""
    files = tuple(f for f in T._font_files() if Path(f).name == "DejaVuSans.ttf")[:1]
    if not files:
        pytest.skip("no DejaVu Sans here")
    monkeypatch.setattr(T, "_font_files", lambda: files)
    T._font_and_missing.cache_clear()
    yield
    T._font_and_missing.cache_clear()


def test_uncovered_characters_are_left_out_never_boxed(dejavu_only):
    assert T.uncovered(CJK) == frozenset(CJK)
    assert T.legible(CJK) == "" and T._text_mask(CJK, 320, 20) is None
    assert "title was left out" in T.title_warning(CJK)
    # a mixed title draws exactly the letters a font has: the same pixels as the Latin part alone
    mixed = np.asarray(T._text_mask(f"walk {CJK}", 320, 20))
    assert np.array_equal(mixed, np.asarray(T._text_mask("walk", 320, 20)))
    assert "leaves out 6 character(s)" in T.title_warning(f"walk {CJK}")
    assert T.title_warning("walk forward") is None


def test_a_covering_font_draws_cjk_glyphs_not_boxes():
    font, missing = T._font_and_missing(20, CJK)
    if missing:
        pytest.skip("no font covering CJK here (Blender's bpy or a Noto CJK font installs one)")
    box = font.getmask(BOX)
    for ch in CJK:  # each glyph has ink, and is not the box
        m = font.getmask(ch)
        assert sum(bytes(m)) > 0 and (m.size, bytes(m)) != (box.size, bytes(box))
    assert T.title_warning(CJK) is None and np.asarray(T._text_mask(CJK, 320, 20)).max() == 255


def test_batch_records_the_title_warning(dejavu_only, tmp_path):
    from motionprompt.app.batch import make_jobs, run_jobs
    from motionprompt.app.rundir import RunDir
    from fake_generator import FakeGenerator
    from motionprompt.request import GenerateRequest

    def generate(texts, seeds):
        return FakeGenerator("fake", "cpu").generate(GenerateRequest(texts, seeds=seeds, seconds=0.3))

    logged = []
    run_jobs(make_jobs([(1, f"a man walks {CJK}")], 0), RunDir(tmp_path, "t"), generate, {}, log=logged.append)
    rec = json.loads((tmp_path / "t" / "manifest.jsonl").read_text())
    assert rec["status"] == "done", rec["error"]
    assert any("preview title leaves out 6" in w for w in rec["warnings"])
    assert any(m.startswith("line 1: warning: the preview title") for m in logged)
