"""Goal finding: for each tile of place_on_tile scenes, does the policy find it by its name?

Closed loop, a place_on_tile episode fails at once when the goal tile is the wrong one, and which tile the
first step picks is decided on that one frame. This asks, on the first frame (arm at home) of `scenes`
place_on_tile layouts, for every tile in view, where the policy's goal locator puts "the number 3 tile"
(`Policy.find_by_glimpses` with goal_glimpse_zoom, else the model's own point) and where the model's own
pointing answer puts it, and counts a tile found when the place is within FOUND_PX of its centre. The
seeds start at GOAL_SEED_START, apart from the training (rt2 vqa) and evaluation (rt2 eval) scenes.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from tqdm import tqdm

from rt2_ros.plan_grammar import loc_to_pixel

GOAL_SEED_START = 3_000_000  # sessions 25-26 measured on these
FOUND_PX = 6.0  # a tile is about 8 px wide on the 96 px scene camera: within 6 px the object lands on it


def tile_name(symbol: str) -> str:
    """The name a glimpse model is asked for: "number 3 tile", "moon tile"."""
    return f"number {symbol} tile" if symbol.isdigit() else f"{symbol} tile"


def goal_finding(policy, sim, camera: str, scenes: int, zoom: int, progress: bool = True) -> dict[str, Any]:
    """Tiles found by the goal locator and by the model's own point, on `scenes` place_on_tile first frames.

    sim must render `camera` at zoom times its size (TabletopSim(detail_zoom=zoom)); zoom 0 or 1 gives the
    locator the camera image itself."""
    height, width = sim.cameras.sizes[camera]
    found, pointed, errors, seconds, tiles = 0, 0, [], 0.0, []
    for seed in tqdm(range(GOAL_SEED_START, GOAL_SEED_START + scenes), desc="goal tiles", disable=not progress):
        sim.reset("place_on_tile", seed)
        image = sim.render(camera)
        detail = sim.render(camera, size=(height * zoom, width * zoom)) if zoom > 1 else image
        for symbol, xy in sim.task.layout.tiles.items():
            centre = sim.project(np.array([*xy, 0.0]), camera)
            name = tile_name(symbol)
            policy.reset()
            start = time.perf_counter()
            place = policy.find_by_glimpses(image, detail, name) if zoom > 1 else policy.point(image, name)
            seconds += time.perf_counter() - start
            error = _error(place, centre, height, width)
            own = _error(policy.point(image, name), centre, height, width) if zoom > 1 else error
            found, pointed = found + (error < FOUND_PX), pointed + (own < FOUND_PX)
            errors.append(error)
            readings = policy.glimpse_readings
            tiles.append({"seed": seed, "symbol": symbol, "error_px": _rounded(error), "readings": readings})
    n = len(tiles)
    return {
        "scenes": scenes,
        "first_seed": GOAL_SEED_START,
        "zoom": zoom,
        "found_px": FOUND_PX,
        "tiles": n,
        "found": found,
        "pointed": pointed,
        "median_error_px": _rounded(float(np.median(errors))) if errors else None,
        "seconds_per_find": round(seconds / max(n, 1), 3),
        "missed": [f"{t['seed']}:{t['symbol']}" for t in tiles if t["error_px"] is None or t["error_px"] >= FOUND_PX],
        "per_tile": tiles,
    }


def _error(place: np.ndarray | None, centre: np.ndarray, height: int, width: int) -> float:
    """Pixels from the place to the centre; a model without location tokens finds nothing (infinitely far)."""
    return float("inf") if place is None else float(np.linalg.norm(loc_to_pixel(place, height, width) - centre))


def _rounded(error: float) -> float | None:
    return round(error, 2) if np.isfinite(error) else None  # JSON has no infinity
