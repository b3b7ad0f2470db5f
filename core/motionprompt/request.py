"""One generation request: every front end (the CLI's generate and batch, the worker, the Blender
panel, tools/bake.py) builds a ``GenerateRequest`` and ``Generator.generate`` takes it; the worker
protocol carries it as JSON (``to_json`` / ``from_json``: the field names, with the
post-processing's fields (``fps``, ``root``, ``trim``, ``foot_lock``) beside them).

    req = GenerateRequest(["a person waves"], seconds=6, seeds=[7]).validate(max_seconds=spec.max_seconds)

``validate`` checks every option against its range BEFORE any model loads (it needs only the
model's TOML, for its longest motion) and raises ``RequestError`` naming the option, the value
and what is allowed; front ends turn that into exit code 2 (CLI, bake) or an error reply
(worker, panel) with nothing written. This module never imports torch at load time (the CLI
validates in a fraction of a second); whether this machine has the device is checked where the
model loads (``generation.devices``).
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path

from .postprocess import PostProcess, PostProcessError

__all__ = ["GenerateRequest", "RequestError", "Cancelled", "motion_ref", "split_motion_ref", "LONGEST_SECONDS", "random_seed", "sample_seeds", "default_batch_size",
           "check_device_name", "MAX_SEED", "DTYPES", "DEVICE_NAME"]

#: Seeds are stored as int64 by the sampler's hash and every file format: 63 bits, non-negative.
MAX_SEED = 2**63 - 1
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICE_NAME = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class RequestError(ValueError):
    """An option out of range. ``option`` is the request field's name (``seconds``, ``top_k``...)."""

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(f"{option}: {message}")


class Cancelled(RuntimeError):
    """Raised when a request's cancel check returns True between steps."""


def random_seed() -> int:
    """A fresh seed (31 bits, so it fits every tool that stores it, Blender's IntProperty too)."""
    return secrets.randbits(31)


def sample_seeds(seed: int | None, num: int) -> list[int]:
    """The seeds of ``num`` samples of one prompt: ``seed``, ``seed + 1``, ... (a fresh random
    base when ``seed`` is None). Every prompt of a batch starts from the same ``seed``, so a
    prompt's motion does not depend on its line in the file."""
    base = random_seed() if seed is None else int(seed)
    return [base + i for i in range(num)]


def default_batch_size(device_type: str) -> int:
    """Texts per forward pass when none is asked for: 64 on CUDA, 8 elsewhere."""
    return 64 if device_type == "cuda" else 8


def _finite(option: str, value, low: float, high: float, low_open: bool = True) -> float:
    """``value`` as a float in (low, high] (or [low, high]), else RequestError naming ``option``."""
    bad = isinstance(value, bool) or not isinstance(value, (int, float))
    v = float("nan") if bad else float(value)
    inside = math.isfinite(v) and (v > low if low_open else v >= low) and v <= high
    if not inside:
        span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise RequestError(option, f"{value!r} is out of range; give a number in {span}")
    return v


