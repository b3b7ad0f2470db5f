"""Run by tests/test_blender_versions.py with the Python of one bpy venv, in a fresh process:

    python blender_zip_check.py ADDON.zip MOTION.npy OUT.npz OUT.fbx

Like a stock Blender (no scipy, torch or motionprompt to import), with ``BLENDER_USER_RESOURCES``
set by the caller to an empty folder: installs the extension zip the way Edit > Preferences >
Get Extensions > Install from Disk does (``bpy.ops.extensions.package_install_files`` into the
"User Default" repository, enabled on install), loads MOTION.npy through the add-on's Load
Motion File operator (a new SMPL-X armature), exports it with the Unreal FBX preset, writes the
evaluated world head of every bone at every keyed frame to OUT.npz, disables the extension and
exits, with status 0 only when all of it worked.
"""

from __future__ import annotations

import os
import sys

for blocked in ("scipy", "torch", "motionprompt"):
    sys.modules[blocked] = None  # an import of any of these now fails, as in a stock Blender

import bpy  # noqa: E402  (first: it puts Blender's own modules on sys.path)
import addon_utils  # noqa: E402
import numpy as np  # noqa: E402

MODULE = "bl_ext.user_default.motionprompt"


def main(zip_path: str, motion_path: str, out_npz: str, out_fbx: str) -> int:
    if not os.environ.get("BLENDER_USER_RESOURCES"):
        raise SystemExit("set BLENDER_USER_RESOURCES to an empty folder: the extension is installed there")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    repo = bpy.context.preferences.extensions.repos.get("User Default")
    assert repo is not None and repo.module == "user_default", list(bpy.context.preferences.extensions.repos)
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result
    assert MODULE in bpy.context.preferences.addons, list(bpy.context.preferences.addons.keys())
    assert os.path.isfile(os.path.join(repo.directory, "motionprompt", "blender_manifest.toml"))
    core = sys.modules[MODULE + ".core"]
    assert core.motionprompt.__name__ == MODULE + ".vendor.motionprompt", core.motionprompt.__name__
    assert hasattr(bpy.types.Scene, "motionprompt")

    assert bpy.ops.motionprompt.load_motion(filepath=motion_path) == {"FINISHED"}
    obj = bpy.context.active_object
    action = obj.animation_data.action
    first, last = (int(round(f)) for f in action.frame_range)
    names = [b.name for b in obj.pose.bones]
    heads = []
    scene = bpy.context.scene
    for frame in range(first, last + 1):
        scene.frame_set(frame)
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        heads.append([tuple(ev.matrix_world @ ev.pose.bones[n].head) for n in names])
    sys.modules[MODULE + ".fbx_export"].export_fbx(obj, out_fbx, preset="unreal")
    assert os.path.getsize(out_fbx) > 10_000
    np.savez(out_npz, heads=np.array(heads, dtype=np.float64), names=np.array(names),
             frames=np.arange(first, last + 1), version=np.array(bpy.app.version_string))

    addon_utils.disable(MODULE, default_set=True)
    assert not hasattr(bpy.types.Scene, "motionprompt")
    print("ZIP OK", bpy.app.version_string, len(heads), "frames", len(names), "bones")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
