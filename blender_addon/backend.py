"""Where generation runs: inside Blender's Python, or in a persistent worker process.

Both backends speak the worker's reply protocol (``motionprompt.app.worker``: progress / result /
cancelled / error dicts), so the operators handle one message shape:

- ``InProcessBackend``: Blender's Python imports torch and the model stack (e.g. the ``bpy``
  module inside the project's .venv). The model is loaded once and kept; a job runs on a
  plain thread that never touches ``bpy``; the modal operator polls its replies. Its result
  entries carry the ``Motion`` objects themselves (``"motion"``): nothing is written to disk.
- ``WorkerBackend``: ``python -m motionprompt.app.worker`` started with the interpreter from the
  preferences; a dead worker is reported with its stderr tail and restarted on the next request.

``run_sync`` is the headless path (``blender -b``, the ``bpy`` module): no timers fire there,
so it blocks until the result arrives.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time

from .worker_client import WorkerClient, WorkerError

__all__ = ["Backend", "InProcessBackend", "WorkerBackend", "BusyError", "GenerationError", "get_backend",
           "shutdown_backend", "result_motion", "backend_kind", "probe_backend", "IN_BLENDER_MISSING"]

#: Why "In Blender" cannot generate in a Blender whose Python lacks torch (the zip's vendored core).
IN_BLENDER_MISSING = ("'In Blender' needs torch and the full motionprompt package in Blender's own Python, "
                      "which this Blender lacks; choose 'Worker process' (or Automatic) as the backend in the "
                      "add-on preferences")

_ids = itertools.count(1)


class BusyError(RuntimeError):
    """A generation is already running."""


class GenerationError(RuntimeError):
    """A generation failed (the message says why)."""


def result_motion(item: dict, model: str = ""):
    """The ``Motion`` of one result entry: ``item["motion"]`` (in-process) through its float32
    272-dim frames, as the worker process' file would give it (the 272 form puts frame 0's pelvis
    at x = z = 0 and the floor at 0), so both backends give one motion; else the file at
    ``item["path"]``. Seed, source, action segments, warnings and caption matches come from the
    entry."""
    from .core import Motion, formats
    from .history import frames_272

    src = item.get("motion")
    if src is not None:
        m = Motion.from_272(frames_272(src), fps=float(src.fps),
                            prompt=src.prompt, seed=src.seed, source=src.source)
        m.meta = dict(src.meta)
    else:
        m = formats.load_motion(item["path"], fps=float(item.get("fps", 30.0)), prompt=item.get("prompt", ""))
    m.seed = item.get("seed", m.seed)
    m.source = item.get("source") or m.source or model
    for key in ("segments", "warnings", "caption_rewrite"):
        if item.get(key):
            m.meta[key] = item[key]
    return m


class Backend:
    """Common bookkeeping: one job at a time, request ids, reply routing. ``offload``: the text
    encoder stays off the GPU between encodings (the worker's ``--offload-text-encoder``)."""

    kind = "base"

    def __init__(self, model: str, device: str, offload: bool = False):
        self.model, self.device, self.offload = model, device, bool(offload)
        self.job: str | None = None

    def _where(self) -> str:
        """The device, and the offload when on (for status lines)."""
        return self.device + (", text encoder offloaded" if self.offload else "")

    @property
    def busy(self) -> bool:
        return self.job is not None

    def new_request(self, request) -> dict:
        """The worker message for a ``GenerateRequest`` (validated by the caller)."""
        if self.busy:
            raise BusyError("a generation is already running; wait for it or press Esc to cancel it")
        return {"cmd": "generate", "id": f"g{next(_ids)}", **request.to_json()}

    def _track(self, msgs: list[dict]) -> list[dict]:
        for m in msgs:
            if m.get("type") in ("result", "cancelled", "error", "exit") and (m.get("id") in (None, self.job)):
                if m.get("type") != "error" or m.get("id") == self.job or m.get("fatal"):
                    self.job = None
        return msgs

    def run_sync(self, request, timeout: float = 3600.0, progress=None) -> dict:
        """Generate ``request`` and wait (headless). Returns the ``result`` reply; raises
        GenerationError."""
        req = self.submit(request)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.wait_messages(0.2):
                if m.get("id") not in (None, req["id"]):
                    continue
                kind = m.get("type")
                if kind == "progress" and progress is not None:
                    progress(m["step"], m["total"])
                elif kind == "result":
                    return m
                elif kind == "cancelled":
                    raise GenerationError("generation cancelled")
                elif kind in ("error", "exit"):
                    raise GenerationError(m.get("message", "generation failed"))
        self.cancel()
        raise GenerationError(f"no result within {timeout:.0f} s")

    # subclasses: submit(request) -> message, poll() -> [replies], wait_messages(t), cancel(), status(), shutdown()


class InProcessBackend(Backend):
    kind = "in-process"

    def __init__(self, model: str, device: str, offload: bool = False):
        super().__init__(model, device, offload)
        self.replies: queue.Queue = queue.Queue()
        self.worker = None  # core.in_process_worker, built with the model on first use
        self.loaded = False

    def status(self) -> str:
        state = "busy" if self.busy else ("model loaded" if self.loaded else "model loads on first Generate")
        return f"in Blender's Python ({self._where()}): {state}"

    def submit(self, request) -> dict:
        req = self.new_request(request)
        self.job = req["id"]
        threading.Thread(target=self._run, args=(req,), daemon=True).start()
        return req

    def _run(self, req: dict) -> None:
        try:
            if self.worker is None:
                from .core import has_generator, in_process_worker

                if not has_generator():
                    raise GenerationError(IN_BLENDER_MISSING)

                self.worker = in_process_worker(self.model, self.device, self.replies.put, self.offload)
                self.loaded = True
            # the motions stay in memory: the add-on packs them into the .blend (history)
            self.replies.put(self.worker.run_job(req, write_files=False))
        except GenerationError as e:
            self.replies.put({"type": "error", "id": req["id"], "message": str(e)})
        except Exception as e:  # noqa: BLE001 - reported to the operator
            self.replies.put({"type": "error", "id": req["id"], "message": f"{type(e).__name__}: {e}"})

    def poll(self) -> list[dict]:
        out = []
        while True:
            try:
                out.append(self.replies.get_nowait())
            except queue.Empty:
                return self._track(out)

    def wait_messages(self, timeout: float) -> list[dict]:
        try:
            first = self.replies.get(timeout=timeout)
        except queue.Empty:
            return []
        return self._track([first]) + self.poll()

    def cancel(self) -> None:
        if self.worker is not None and self.job is not None:
            self.worker.cancel(self.job)

    def shutdown(self) -> None:
        self.cancel()


class WorkerBackend(Backend):
    kind = "worker"

    def __init__(self, model: str, device: str, python: str, env: dict | None = None, offload: bool = False):
        super().__init__(model, device, offload)
        self.client = WorkerClient(python, model, device, env, offload)
        self.last_error = ""

    def status(self) -> str:
        if not self.client.alive():
            return "worker: not running (starts on Generate)" + (f"; last error: {self.last_error}"
                                                                 if self.last_error else "")
        state = "busy" if self.busy else ("ready" if self.client.ready else "loading the model")
        return f"worker pid {self.client.proc.pid} ({self._where()}): {state}"

    def submit(self, request) -> dict:
        req = self.new_request(request)
        if not self.client.alive():
            self.client.start()  # (re)start after a crash
        self.client.send(req)
        self.job = req["id"]
        return req

    def _convert(self, msgs: list[dict]) -> list[dict]:
        for m in msgs:
            if m.get("type") == "exit":
                m.update(type="error", id=self.job, message=self.client.died_message())
                self.last_error = m["message"].splitlines()[0]
            elif m.get("type") == "error" and m.get("fatal"):
                m["message"] += f"\n{self.client.stderr_tail()}"
                self.last_error = m["message"].splitlines()[0]
        return self._track(msgs)

    def poll(self) -> list[dict]:
        msgs = self.client.poll()
        if not msgs and self.busy and not self.client.alive() and self.client.messages.empty():
            msgs = [{"type": "exit"}]
        return self._convert(msgs)

    def wait_messages(self, timeout: float) -> list[dict]:
        try:
            first = self.client.messages.get(timeout=timeout)
        except queue.Empty:
            return self.poll()
        if first.get("type") == "ready":
            self.client.ready, self.client.info = True, first
        return self._convert([first] + self.client.poll())

    def cancel(self) -> None:
        if self.job is not None and self.client.alive():
            try:
                self.client.send({"cmd": "cancel", "id": self.job})
            except WorkerError:
                pass

    def shutdown(self) -> None:
        self.client.stop()


_current: Backend | None = None


def get_backend(mode: str, model: str, device: str, python: str = "", env: dict | None = None,
                offload: bool = False) -> Backend:
    """The backend for these settings, reused while they do not change (the model stays warm).

    Args:
        mode: "AUTO" (in-process when torch and the model stack import here, else worker),
            "IN_PROCESS" or "WORKER".
        offload: keep the text encoder off the GPU between encodings (a new backend when it changes).
    """
    global _current
    from .worker_client import find_python

    kind = backend_kind(mode)
    python = find_python(python) if kind == "worker" else ""
    key = (kind, model, device, python, tuple(sorted((env or {}).items())), bool(offload))
    if _current is not None and getattr(_current, "_key", None) == key:
        return _current
    if _current is not None:
        if _current.busy:
            raise BusyError("a generation is running with the previous settings; wait or cancel it first")
        _current.shutdown()
    _current = (InProcessBackend(model, device, offload) if kind == "in-process"
                else WorkerBackend(model, device, python, env, offload))
    _current._key = key
    return _current


def backend_kind(mode: str) -> str:
    """"in-process" or "worker" for the preferences' mode ("AUTO": in-process when torch and the
    model stack import in Blender's Python)."""
    from .core import has_generator

    if mode == "AUTO":
        return "in-process" if has_generator() else "worker"
    return "in-process" if mode == "IN_PROCESS" else "worker"


def probe_backend(mode: str, model: str, device: str, python: str = "", env: dict | None = None) -> dict:
    """What the backend of these settings is (``motionprompt.app.worker.probe``'s dict plus
    ``kind`` and, for the worker, ``source`` of its interpreter): the worker's interpreter is run
    with ``--probe``; in-process, this Python loads the model. Raises ``WorkerError`` /
    ``GenerationError`` naming what is wrong (a missing interpreter, no motionprompt there)."""
    import importlib

    from . import core
    from .worker_client import interpreter, probe

    if backend_kind(mode) == "worker":
        path, source = interpreter(python)
        return dict(probe(path, model, device, env), kind="worker", source=source)
    if not core.has_generator():
        raise GenerationError(IN_BLENDER_MISSING)
    worker = importlib.import_module(f"{core.motionprompt.__name__}.app.worker")
    return dict(worker.probe(model, device), kind="in-process", source="Blender's own Python")


def current_backend() -> Backend | None:
    return _current


def shutdown_backend() -> None:
    global _current
    if _current is not None:
        _current.shutdown()
    _current = None
