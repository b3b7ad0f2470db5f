"""The preview picture's look: RGB colours (0-255 per channel) and sizes.

Floor sizes are metres in the world; line widths are pixels in an image of ``REFERENCE_SIZE``
pixels a side (the painter scales them with the image).
"""

from __future__ import annotations

BACKGROUND = (255, 255, 255)
FLOOR = (232, 232, 232)
GRID = (204, 204, 204)
SHADOW = (186, 186, 186)
PATH_DONE = (232, 128, 16)   # root trajectory already travelled
PATH_AHEAD = (244, 204, 156)  # root trajectory still to come
TEXT = (32, 32, 32)
MARK = TEXT  # under a planted foot (an ink already in the palette)

GRID_STEP = 0.5     # metres between grid lines
FLOOR_HALF = 2.5    # metres: the floor patch is a square of side 2 * FLOOR_HALF around the root
REFERENCE_SIZE = 960  # line widths below are in pixels at this image size
BONE_WIDTH = 5.0
GRID_WIDTH = 1.5
PATH_WIDTH = 3.0
MARK_WIDTH = 14.0
