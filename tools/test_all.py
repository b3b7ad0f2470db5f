"""Set up and run every test, on every Blender the add-on supports (the README's test command).

    python3.11 tools/test_all.py

From a fresh clone, at the repository root:

1. ``.venv``: ``pip install torch==2.13.0 -e '.[test]'`` (bpy 5.0.1), as for development.
2. One venv per older Blender line, from each ``test-blenderXY`` extra of pyproject.toml:
   ``.venv-bpyXY`` with ``pip install torch==2.13.0 -e '.[test-blenderXY]'`` (bpy 4.2.x, 4.5.x).
3. The Blender tests (``pytest -m blender``, marked by tests/conftest.py) in each older venv.
4. Every test in ``.venv``, with ``MOTIONPROMPT_ALL_BLENDERS=1``: tests/test_blender_versions.py
   then fails, rather than skips, when a venv of step 2 is missing.

Every step runs even when an earlier test run failed; the exit status is 0 only when every
install and every run passed. The last line totals all runs: ``all: N passed, N failed, N skipped``.
The torch pin takes the CPU wheel from the machine's disk; pip's cache is used as usual.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = "python3.11"
TORCH = "torch==2.13.0"
#: The main venv and its extra (bpy 5.0.1).
MAIN = (".venv", "test")
_SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|skipped|errors?|deselected|xfailed|xpassed).*) in [\d.]+s")
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")


def blender_venvs() -> list[tuple[str, str, str]]:
    """(venv folder, extra, pinned bpy version) for every Blender the tests run on, the main
    venv (5.0.1) first, then each ``test-blenderXY`` extra of pyproject.toml as ``.venv-bpyXY``."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def pin(extra):
        found = [r.split("==", 1)[1] for r in extras[extra] if r.replace(" ", "").startswith("bpy==")]
        if len(found) != 1:
            raise ValueError(f"pyproject.toml: extra {extra!r} pins no single bpy version")
        return found[0]

    out = [(MAIN[0], MAIN[1], pin(MAIN[1]))]
    for extra in sorted(extras):
        m = re.fullmatch(r"test-blender(\d+)", extra)
        if m:
            out.append((f".venv-bpy{m.group(1)}", extra, pin(extra)))
    return out


def _run(cmd: list[str], env: dict | None = None) -> tuple[int, str | None]:
    """Run ``cmd`` at the repository root, its output passed through; (exit status, pytest's
    summary line or None)."""
    print("+ " + " ".join(cmd), flush=True)
    summary = None
    with subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1, errors="replace") as p:
        for line in p.stdout:
            sys.stdout.write(line)
            m = _SUMMARY.match(line.strip())
            if m:
                summary = m.group(1)
        sys.stdout.flush()
    return p.returncode, summary


def setup(venv: str, extra: str) -> int:
    """``python3.11 -m venv VENV && VENV/bin/pip install torch==2.13.0 -e '.[EXTRA]'``."""
    rc, _ = _run([PYTHON, "-m", "venv", venv])
    if rc == 0:
        rc, _ = _run([f"{venv}/bin/pip", "install", TORCH, "-e", f".[{extra}]"])
    return rc


def _counts(rc: int, summary: str | None) -> dict:
    """passed / failed / skipped of one run from its summary line; a failed run that reported
    no failure (it crashed, or collected nothing) counts as one failure."""
    out = {"passed": 0, "failed": 0, "skipped": 0}
    for n, kind in _COUNT.findall(summary or ""):
        key = {"passed": "passed", "xpassed": "passed", "skipped": "skipped", "xfailed": "skipped"}.get(kind, "failed")
        out[key] += int(n)
    if rc != 0 and out["failed"] == 0:
        out["failed"] = 1
    return out


def main() -> int:
    started = time.monotonic()
    venvs = blender_venvs()
    installed, lines = [], []
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for venv, extra, version in venvs:
        t0 = time.monotonic()
        rc = setup(venv, extra)
        lines.append(f"set up {venv} (bpy {version}): {'ok' if rc == 0 else f'FAILED (exit {rc})'}, "
                     f"{time.monotonic() - t0:.0f} s")
        print(f"test_all: {lines[-1]}", flush=True)
        if rc == 0:
            installed.append(venv)
        else:
            totals["failed"] += 1

    runs = [(venv, version, ["-m", "blender"], None) for venv, _extra, version in venvs[1:]]
    runs.append((venvs[0][0], venvs[0][2], [], dict(os.environ, MOTIONPROMPT_ALL_BLENDERS="1")))
    for venv, version, args, env in runs:  # the older Blenders first, every test in .venv last
        if venv not in installed:
            continue
        label = f"{'Blender tests' if args else 'all tests'} on bpy {version}"
        t0 = time.monotonic()
        rc, summary = _run([f"{venv}/bin/python", "-m", "pytest", "-q", *args], env=env)
        for key, n in _counts(rc, summary).items():
            totals[key] += n
        lines.append(f"{label}: {summary or 'no summary'} (exit {rc}, {time.monotonic() - t0:.0f} s)")

    for line in lines:
        print(f"test_all: {line}", flush=True)
    print(f"test_all: {time.monotonic() - started:.0f} s in all", flush=True)
    print(f"all: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped", flush=True)
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
