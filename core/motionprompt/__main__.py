"""``python -m motionprompt`` runs the command-line interface."""

if __name__ == "__main__":  # not when a spawned preview worker imports this module again
    from .app.cli import main

    raise SystemExit(main())
