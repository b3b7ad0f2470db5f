"""Post-processing: the one stage every motion passes between generation (or a file) and its
outputs (files, keys, a target rig). Each step is a documented ``Motion -> Motion`` function;
``PostProcess`` says which steps run, and ``apply`` runs them in their fixed order.

    from motionprompt import postprocess
    out = postprocess.apply(motion, postprocess.PostProcess(fps=24, root="in_place", foot_lock="toes"))

Callers go through ``postprocess.apply`` (the CLI, batch, export, the worker, tools/bake.py and
the Blender add-on), so a new step is written once: a function here and a field of
``PostProcess``. Pure numpy (the add-on vendors this package).
"""

from .feet import LOCK_MODES, foot_contacts, foot_lock
from .loop import loop, repeat
from .path import follow_path, load_path
from .root import in_place
from .stage import ROOT_MODES, PostProcess, PostProcessError, apply
from .timing import resample, trim

__all__ = ["PostProcess", "PostProcessError", "apply", "resample", "in_place", "trim", "foot_lock", "foot_contacts",
           "loop", "repeat", "follow_path", "load_path", "ROOT_MODES", "LOCK_MODES"]
