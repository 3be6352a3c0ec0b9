"""Glimpse questions: which symbol is on the tile in the middle of a zoomed crop (rt2_ros.glimpse).

Asked on the first image of a scene (the arm at home, as an episode's first frame, where the goal is
located): one glimpse per tile, its centre a few pixels off the tile's as a pointing answer would be,
and one glimpse of an object away from every tile, answered `none`, so a candidate place that is no
tile is not read as one.
"""

from __future__ import annotations

import numpy as np

from rt2_ros.data.pointing import in_image
from rt2_ros.glimpse import GLIMPSE_PHRASES, NO_TILE, crop_glimpse

# As shares of the camera image's width (4 and 8 px of a 96 px image):
GLIMPSE_JITTER = 0.04  # a candidate is a pointing answer, a few pixels off the tile's centre
AWAY_FROM_TILES = 0.08  # an object at least this far from every tile centre shows no tile in the middle


def glimpse_questions(sim, rng: np.random.Generator, zoom: int, camera: str = "scene"):
    """(image, question, answer) for each tile in view and for one object away from the tiles."""
    height, width = sim.cameras.sizes[camera]
    detail = sim.render(camera, size=(height * zoom, width * zoom))
    tiles = {symbol: sim.project(np.array([*xy, 0.0]), camera) for symbol, xy in sim.task.layout.tiles.items()}
    places = [(symbol, pixel) for symbol, pixel in tiles.items() if in_image(pixel, height, width)]
    objects = [sim.project(sim.object_position(o.name), camera) for o in sim.task.layout.objects]
    away = [p for p in objects if in_image(p, height, width) and _far(p, tiles.values(), AWAY_FROM_TILES * width)]
    if away:
        places.append((NO_TILE, away[int(rng.integers(len(away)))]))
    # In a random order: training holds out every 20th example, and with the `none` glimpse always last of
    # a scene's four, all of them were `none` (rt2 probe read 300/300 right while tiles were read 28/60).
    out = []
    for index in rng.permutation(len(places)):
        answer, pixel = places[index]
        center = (pixel + rng.uniform(-1, 1, 2) * GLIMPSE_JITTER * width) * zoom
        out.append((crop_glimpse(detail, center, zoom, width), str(rng.choice(GLIMPSE_PHRASES)), answer))
    return out


def _far(pixel: np.ndarray, tiles, distance: float) -> bool:
    return all(np.linalg.norm(pixel - t) >= distance for t in tiles)
