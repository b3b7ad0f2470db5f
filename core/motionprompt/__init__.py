"""motionprompt: text-to-motion for animators.

Data flows one way: text -> tokens -> motion (272-dim frames, 30 fps) -> SMPL-X pose ->
post-processing -> files / keys. The public API::

    import motionprompt as mp

    gen = mp.Generator.from_spec("demo")                                  # loads torch
    motions = gen.generate(mp.GenerateRequest(["a person waves"], seconds=4, seeds=[7]))
    m = mp.postprocess.apply(motions[0], mp.PostProcess(fps=24, root="in_place"))
    mp.export(m, "bvh", "wave.bvh")
    m2 = mp.load_motion("wave.npz")

Layers, lowest first (an import-graph test keeps them so): ``atomic`` (atomic writes), ``body``
(rotations, skeleton, FK / IK, the 272 representation, ``Motion``, contacts, rig maths; numpy),
``text`` (prompt segments), ``postprocess`` (``Motion -> Motion`` steps), ``request`` (the
generation request), ``files`` (formats, previews, gallery), ``models`` (torch modules and
specs), ``generation`` (sampler, ``Generator``), ``app`` (CLI, batch, worker). Names that need
torch (``Generator``) are imported on first use. This package never imports ``bpy``; the
Blender add-on lives in ``blender_addon/``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> (module, attribute); imported on first use, so ``import motionprompt`` stays light.
_API = {
    "Motion": ("body.motion", "Motion"),
    "load_motion": ("files.formats", "load_motion"),
    "export": ("files.formats", "export"),
    "EXPORTERS": ("files.formats", "EXPORTERS"),
    "MotionFileError": ("files.formats", "MotionFileError"),
    "GenerateRequest": ("request", "GenerateRequest"),
    "RequestError": ("request", "RequestError"),
    "Cancelled": ("request", "Cancelled"),
    "PostProcess": ("postprocess", "PostProcess"),
    "postprocess": ("postprocess", None),
    "in_place": ("postprocess", "in_place"),
    "resample": ("postprocess", "resample"),
    "Generator": ("generation.generator", "Generator"),
    "ModelSpec": ("models.model_spec", "ModelSpec"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _API[name]
    mod = importlib.import_module(f"{__name__}.{module}")
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
