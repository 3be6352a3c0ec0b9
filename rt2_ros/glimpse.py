"""Glimpses: a zoomed crop of a high-resolution camera image, so the model can read what its 96x96 view cannot.

Why: at 96x96 a tile's digit is 3-4 grey pixels, and the shipped weights pointed to the named digit tile
only about half the time (sessions 19-22). A real camera gives hundreds of pixels per side; a crop of a
sixth of the image around a candidate, resized to the model's input, shows the digit at six times the
scale, where the same model reads it once trained on enough glimpses (session 25). The goal is then found
in two steps (Policy's goal locator with goal_glimpse_zoom set): the model's likeliest answers to "where
is the <goal>?" are the places to read, since they fall on the tiles even when the first one is the wrong
tile; each is read in a glimpse, and the tile read most often as the symbol the instruction names is kept
(find_named: the glimpses of one tile vote).

The crop is the same function for training data (rt2 vqa --kinds tile_glimpse) and for decoding, so a
glimpse at decoding time looks like the glimpses trained on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

# Asked about a glimpse; the answer is the symbol ("3", "moon") or NO_TILE.
GLIMPSE_QUESTION = "which symbol is on the tile in the middle?"
GLIMPSE_PHRASES = (GLIMPSE_QUESTION, "what is on the middle tile?", "read the tile in the centre.")
NO_TILE = "none"  # the answer when no tile is in the middle of the glimpse
GLIMPSE_ZOOM = 6  # the zoom models/rt2-sim reads (its goal_glimpse_zoom): `rt2 vqa --glimpse-zoom`'s default
MERGE_LOC_BINS = 40  # candidates closer than this (about 4 px of a 96 px image) are one place
# The places read: the likeliest 4 rows and 3 columns for each of the pointing answer. Session 26: the
# named tile was among them for 119 of 120 tiles, against 109 for the points to all 14 tile names
# (seeds 3000020-3000059, model card section "Session 26"); with every place read for the vote, finding
# takes 0.69 s once per episode (`rt2 probe --goal-tiles 60`).
CANDIDATE_ROWS, CANDIDATE_COLUMNS = 4, 3
# Candidates closer than this (about 8 px) to a better-ranked one are glimpses of its tile. Why 8 px: the
# two glimpses of seed 1000038's 0 tile were 4 px above and below it (their mean 1 px from its centre),
# and tiles in view are at least 10 px apart (900 pairs, seeds 1000000-99 and 3000000-199).
TILE_LOC_BINS = 90


def crop_glimpse(image: np.ndarray, center: np.ndarray, zoom: int, size: int) -> np.ndarray:
    """The size x size crop of `image` (HxWx3) showing 1/zoom of its height and width around `center`.

    center: (column, row) in `image`'s pixels. Outside the image the edge pixels are repeated, so a
    glimpse near the border still has the candidate in its middle.
    """
    height, width = image.shape[:2]
    window_h, window_w = max(1, round(height / zoom)), max(1, round(width / zoom))
    top, left = round(center[1] - window_h / 2), round(center[0] - window_w / 2)
    padded = np.pad(image, ((window_h, window_h), (window_w, window_w), (0, 0)), mode="edge")
    crop = padded[top + window_h : top + 2 * window_h, left + window_w : left + 2 * window_w]
    if crop.shape[:2] != (size, size):
        crop = np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR))
    return crop


def distinct_places(points: Sequence[np.ndarray | None], merge: int = MERGE_LOC_BINS) -> list[np.ndarray]:
    """The points in order, leaving out any within `merge` loc bins of an earlier one (and None)."""
    places: list[np.ndarray] = []
    for point in points:
        if point is not None and all(np.abs(point - p).max() >= merge for p in places):
            places.append(np.asarray(point))
    return places


def names_a_symbol(name: str, symbols: Sequence[str]) -> bool:
    """Whether a word of `name` ("number 3 tile") is one of `symbols` ("3"): a goal glimpses can find."""
    return bool(set(name.lower().split()) & {symbol.lower() for symbol in symbols})


def find_named(
    places: Sequence[np.ndarray], read: Callable[[np.ndarray], str], wanted: str, tile: int = TILE_LOC_BINS
) -> tuple[np.ndarray | None, list[str]]:
    """Where the tile whose glimpses read as a word of `wanted` ("number 3 tile" wants "3") is, and every reading.

    Every place is read. Places within `tile` loc bins of a better-ranked place are glimpses of the same
    tile. A tile whose places read the wanted symbol more often than any other symbol is a candidate, and
    the one read so most often wins (the better ranked on a tie); its place is the mean of those places.
    Why a vote: a glimpse a few pixels off a tile's centre can misread it (session 26, place_on_tile seed
    1000038: five glimpses of the 6 tile read 6 and two read 0, and with the first reading kept the arm
    went to the 6 tile; seed 3000041: two glimpses beside the 9 tile read 2, seven of the 2 tile read 2).
    Why a word of the name: the instruction's phrase is free ("the tile with number 3", "the moon tile"),
    the reading is the symbol alone, and a symbol is a whole word of any phrase that names it.
    """
    words = set(wanted.lower().split())
    readings = [read(place).strip().lower() for place in places]
    tiles: list[list[int]] = []  # indices of places, the first (best ranked) one the tile's anchor
    for index, place in enumerate(places):
        same = next((t for t in tiles if np.abs(place - places[t[0]]).max() < tile), None)
        if same is None:
            tiles.append([index])
        else:
            same.append(index)
    best: list[int] = []
    for members in tiles:
        agreeing = [i for i in members if readings[i] in words and readings[i] != NO_TILE]
        others = Counter(readings[i] for i in members if readings[i] not in words and readings[i] != NO_TILE)
        if len(agreeing) > max(max(others.values(), default=0), len(best)):
            best = agreeing
    if not best:
        return None, readings
    return np.rint(np.mean([places[i] for i in best], axis=0)).astype(int), readings
