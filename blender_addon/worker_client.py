"""The add-on's side of ``python -m motionprompt.app.worker``: a child process, JSON lines.

No ``bpy`` here: reader threads only move lines into queues; the modal operator (main thread)
drains them with ``poll``. A crashed worker is reported with the tail of its stderr and
started again on the next request.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["WorkerClient", "WorkerError", "find_python", "interpreter", "probe", "SETUP_HINT"]

#: How to point the add-on at the project's venv (the README's setup section).
SETUP_HINT = ("set Python in the add-on preferences to the project's venv interpreter: "
              "`.venv/bin/python -m motionprompt.app.worker --print-interpreter` prints it")


class WorkerError(RuntimeError):
    """The worker could not start, died, or refused a request (message includes its stderr tail)."""


def interpreter(configured: str = "") -> tuple[str, str]:
    """The interpreter to run the worker and where it came from: the one set in the preferences,
    ``$MOTIONPROMPT_PYTHON``, the project's ``.venv`` beside this add-on's checkout, or this
    (Blender's) Python. A set path that is no file is a ``WorkerError`` naming it, never skipped."""
    for value, source in ((configured, "the add-on preferences"),
                          (os.environ.get("MOTIONPROMPT_PYTHON", ""), "$MOTIONPROMPT_PYTHON")):
        if value.strip():
            path = Path(value.strip()).expanduser()
            if not path.is_file():
                raise WorkerError(f"the Python interpreter {str(path)!r} set in {source} does not exist; "
                                  + SETUP_HINT)
            return str(path), source
    here = Path(__file__).resolve().parent
    for root in (here.parent, here.parent.parent):
        for venv in (root / ".venv" / "bin" / "python", root / ".venv" / "Scripts" / "python.exe"):
            if venv.is_file():
                return str(venv), "the project's .venv"
    return sys.executable, "Blender's own Python (no interpreter set)"


def find_python(configured: str = "") -> str:
    """``interpreter(configured)``'s path."""
    return interpreter(configured)[0]


def _hint(stderr: str) -> str:
    """A setup hint for the usual failure: an interpreter without motionprompt (Blender's own)."""
    return f"\n{SETUP_HINT}" if "No module named 'motionprompt" in stderr else ""


def probe(python: str, model: str = "demo", device: str = "cpu", env: dict | None = None,
          timeout: float = 180.0) -> dict:
    """Run ``python -m motionprompt.app.worker --probe`` (versions, GPUs, whether the model loads)
    and return its JSON; a ``WorkerError`` with its stderr tail when it cannot say."""
    cmd = [python, "-m", "motionprompt.app.worker", "--probe", "--model", model, "--device", device]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", timeout=timeout,
                           env=dict(os.environ, **(env or {})))
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WorkerError(f"cannot run {python!r}: {e}") from e
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = "\n".join(p.stderr.strip().splitlines()[-6:])
        raise WorkerError(f"{python} cannot run the worker (exit status {p.returncode}):\n{tail}{_hint(p.stderr)}")
    return json.loads(lines[-1])


class WorkerClient:
    """One persistent worker process.

    Args:
        python: interpreter that can ``import motionprompt`` (with torch).
        model: model name or TOML path; device: "cpu" / "cuda"...
        env: extra environment variables (tests inject a fake generator this way).
        offload_text_encoder: the worker keeps the text encoder off the GPU between encodings.
    """

    def __init__(self, python: str, model: str = "demo", device: str = "cpu", env: dict | None = None,
                 offload_text_encoder: bool = False):
        self.python, self.model, self.device = python, model, device
        self.offload_text_encoder = bool(offload_text_encoder)
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.messages: queue.Queue = queue.Queue()
        self.stderr_lines: collections.deque = collections.deque(maxlen=40)
        self.ready = False
        self.info: dict = {}

    # -- process
    def start(self) -> None:
        if self.alive():
            return
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        cmd = [self.python, "-m", "motionprompt.app.worker", "--model", self.model, "--device", self.device]
        if self.offload_text_encoder:
            cmd.append("--offload-text-encoder")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, encoding="utf-8", bufsize=1, env=env)
        except OSError as e:
            raise WorkerError(f"cannot start the worker with {self.python!r}: {e}; set the Python interpreter "
                              "in the add-on preferences to one that has motionprompt and torch") from e
        self.ready = False
        self.messages = queue.Queue()
        self.stderr_lines.clear()
        threading.Thread(target=self._read_stdout, args=(self.proc, self.messages), daemon=True).start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._stderr_reader.start()

    def _read_stdout(self, proc, messages) -> None:
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                self.stderr_lines.append(f"[stdout] {line.rstrip()}")
                continue
            messages.put(msg)
        messages.put({"type": "exit"})

    def _read_stderr(self, proc) -> None:
        for line in proc.stderr:
            self.stderr_lines.append(line.rstrip())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, n: int = 12) -> str:
        return "\n".join(list(self.stderr_lines)[-n:])

    def died_message(self) -> str:
        code = None
        if self.proc is not None:
            try:
                code = self.proc.wait(timeout=2.0)  # its stdout closed: it is exiting
            except subprocess.TimeoutExpired:
                pass
        if code is not None and getattr(self, "_stderr_reader", None) is not None:
            self._stderr_reader.join(timeout=2.0)  # its last words are the useful part
        tail = self.stderr_tail()
        return (f"the generation worker ({self.python}) exited (code {code})" + (f":\n{tail}" if tail else "")
                + _hint(tail))

    def stop(self, timeout: float = 3.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None
        self.ready = False

    # -- messages
    def send(self, msg: dict) -> None:
        if not self.alive():
            raise WorkerError(self.died_message())
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError) as e:
            raise WorkerError(self.died_message()) from e

    def poll(self) -> list[dict]:
        """Every reply received so far (non-blocking); ``ready`` is recorded, ``exit`` means it died."""
        out = []
        while True:
            try:
                msg = self.messages.get_nowait()
            except queue.Empty:
                return out
            if msg.get("type") == "ready":
                self.ready, self.info = True, msg
            out.append(msg)
