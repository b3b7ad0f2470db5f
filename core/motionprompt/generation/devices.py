"""Whether this machine has a device, checked before a model loads: a CPU-only torch is
recognised from its version file without importing torch (which takes seconds)."""

from __future__ import annotations

import re
from importlib import util as importlib_util
from pathlib import Path

from ..request import RequestError, check_device_name

__all__ = ["check_device", "torch_has_cuda_build", "reset_gpu_peak", "gpu_peak_mb"]


def reset_gpu_peak(device) -> None:
    """Start measuring ``device``'s peak memory afresh (nothing on a CPU)."""
    if getattr(device, "type", None) == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats(device)


def gpu_peak_mb(device) -> float | None:
    """The most GPU memory torch held on ``device`` since ``reset_gpu_peak``, MiB (tensors
    allocated, as ``torch.cuda.max_memory_allocated``); None on a CPU."""
    if getattr(device, "type", None) != "cuda":
        return None
    import torch

    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def torch_has_cuda_build() -> bool | None:
    """Whether the installed torch is a CUDA build, read from its version file without importing
    it (True / False; None when torch is not installed)."""
    spec = importlib_util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    version = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        text = version.read_text(encoding="utf-8")
    except OSError:
        return True  # unknown layout: let torch itself answer
    found = re.search(r"^cuda\s*(?::[^=]*)?=\s*(.+)$", text, re.M)
    return found is not None and found.group(1).strip() not in ("None", "''", '""')


def check_device(device: str) -> str:
    """``device`` if it names a device this machine has ("auto", "cpu", "cuda", "cuda:N", "mps"),
    else RequestError naming it. A CPU-only torch is recognised without importing torch."""
    check_device_name(device)
    if device.startswith("cuda"):
        if not torch_has_cuda_build():
            raise RequestError("device", f"{device!r}: this torch is a CPU-only build; use cpu (or install a "
                                         "CUDA build of torch)")
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            raise RequestError("device", f"{device!r}: this machine has {count} CUDA device(s)"
                                         + ("; use cpu" if count == 0 else f"; use cuda:0 .. cuda:{count - 1}"))
    elif device == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise RequestError("device", "'mps' is not available on this machine; use cpu")
    return device
