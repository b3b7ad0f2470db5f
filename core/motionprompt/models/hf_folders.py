"""Finding a pretrained model's local folder: a plain download or the Hugging Face cache layout.

A model folder holds ``config.json`` (and its weights, tokenizer files). Where a description
names ``.../flan-t5-xl``, the folder may be, in the order tried:

1. ``.../flan-t5-xl`` itself (a plain download, ``save_pretrained`` or ``git clone``);
2. ``.../flan-t5-xl`` as a Hugging Face cache *repository* folder (``snapshots/<hash>/``,
   ``refs/main``), e.g. a path given as ``.../models--google--flan-t5-xl``;
3. ``.../flan-t5-xl`` as a Hugging Face cache *root* (``~/.cache/huggingface/hub``, or
   ``$HF_HOME`` with ``hub/`` inside), holding ``models--<org>--<name>`` for the repository;
4. a cache repository folder beside it, ``.../models--<org>--flan-t5-xl`` (what the
   MotionMillion release's ``checkpoints/`` holds: ``models--google--flan-t5-xl``).

In a cache repository the snapshot is the one ``refs/main`` names, else the only one, else the
most recently modified. Nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["find_pretrained_folder", "cache_snapshot"]


def _is_model_folder(p: Path) -> bool:
    return (p / "config.json").is_file()


def cache_snapshot(repo: Path) -> Path | None:
    """The snapshot folder of a Hugging Face cache repository folder (``models--org--name``):
    the one ``refs/main`` names, else the only one, else the newest; None when it has none."""
    snaps = repo / "snapshots"
    if not snaps.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        named = snaps / ref.read_text(encoding="utf-8").strip()
        if named.is_dir():
            return named
    found = sorted((p for p in snaps.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _cache_repos(root: Path, name: str, repo_id: str | None) -> list[Path]:
    """Cache repository folders under a cache root for ``repo_id`` (``org/name``) or for any
    organisation's ``name``; the exact ``repo_id`` first."""
    out = []
    if repo_id:
        out.append(root / ("models--" + repo_id.replace("/", "--")))
    if name and root.is_dir():
        out += sorted(p for p in root.glob(f"models--*--{name}") if p not in out)
    return out


def find_pretrained_folder(path, repo_id: str | None = None, what: str = "model") -> Path:
    """The model folder ``path`` stands for (see the module docstring), or FileNotFoundError
    naming every path tried. ``repo_id`` (``google/flan-t5-xl``) names the repository to look
    for in a cache; without it, any ``models--*--<path's name>``."""
    p = Path(path).expanduser()
    tried: list[Path] = []

    def candidates():
        yield p
        yield cache_snapshot(p), p / "snapshots"
        repo_name = repo_id.split("/")[-1] if repo_id else None
        for root in (p, p / "hub"):
            for repo in _cache_repos(root, repo_name, repo_id):
                yield cache_snapshot(repo), repo / "snapshots"
        beside = _cache_repos(p.parent, p.name, None)
        for repo in beside:
            yield cache_snapshot(repo), repo / "snapshots"
        if not beside:
            yield None, p.parent / f"models--*--{p.name}"

    for c in candidates():
        folder, shown = c if isinstance(c, tuple) else (c, c)
        if folder is not None and _is_model_folder(folder):
            return folder
        shown = folder or shown
        if shown not in tried:
            tried.append(shown)
    raise FileNotFoundError(
        f"{what} folder not found (files are never downloaded); tried: {', '.join(map(str, tried))}. "
        f"Point the model description (TOML) 'text_encoder.path' or --text-encoder-path at a local copy: "
        f"a folder with config.json, or a Hugging Face cache folder (models--org--name with snapshots/)")
