"""A persistent generation worker speaking JSON lines over stdin / stdout.

``python -m motionprompt.app.worker --model demo --device cpu [--offload-text-encoder]`` loads the model ONCE, says
``ready`` and then serves requests until stdin closes or ``quit`` arrives. It is what the
Blender add-on runs when Blender's own Python has no torch.

Requests (one JSON object per line on stdin)::

    {"cmd": "generate", "id": "r1", "prompts": ["a person walks"], "seconds": 4.0,
     "seeds": [1] | null, "temperature": 1.0, "top_k": null, "out_dir": "/tmp/x",
     "guidance": null, "compose": null, "fps": null, "root": "keep"}

  A generate request's fields are those of ``motionprompt.request.GenerateRequest`` (its
  ``to_json``; null or absent: the request's default, for guidance / compose the model's own),
  checked before anything runs (an unknown field or a value out of range is an error reply
  naming it). Every motion goes through the post-processing stage (``fps``, ``root``) before
  its file is written.
    {"cmd": "cancel", "id": "r1"}      stop that job (the worker stays alive)
    {"cmd": "ping"} / {"cmd": "quit"}

Replies (stdout; one JSON object per line, nothing else is ever written there)::

    {"type": "ready", "model": "demo", "device": "cpu", "pid": 123, "offload_text_encoder": false}
    {"type": "progress", "id": "r1", "step": 3, "total": 60}
    {"type": "result", "id": "r1", "motions": [{"path": ".../r1_20250101-120000-1a2b3c4d_0.npy",
     "prompt": ..., "seed": 1, "fps": 30.0, "frames": 120, "source": "demo"}], "seconds": 1.9}
     (a composed motion's entry also has "segments": [{"text", "start", "end"}], in seconds)
    {"type": "cancelled", "id": "r1"}
    {"type": "error", "id": "r1" | null, "message": "..."}
    {"type": "pong"}

A result is a list of file paths (272-dim ``.npy`` frames at the entry's fps, written atomically),
never arrays. Every take gets its own names, ``{id}_{YYYYmmdd-HHMMSS}-{8 hex}_{i}.npy`` under
``out_dir``: request ids restart with each client (a Blender session), so the id alone would
overwrite an earlier session's results in a shared folder.
``Worker.run_job(req, write_files=False)`` (in-process callers) writes nothing and puts each
``Motion`` itself in its entry (``"motion"``, no ``"path"``); that reply is not JSON.
A second ``generate`` while one runs is refused with an error (one job at a time).
``MOTIONPROMPT_GENERATOR_FACTORY=module:callable`` replaces the model loader (tests use a tiny
fake generator): ``callable(model, device, dtype) -> object with .generate(request, progress=, cancel=)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import queue
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

from .. import postprocess
from ..request import Cancelled, GenerateRequest, RequestError
from .batch import shaping_motions

__all__ = ["main", "load_generator", "probe", "Worker", "FACTORY_ENV"]

FACTORY_ENV = "MOTIONPROMPT_GENERATOR_FACTORY"


def load_generator(model: str = "demo", device: str = "cpu", dtype: str | None = None,
                   offload_text_encoder: bool = False):
    """The generator for ``model`` on ``device``: ``Generator.from_spec`` unless the
    ``MOTIONPROMPT_GENERATOR_FACTORY`` environment variable names another factory (given
    ``offload_text_encoder=True`` only when asked). ``offload_text_encoder``: the text encoder
    stays in CPU memory and is on the GPU only while it encodes (``--offload-text-encoder``)."""
    factory = os.environ.get(FACTORY_ENV)
    if factory:
        module, _, attr = factory.partition(":")
        extra = {"offload_text_encoder": True} if offload_text_encoder else {}
        return getattr(importlib.import_module(module), attr or "make_generator")(model, device, dtype, **extra)
    from ..generation.devices import check_device
    from ..generation.generator import Generator, torch_device, torch_dtype

    check_device(device)
    return Generator.from_spec(model, device=torch_device(device), dtype=torch_dtype(dtype),
                               offload_text_encoder=offload_text_encoder)


def probe(model: str = "demo", device: str = "cpu", load: bool = True) -> dict:
    """What this Python offers as a generation backend (``--probe``; the add-on's Test Backend):
    ``python`` (its path), ``motionprompt`` and ``torch`` versions (None when missing), ``cuda``
    (GPUs torch sees), ``device``, ``model`` and, with ``load``, ``loaded`` / ``load_s`` or
    ``error`` (why the model did not load, naming it)."""
    from .. import __version__

    info = {"python": sys.executable, "motionprompt": __version__, "torch": None, "cuda": 0, "device": device,
            "model": model, "loaded": False}
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError as e:
        info["error"] = f"torch is not installed in {sys.executable} ({e})"
        return info
    if load:
        t0 = time.perf_counter()
        try:
            load_generator(model, device)
        except Exception as e:  # noqa: BLE001 - reported, the probe itself succeeds
            info["error"] = f"cannot load model {model!r} on {device}: {type(e).__name__}: {e}"
        else:
            info.update(loaded=True, load_s=round(time.perf_counter() - t0, 2))
    return info


class Worker:
    """Serves requests from a line iterator, writing replies with ``send``.

    Args:
        generator: object with ``generate(request, progress=, cancel=) -> list[Motion]`` (and,
            when it knows it, ``max_seconds``).
        send: callable taking one reply dict (thread-safe).
        model_name: reported in ``ready`` and stored as each motion's source when it has none.
    """

    def __init__(self, generator, send, model_name: str = "", device: str = "cpu"):
        self.generator = generator
        self.send = send
        self.model_name = model_name
        self.device = device
        self.jobs: queue.Queue = queue.Queue()
        self.cancel_ids: set = set()
        self.current: str | None = None
        self._lock = threading.Lock()

    def cancel(self, job_id) -> None:
        """Ask the running job ``job_id`` to stop at its next step (thread-safe; the worker
        stays alive). An id that is not running is ignored: a cancel sent early never stops a
        later job that reuses the id."""
        with self._lock:
            if job_id is not None and str(job_id) == self.current:
                self.cancel_ids.add(job_id)

    # -- reader side (a thread): cancels act at once, generation requests queue for the main loop
    def feed(self, lines) -> None:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                req = json.loads(line)
                cmd = req["cmd"]
            except (ValueError, KeyError, TypeError) as e:
                self.send({"type": "error", "id": None, "message": f"bad request line {line[:200]!r}: {e}"})
                continue
            if cmd == "cancel":
                self.cancel(req.get("id"))
            elif cmd == "ping":
                self.send({"type": "pong", "busy": self.current is not None})
            elif cmd == "quit":
                break
            elif cmd == "generate":
                with self._lock:
                    busy = self.current is not None or not self.jobs.empty()
                    if not busy:
                        self.current = str(req.get("id"))
                if busy:
                    self.send({"type": "error", "id": req.get("id"),
                               "message": "busy: a generation is already running; wait for it or cancel it"})
                else:
                    self.jobs.put(req)
            else:
                self.send({"type": "error", "id": req.get("id"), "message": f"unknown command {cmd!r}"})
        self.jobs.put(None)

    # -- main loop: one job at a time
    def serve(self) -> None:
        while True:
            req = self.jobs.get()
            if req is None:
                return
            try:
                reply = self.run_job(req)
            finally:
                with self._lock:  # free before the final reply, so the next request is welcome
                    self.current = None
                    self.cancel_ids.discard(req.get("id"))
            self.send(reply)

    def run_job(self, req: dict, write_files: bool = True) -> dict:
        """Run one generate request; progress replies are sent as it goes, the final reply
        (result / cancelled / error) is returned.

        Args:
            req: a ``generate`` request dict (the protocol's fields).
            write_files: True (the process protocol): each motion is written to a uniquely named
                272-dim ``.npy`` under the request's ``out_dir`` and its entry has ``"path"``.
                False (a caller in this Python): nothing is written; each entry has the
                post-processed ``Motion`` itself as ``"motion"`` (not JSON-serialisable).
        """
        from ..files.formats import export

        job = str(req.get("id"))
        with self._lock:  # the running job: what a cancel may stop (callers in this Python too)
            self.current = job

        def cancelled() -> bool:
            with self._lock:
                return job in self.cancel_ids or req.get("id") in self.cancel_ids

        def progress(step: int, total: int) -> None:
            self.send({"type": "progress", "id": req.get("id"), "step": int(step), "total": int(total)})
            if cancelled():
                raise Cancelled()

        t0 = time.perf_counter()
        try:
            request = GenerateRequest.from_json(req).validate(
                max_seconds=getattr(self.generator, "max_seconds", None))
            motions = self.generator.generate(request, progress=progress, cancel=cancelled,
                                              **shaping_motions(request))
            if cancelled():
                raise Cancelled()
            motions = [postprocess.apply(m, request.post) for m in motions]
            paths = self._take_paths(request.out_dir, job, len(motions)) if write_files else [None] * len(motions)
            items = []
            for m, path in zip(motions, paths):
                if path is None:
                    where = {"motion": m}
                else:
                    export(m, "npy", path)
                    where = {"path": str(path)}
                items.append({**where, "prompt": m.prompt, "seed": m.seed, "fps": float(m.fps),
                              "frames": int(m.num_frames), "source": m.source or self.model_name,
                              **{k: m.meta[k] for k in ("segments", "warnings", "caption_rewrite") if m.meta.get(k)}})
            return {"type": "result", "id": req.get("id"), "motions": items,
                    "seconds": round(time.perf_counter() - t0, 3)}
        except Cancelled:
            return {"type": "cancelled", "id": req.get("id")}
        except RequestError as e:
            return {"type": "error", "id": req.get("id"), "message": f"bad request: {e}"}
        except Exception as e:  # noqa: BLE001 - any failure is reported; the worker stays alive
            traceback.print_exc(file=sys.stderr)
            return {"type": "error", "id": req.get("id"), "message": f"{type(e).__name__}: {e}"}

    @staticmethod
    def _take_paths(out_dir, job: str, n: int) -> list[Path]:
        """``n`` new ``.npy`` paths for one take under ``out_dir`` (created; None: a new temporary
        folder): the job id, a timestamp and random hex, so takes never share a name, whatever
        the id (ids restart with every client) and however many workers share the folder."""
        out = Path(out_dir or tempfile.mkdtemp(prefix="motionprompt_"))
        out.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in job)[:40] or "job"
        while True:
            take = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
            paths = [out / f"{safe}_{take}_{i}.npy" for i in range(n)]
            if not any(p.exists() for p in paths):  # 32 random bits: a clash is only ever theoretical
                return paths


def _protocol_stream():
    """A private copy of stdout for replies; fd 1 then points at stderr, so stray prints from
    libraries can never corrupt the protocol."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionprompt.app.worker", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="demo", help="built-in model name or a model TOML file (default demo)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    p.add_argument("--dtype", default=None, help="torch dtype name (default: bfloat16 on CUDA, float32 on CPU)")
    p.add_argument("--offload-text-encoder", action="store_true",
                   help="keep the text encoder in CPU memory, on the GPU only while it encodes (frees its VRAM, "
                        "2.3 GB for flan-t5-xl, for the prefix-LM)")
    p.add_argument("--probe", action="store_true",
                   help="print one JSON line (this Python, motionprompt / torch versions, GPUs, whether the model "
                        "loads) and exit: the add-on's Test Backend")
    p.add_argument("--print-interpreter", action="store_true",
                   help="print this interpreter's path (paste it into the add-on preferences' Python) and exit")
    args = p.parse_args(argv)
    if args.print_interpreter:
        print(sys.executable)
        return 0
    if args.probe:
        out = _protocol_stream()  # library chatter goes to stderr, the JSON line alone to stdout
        info = probe(args.model, args.device)
        out.write(json.dumps(info) + "\n")
        out.flush()
        return 0 if info["loaded"] else 1
    out = _protocol_stream()
    lock = threading.Lock()

    def send(msg: dict) -> None:
        with lock:
            out.write(json.dumps(msg) + "\n")
            out.flush()

    try:
        generator = load_generator(args.model, args.device, args.dtype, args.offload_text_encoder)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        send({"type": "error", "id": None, "fatal": True, "message": f"cannot load model {args.model!r}: "
              f"{type(e).__name__}: {e}"})
        return 1
    worker = Worker(generator, send, model_name=args.model, device=args.device)
    reader = threading.Thread(target=worker.feed, args=(sys.stdin,), daemon=True)
    reader.start()
    send({"type": "ready", "model": args.model, "device": args.device, "pid": os.getpid(),
          "offload_text_encoder": args.offload_text_encoder})
    from .interrupt import sigterm_raises

    try:
        with sigterm_raises():  # a job's temporary files go with it
            worker.serve()
    except KeyboardInterrupt:
        return 143
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
