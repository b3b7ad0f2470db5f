"""Every difference between the Blender versions the add-on supports (4.2 LTS to 5.x), in one place.

The rest of the add-on calls these functions and never checks ``bpy.app.version`` or
``hasattr`` on Blender types itself. Tested on bpy 4.2.23 LTS, 4.5.15 LTS and 5.0.1
(``tools/test_all.py``; ``tests/test_blender_versions.py`` compares their keyed poses).

What differs, and where it is handled:

- Actions. Below 4.4 an action holds its F-curves directly (``Action.fcurves``,
  ``fcurves.new(data_path, index, action_group)``) and has no slots. From 4.4 actions are
  layered: F-curves live in a channelbag per slot (``action.layers[*].strips[*].channelbags``),
  and an ID plays one slot of its action (``AnimData.action_slot``, ``NlaStrip.action_slot``).
  5.0 removed the legacy ``Action.fcurves`` (and ``Action.groups``). ``LAYERED_ACTIONS``,
  ``assign_action``, ``assign_strip_slot``, ``slot_fcurves``, ``all_fcurves``.
- Creating an F-curve in a group: ``Action.fcurve_ensure_for_datablock`` exists from 4.4, but
  only 5.0 takes ``group_name``; on 4.4 / 4.5 the curve is put into the slot's channelbag group
  afterwards. ``fcurve_maker``.
- Keyframe interpolation: set in bulk (``foreach_set``) as the enum's integer value, read from
  RNA (the same on 4.2 to 5.0: LINEAR is 1, but never hard-coded). ``keyframe_interpolation``.
- ``UILayout.progress`` (the panel's progress bar) exists from 4.0, so in every supported
  version: the panel calls it directly, no fallback.
- The ``bpy`` module of 4.2 (not the Blender program) segfaults at interpreter exit (in
  ``bpy_class_free``, from a static destructor) once a PropertyGroup class with a method was
  registered, even when it was unregistered again: a script or test that registers the add-on
  would crash on leaving. The add-on's PropertyGroups therefore carry no methods
  (``properties.model_name`` is a function; ``tests/test_blender_versions.py`` checks it).
  Rigify, which 4.2 and 4.5 ship, trips the same fault on 4.2 and hangs 4.5's exit once it has
  generated a rig, so the test run ends its own process under those versions (``tests/conftest.py``).
"""

from __future__ import annotations

import bpy

__all__ = ["VERSION", "LAYERED_ACTIONS", "assign_action", "assign_strip_slot", "fcurve_maker", "slot_fcurves",
           "all_fcurves", "keyframe_interpolation"]

#: The running Blender, (major, minor, patch).
VERSION: tuple[int, int, int] = tuple(bpy.app.version)
#: Layered actions (slots, layers, channelbags): Blender 4.4+.
LAYERED_ACTIONS: bool = "slots" in bpy.types.Action.bl_rna.properties
#: ``fcurve_ensure_for_datablock`` (4.4+) and whether it takes ``group_name`` (5.0+).
_ENSURE = bpy.types.Action.bl_rna.functions.get("fcurve_ensure_for_datablock")
_ENSURE_TAKES_GROUP: bool = _ENSURE is not None and "group_name" in _ENSURE.parameters


def assign_action(id_data, action) -> None:
    """Make ``action`` the one ``id_data`` (an object) plays; on 4.4+ with a slot of it: the
    one already assigned when it is the action's, else its first, else a new slot named after
    ``id_data`` (a new, empty action)."""
    if id_data.animation_data is None:
        id_data.animation_data_create()
    ad = id_data.animation_data
    ad.action = action
    if not LAYERED_ACTIONS:
        return
    if ad.action_slot is not None and any(s == ad.action_slot for s in action.slots):
        return
    ad.action_slot = action.slots[0] if len(action.slots) else action.slots.new(id_type=id_data.id_type,
                                                                              name=id_data.name)


def assign_strip_slot(strip, action) -> None:
    """On 4.4+, an NLA strip of ``action`` plays its first slot when it got none."""
    if LAYERED_ACTIONS and strip.action_slot is None and len(action.slots):
        strip.action_slot = action.slots[0]


def _channelbag(action, slot):
    """The channelbag of ``slot`` in ``action`` (4.4+), or None."""
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                return bag
    return None


def fcurve_maker(obj, action):
    """A function ``(data_path, index, group) -> FCurve``: the F-curve of ``obj``'s channel in
    ``action`` (its assigned slot on 4.4+), created in the group named ``group`` when missing;
    an existing curve keeps its keys (the caller clears them)."""
    if _ENSURE_TAKES_GROUP:  # 5.0+
        def ensure(path, index, group):
            return action.fcurve_ensure_for_datablock(obj, path, index=index, group_name=group)
        return ensure

    if _ENSURE is not None:  # 4.4, 4.5: the group is set on the slot's channelbag afterwards
        groups: dict = {}

        def ensure_then_group(path, index, group):
            fc = action.fcurve_ensure_for_datablock(obj, path, index=index)
            if group and fc.group is None:
                grp = groups.get(group)
                if grp is None:
                    bag = _channelbag(action, obj.animation_data.action_slot)
                    grp = bag.groups.get(group) or bag.groups.new(group)
                    groups[group] = grp
                fc.group = grp
            return fc
        return ensure_then_group

    def legacy(path, index, group):  # 4.2, 4.3
        fc = action.fcurves.find(path, index=index)
        return fc if fc is not None else action.fcurves.new(path, index=index, action_group=group)
    return legacy


def slot_fcurves(action, slot=None):
    """The F-curves collection (``find``, iteration) of ``action``'s ``slot`` (default: its first)
    on 4.4+, or the action's own ``fcurves`` below; None when that slot has no channelbag."""
    if not LAYERED_ACTIONS:
        return action.fcurves
    if slot is None:
        if not len(action.slots):
            return None
        slot = action.slots[0]
    bag = _channelbag(action, slot)
    return None if bag is None else bag.fcurves


def all_fcurves(action) -> list:
    """Every F-curve of ``action``: every channelbag of every strip of every layer on 4.4+."""
    if not LAYERED_ACTIONS:
        return list(action.fcurves)
    return [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags
            for fc in bag.fcurves]


def keyframe_interpolation(name: str) -> int:
    """The integer value of the Keyframe interpolation ``name`` ("LINEAR", ...) for ``foreach_set``."""
    return bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items[name].value
