"""SIGTERM as an exception: a process told to stop (``kill``, a job scheduler, Blender closing
the worker) unwinds like Ctrl-C, so every ``finally`` and atomic write (``atomic_path``) removes
its temporary ``.part`` file before the process ends. Used by the command line, the worker and
tools/bake.py."""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["Terminated", "sigterm_raises"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread (a ``KeyboardInterrupt``, so code that lets Ctrl-C
    through lets it through too)."""


def _terminate(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_raises():
    """While the block runs, SIGTERM raises ``Terminated`` in the main thread (elsewhere: a no-op);
    the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
