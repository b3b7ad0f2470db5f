"""``python -m motionprompt`` runs the command-line interface."""

from .app.cli import main

raise SystemExit(main())
