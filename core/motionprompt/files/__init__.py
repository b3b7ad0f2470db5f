"""Motion files and previews (no torch; the Blender add-on vendors this package).

``formats``: reading and writing every motion format; ``bvh``; ``preview``: GIF / MP4 / PNG
skeleton previews; ``gallery``: a run's index.html.
"""
