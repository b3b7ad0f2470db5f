"""Build the installable Blender extension zip (Edit > Preferences > Get Extensions > Install from Disk).

    python tools/build_addon.py [-o dist/motionprompt-0.1.0.zip] [--wheel some-package.whl ...]

The zip holds ``blender_addon/`` at its top level (``blender_manifest.toml`` first) plus the
pure-Python parts of ``motionprompt`` that keying, loading and exporting need, under
``vendor/motionprompt`` (no torch: generation runs in the worker, or in Blender's Python when
torch is there). That core needs only numpy, which every Blender ships. Extra wheels can still
be bundled with ``--wheel``; they are listed in the manifest and Blender installs them with the
extension.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "blender_addon"
PACKAGE = REPO / "core" / "motionprompt"
#: The motionprompt sub-packages the add-on imports (and what they import), none of them with torch.
VENDORED_PACKAGES = ("body", "files", "postprocess")
VENDORED_MODULES = ("__init__.py", "atomic.py", "request.py")
VENDORED_DATA = ("data/NOTICE.md", "data/motionmillion_mean.npy", "data/motionmillion_std.npy")


def _addon_files() -> list[Path]:
    return sorted(p for p in ADDON.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix != ".pyc" and "vendor" not in p.relative_to(ADDON).parts)


def _vendored_files() -> list[Path]:
    """``VENDORED_MODULES``, ``VENDORED_DATA`` and every source file of ``VENDORED_PACKAGES``."""
    files = [PACKAGE / name for name in VENDORED_MODULES + VENDORED_DATA]
    for sub in VENDORED_PACKAGES:
        files += sorted(p for p in (PACKAGE / sub).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def _version() -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (ADDON / "blender_manifest.toml").read_text(), re.MULTILINE)
    return m.group(1) if m else "0.0.0"


def manifest_with_wheels(text: str, wheels: list[str]) -> str:
    """The manifest text with a ``wheels = [...]`` entry (top-level key, before any table)."""
    if not wheels:
        return text
    entry = "wheels = [" + ", ".join(f'"./wheels/{w}"' for w in wheels) + "]\n"
    first_table = re.search(r"^\[", text, re.MULTILINE)
    cut = first_table.start() if first_table else len(text)
    return text[:cut] + entry + "\n" + text[cut:]


def build(out: Path, wheels: list[Path] = ()) -> Path:
    """Write the zip to ``out`` atomically; returns ``out``."""
    sys.path.insert(0, str(REPO / "core"))
    from motionprompt.atomic import atomic_path

    for name in VENDORED_PACKAGES:
        if not (PACKAGE / name / "__init__.py").is_file():
            raise FileNotFoundError(f"{PACKAGE / name} is missing: the add-on zip needs it (run from a full checkout)")
    for name in VENDORED_DATA:
        if not (PACKAGE / name).is_file():
            raise FileNotFoundError(f"{PACKAGE / name} is missing: the add-on zip needs it (run from a full checkout)")
    for w in wheels:
        if not Path(w).is_file() or Path(w).suffix != ".whl":
            raise FileNotFoundError(f"{w}: not a wheel file")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        manifest = manifest_with_wheels((ADDON / "blender_manifest.toml").read_text(), [Path(w).name for w in wheels])
        z.writestr("blender_manifest.toml", manifest)
        for f in _addon_files():
            rel = f.relative_to(ADDON).as_posix()
            if rel != "blender_manifest.toml":
                z.write(f, rel)
        z.writestr("vendor/__init__.py", '"""Pure-Python parts of motionprompt carried by the add-on."""\n')
        for f in _vendored_files():
            z.write(f, f"vendor/motionprompt/{f.relative_to(PACKAGE).as_posix()}")
        for w in wheels:
            z.write(w, f"wheels/{Path(w).name}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", type=Path, default=None, help="zip path (default dist/motionprompt-<version>.zip)")
    p.add_argument("--wheel", type=Path, action="append", default=[], help="a wheel to bundle (repeatable)")
    args = p.parse_args(argv)
    out = args.output or REPO / "dist" / f"motionprompt-{_version()}.zip"
    try:
        build(out, args.wheel)
    except (FileNotFoundError, OSError) as e:
        print(f"build_addon: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