def _int(option: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(option, f"{value!r} is out of range; give a whole number in [{low}, {high}]")
    return int(value)


def check_device_name(device: str) -> str:
    """``device`` if it is a device name ("auto", "cpu", "cuda", "cuda:N", "mps"), else RequestError
    (whether this machine has it is ``generation.devices.check_device``)."""
    if not isinstance(device, str) or not DEVICE_NAME.match(device):
        raise RequestError("device", f"{device!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    return device


#: The longest motion a request may ask for: beyond the model's own (its positions), the
#: generator makes it in windows, each continuing the one before.
LONGEST_SECONDS = 600.0


def split_motion_ref(text: str, option: str = "continue_from") -> tuple[Path, int | None]:
    """``"FILE[:FRAME]"`` -> (the file, FRAME or None), frames counted from 1, whatever the file
    is (``motion_ref`` checks it is a motion file; tools/bake.py also takes animations).
    RequestError(option, ...) for an empty text or a FRAME that is no whole number >= 1."""
    if not isinstance(text, str) or not text.strip():
        raise RequestError(option, f"{text!r}: give MOTION.npy or MOTION.npy:FRAME")
    path, frame = text, None
    head, sep, tail = text.rpartition(":")
    if sep and head and tail.strip().lstrip("-").isdigit():
        path, frame = head, int(tail)
        if frame < 1:
            raise RequestError(option, f"{text!r}: there is no frame {frame}; frames count from 1")
    return Path(path).expanduser(), frame


def motion_ref(text: str, option: str = "continue_from") -> tuple[Path, int | None]:
    """``"MOTION[:FRAME]"`` -> (the motion file, FRAME or None): the motion a request continues
    or the pose it ends in (frames counted from 1; ``split_motion_ref``).

    Raises:
        RequestError(option, ...) naming the file or the frame and the fix: a file that does
        not exist or is no .npy / .npz, a FRAME that is no whole number >= 1.
    """
    p, frame = split_motion_ref(text, option)
    if p.suffix.lower() in (".fbx", ".blend"):
        raise RequestError(option, f"{text!r}: an animation in a {p.suffix.lower()} file is read in Blender: give it "
                                   "to tools/bake.py, or export it as NPZ from the Motion panel")
    if p.suffix.lower() not in (".npy", ".npz"):
        raise RequestError(option, f"{text!r}: {p.name} is no .npy / .npz motion file")
    if not p.is_file():
        raise RequestError(option, f"{p}: no such motion file; give an existing .npy / .npz")
    return p, frame


@dataclass(frozen=True)
class GenerateRequest:
    """What to generate and how; one motion per prompt.

    Attributes:
        prompts: the texts, one motion each (a prompt sampled N times is given N times).
        seeds: one per prompt (None: fresh random seeds, recorded in each ``Motion.seed``).
        seconds: longest motion, in (0, ``LONGEST_SECONDS``] (past the model's own maximum: in
            windows); a motion ends earlier at END.
        min_seconds: END is not allowed before this, in [0, seconds].
        temperature, top_k, top_p, greedy: token choice (greedy = the release's arg-max;
            top_k 0 or None = off; top_p None = off, else in (0, 1]).
        guidance: classifier-free guidance scale, 1 = off (None: the model's own).
        compose: generate each action of a prompt on its own (None: the model's own).
        caption_rewrite: give the model each action as its nearest training caption
            (``text.vocabulary``; None: the model's own, on for the demo; models without
            captions ignore it).
        batch_size: texts per forward pass (None: ``default_batch_size`` of the device).
        device, dtype: where the model runs ("auto": CUDA when available) and its precision.
        post: the post-processing every motion goes through (frame rate, in place, ...).
        previews: whether front ends that write files also write GIF / MP4 previews.
        preview_size: the GIF's side, pixels (the MP4 is always 960); a gallery's cards show
            about 300, and a 320 px GIF costs a fraction of a 960 px one.
        preview_workers: processes that render previews while the next group generates (None:
            one per available core; 0: in the generating process, one after the other).
        out_dir: where front ends that write files put them (None: their own default).
        continue_from: "MOTION[:FRAME]": a motion file (.npy / .npz) every prompt continues
            after its first FRAME frames (default all): the result is those frames
            unchanged, then ``seconds`` of new motion (``motion_ref`` parses it).
        to_pose: "MOTION[:FRAME]": the pose (frame FRAME, counted from 1; default the last) every
            motion ends in, reached on its last frame: an in-between (after ``continue_from``
            when both are given; the pose stands where it stands in its file).
    """

    prompts: tuple = ()
    seeds: tuple | None = None
    seconds: float = 10.0
    min_seconds: float = 0.0
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False
    guidance: float | None = None
    compose: bool | None = None
    caption_rewrite: bool | None = None
    batch_size: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    post: PostProcess = field(default_factory=PostProcess)
    previews: bool = True
    preview_size: int = 960
    preview_workers: int | None = None
    out_dir: Path | None = None
    continue_from: str | None = None
    to_pose: str | None = None

    def __post_init__(self):
        if isinstance(self.prompts, str):
            object.__setattr__(self, "prompts", (self.prompts,))
        object.__setattr__(self, "prompts", tuple(self.prompts))
        if self.seeds is not None:
            object.__setattr__(self, "seeds", tuple(self.seeds))

    def validate(self, max_seconds: float | None = None) -> "GenerateRequest":
        """This request with its options checked and normalised (top_k 0 -> None).

        Args:
            max_seconds: the model's longest motion in one pass (``ModelSpec.max_seconds``): a
                request for more is made in windows, up to ``LONGEST_SECONDS``; None: no cap
                beyond a day.
        Raises:
            RequestError naming the first bad option, its value and the allowed range.
        """
        if not self.prompts:
            raise RequestError("prompts", "no prompt given")
        for i, p in enumerate(self.prompts):
            if not isinstance(p, str) or not p.strip():
                raise RequestError("prompts", f"empty prompt (number {i + 1}); describe a motion in words")
        if self.seeds is not None:
            if len(self.seeds) != len(self.prompts):
                raise RequestError("seeds", f"need one seed per prompt: {len(self.prompts)} prompt(s), "
                                            f"{len(self.seeds)} seed(s)")
            for s in self.seeds:
                _int("seed", s, 0, MAX_SEED)
        top = 86400.0 if max_seconds is None else LONGEST_SECONDS
        if max_seconds is not None and isinstance(self.seconds, (int, float)) and self.seconds > top:
            raise RequestError("seconds", f"{self.seconds!r} is longer than motionprompt makes ({top:g} s, in windows "
                                          f"of the model's {float(max_seconds):g} s); give a number in (0, {top:g}]")
        seconds = _finite("seconds", self.seconds, 0.0, top)
        min_seconds = _finite("min_seconds", self.min_seconds, 0.0, top, low_open=False)
        if min_seconds > seconds:
            raise RequestError("min_seconds", f"{self.min_seconds!r} is longer than seconds ({self.seconds!r}); "
                                              f"give at most {self.seconds!r}")
        if not self.greedy:
            _finite("temperature", self.temperature, 0.0, 100.0)
        top_k = None if self.top_k in (None, 0) else _int("top_k", self.top_k, 0, 2**31 - 1)
        if self.top_p is not None:
            _finite("top_p", self.top_p, 0.0, 1.0)
        if self.guidance is not None:
            _finite("guidance", self.guidance, 0.0, 100.0, low_open=False)
        if self.compose is not None and not isinstance(self.compose, bool):
            raise RequestError("compose", f"{self.compose!r}: use true, false or null (the model's choice)")
        if self.caption_rewrite is not None and not isinstance(self.caption_rewrite, bool):
            raise RequestError("caption_rewrite", f"{self.caption_rewrite!r}: use true, false or null "
                                                  "(the model's choice)")
        if self.batch_size is not None:
            _int("batch_size", self.batch_size, 1, 65536)
        _int("preview_size", self.preview_size, 64, 4096)
        if self.preview_workers is not None:
            _int("preview_workers", self.preview_workers, 0, 1024)
        if self.dtype not in DTYPES:
            raise RequestError("dtype", f"{self.dtype!r}: use one of {', '.join(DTYPES)}")
        check_device_name(self.device)
        if self.continue_from is not None:
            motion_ref(self.continue_from)
        if self.to_pose is not None:
            motion_ref(self.to_pose, "to_pose")
        if not isinstance(self.post, PostProcess):
            raise RequestError("post", f"{self.post!r} is not a PostProcess")
        try:
            self.post.validate()
        except PostProcessError as e:
            raise RequestError(*str(e).split(": ", 1)) from None
        return replace(self, seconds=seconds, min_seconds=min_seconds, top_k=top_k)

    def with_seeds(self) -> "GenerateRequest":
        """This request with its seeds drawn when none were given (so they can be recorded)."""
        if self.seeds is not None:
            return self
        return replace(self, seeds=tuple(random_seed() for _ in self.prompts))

    def replace(self, **changes) -> "GenerateRequest":
        return replace(self, **changes)

    def to_json(self) -> dict:
        """The request as the worker protocol's fields (JSON-ready; defaults left out)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "post":
                out.update({k: list(v) if isinstance(v, tuple) else v for k, v in
                            ((p.name, getattr(value, p.name)) for p in fields(PostProcess))
                            if v != getattr(PostProcess(), k)})
            elif value != (f.default if f.default is not MISSING else f.default_factory()):
                out[f.name] = list(value) if isinstance(value, tuple) else str(value) if isinstance(value, Path) \
                    else value
        return out

    @classmethod
    def from_json(cls, data: dict, ignore: tuple = ("cmd", "id")) -> "GenerateRequest":
        """A request from the worker protocol's fields (``ignore``: the envelope's keys).
        Raises RequestError for a field that is not an option (a typo would otherwise pass)."""
        names = {f.name for f in fields(cls)} - {"post"}
        post_names = {f.name for f in fields(PostProcess)}
        unknown = sorted(set(data) - names - post_names - set(ignore))
        if unknown:
            raise RequestError(unknown[0], f"not a request option; options: {', '.join(sorted(names | post_names))}")
        kw = {k: v for k, v in data.items() if k in names}
        if "prompts" in kw and not isinstance(kw["prompts"], (list, tuple)):
            raise RequestError("prompts", "give a list of strings")
        if kw.get("seeds") is not None and not isinstance(kw["seeds"], (list, tuple)):
            raise RequestError("seeds", "give a list of whole numbers, one per prompt, or null")
        if kw.get("out_dir") is not None:
            kw["out_dir"] = Path(kw["out_dir"])
        post = {k: data[k] for k in post_names if k in data and data[k] is not None}
        if isinstance(post.get("trim"), list):
            post["trim"] = tuple(post["trim"])
        return cls(**kw, post=PostProcess(**post))

    def settings(self) -> dict:
        """The options that shape every motion (for a manifest): JSON-ready."""
        return dict(seconds=self.seconds, min_seconds=self.min_seconds, temperature=self.temperature,
                    top_k=self.top_k, top_p=self.top_p, greedy=self.greedy, guidance=self.guidance,
                    compose=self.compose, caption_rewrite=self.caption_rewrite, fps=self.post.fps, root=self.post.root,
                    **({"trim": list(self.post.trim)} if self.post.trim else {}),
                    **({"foot_lock": self.post.foot_lock} if self.post.foot_lock != "off" else {}),
                    **({"lock_strength": self.post.lock_strength} if self.post.lock_strength != 1.0 else {}),
                    **({"path": self.post.path} if self.post.path else {}),
                    **({"loop": self.post.loop} if self.post.loop is not None else {}),
                    **({"continue_from": self.continue_from} if self.continue_from else {}),
                    **({"to_pose": self.to_pose} if self.to_pose else {}))
