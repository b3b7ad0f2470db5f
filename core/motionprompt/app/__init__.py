"""What a user runs: the command line (``cli``), batch runs (``batch``) and the JSON-lines
worker (``worker``) the Blender add-on talks to.
"""
