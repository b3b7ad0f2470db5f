"""Finding a T5 folder: a plain download, the release's Hugging Face cache layout
(``checkpoints/models--google--flan-t5-xl/snapshots/<hash>/``), a cache folder given directly;
every path tried named when none fits. Fake layouts: a ``config.json`` marks a model folder."""

from __future__ import annotations

import os

import pytest

from motionprompt.models.hf_folders import cache_snapshot, find_pretrained_folder
from motionprompt.models.model_spec import ModelSpec


def _model(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def _cache_repo(root, repo="models--google--flan-t5-xl", snaps=("abc123",), main=None):
    repo_dir = root / repo
    out = [_model(repo_dir / "snapshots" / h) for h in snaps]
    if main is not None:
        (repo_dir / "refs").mkdir(parents=True)
        (repo_dir / "refs" / "main").write_text(main + "\n")
    return repo_dir, out


def test_plain_folder_is_taken_as_is(tmp_path):
    plain = _model(tmp_path / "checkpoints" / "flan-t5-xl")
    _cache_repo(tmp_path / "checkpoints")  # a cache beside it: the plain folder still wins
    assert find_pretrained_folder(plain, "google/flan-t5-xl") == plain


def test_the_releases_cache_layout_beside_the_named_folder(tmp_path, monkeypatch):
    ck = tmp_path / "checkpoints"
    _, (a, b) = _cache_repo(ck, snaps=("aaa", "bbb"), main="aaa")
    os.utime(a, (1, 1))  # refs/main wins over the newer snapshot
    assert find_pretrained_folder(ck / "flan-t5-xl", "google/flan-t5-xl") == a
    monkeypatch.setenv("MOTIONPROMPT_CHECKPOINTS", str(ck))
    spec = ModelSpec.load("motionmillion-3b")
    assert find_pretrained_folder(spec.text_encoder["path"], "google/flan-t5-xl") == a


def test_snapshot_choice_without_refs(tmp_path):
    repo, (old, new) = _cache_repo(tmp_path, snaps=("old", "new"))
    os.utime(old, (1000, 1000))
    os.utime(new, (2000, 2000))
    assert cache_snapshot(repo) == new  # the newest
    repo1, (only,) = _cache_repo(tmp_path, repo="models--x--y")
    (repo1 / "refs").mkdir()
    (repo1 / "refs" / "main").write_text("deadbeef")  # names a snapshot that is not there
    assert cache_snapshot(repo1) == only
    assert cache_snapshot(tmp_path / "nothing") is None


def test_cache_folders_given_directly(tmp_path):
    hub = tmp_path / "hf" / "hub"
    repo, (snap,) = _cache_repo(hub)
    _cache_repo(hub, repo="models--google--flan-t5-xxl")
    assert find_pretrained_folder(repo, "google/flan-t5-xl") == snap  # the repository folder
    assert find_pretrained_folder(hub, "google/flan-t5-xl") == snap  # the cache root
    assert find_pretrained_folder(tmp_path / "hf", "google/flan-t5-xl") == snap  # $HF_HOME (hub/ inside)
    xxl = find_pretrained_folder(hub, "google/flan-t5-xxl")
    assert xxl.parts[-3] == "models--google--flan-t5-xxl"


def test_error_names_every_path_tried(tmp_path):
    ck = tmp_path / "checkpoints"
    repo = ck / "models--google--flan-t5-xl"
    (repo / "snapshots" / "partial").mkdir(parents=True)  # an interrupted download: no config.json
    with pytest.raises(FileNotFoundError) as e:
        find_pretrained_folder(ck / "flan-t5-xl", "google/flan-t5-xl", what="T5 text encoder")
    msg = str(e.value)
    for p in (ck / "flan-t5-xl", ck / "flan-t5-xl" / "models--google--flan-t5-xl" / "snapshots",
              ck / "flan-t5-xl" / "hub" / "models--google--flan-t5-xl" / "snapshots", repo / "snapshots" / "partial"):
        assert str(p) in msg, p
    assert "never downloaded" in msg and "T5 text encoder" in msg
    with pytest.raises(FileNotFoundError, match=r"models--\*--flan-t5-xl"):
        find_pretrained_folder(tmp_path / "nowhere" / "flan-t5-xl")


def test_the_command_line_names_the_paths_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from motionprompt.app.cli import main

    monkeypatch.setenv("MOTIONPROMPT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    out = tmp_path / "out"
    assert main(["generate", "a man walks", "--model", "motionmillion-3b", "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "tried:" in err and str(tmp_path / "checkpoints" / "flan-t5-xl") in err and "Traceback" not in err
    assert not out.exists()
