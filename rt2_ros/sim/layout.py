"""Seeded table layouts: which pooled objects appear, with which colour and pose, which tiles and table top.

A layout is plain data drawn from a numpy Generator, so the same seed gives the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rt2_ros.sim.scene import COLOURS, COPIES, SHAPES, SIZES, SYMBOLS, TILE_HALF
from rt2_ros.sim.textures import TABLE_TEXTURES

# Where things may be laid out, in the base frame: comfortably inside both arms' reach.
WORKSPACE_X = (0.34, 0.62)
WORKSPACE_Y = (-0.24, 0.24)
# Radii kept free around each thing: 6 + 6 cm between objects leaves room for open fingers between them.
OBJECT_CLEARANCE = 0.06
TILE_CLEARANCE = TILE_HALF * 1.45


@dataclass(frozen=True)
class PlacedObject:
    colour: str
    shape: str
    size_name: str
    xy: tuple[float, float]
    yaw: float

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    @property
    def size(self) -> float:
        return SIZES[self.size_name]


@dataclass
class Layout:
    objects: list[PlacedObject]
    tiles: dict[str, tuple[float, float]] = field(default_factory=dict)
    table: str = TABLE_TEXTURES[0]

    def find(self, name: str) -> PlacedObject:
        for placed in self.objects:
            if placed.name == name:
                return placed
        raise KeyError(name)


def _free_spot(
    rng: np.random.Generator,
    taken: list[tuple[float, float, float]],
    radius: float,
    x_range: tuple[float, float] = WORKSPACE_X,
    y_range: tuple[float, float] = WORKSPACE_Y,
) -> tuple[float, float]:
    for _ in range(1000):
        xy = (float(rng.uniform(*x_range)), float(rng.uniform(*y_range)))
        if all(np.hypot(xy[0] - x, xy[1] - y) >= radius + r for x, y, r in taken):
            return xy
    raise RuntimeError("no free spot on the table; the layout asks for too much")


def sample_attributes(rng: np.random.Generator, count: int, distinct_sizes: bool = False) -> list[tuple[str, str, str]]:
    """(colour, shape, size) for `count` objects; colours are distinct so 'the red cube' is unambiguous.

    Shapes and sizes are drawn from the scene's pool without replacement, so every object has a body.
    """
    pool = [(shape, size) for shape in SHAPES for size in SIZES for _ in range(COPIES)]
    while True:
        pairs = [pool[i] for i in rng.choice(len(pool), size=count, replace=False)]
        if not distinct_sizes or len({size for _, size in pairs}) == count:
            break
    colours = rng.choice(list(COLOURS), size=count, replace=False)
    return [(str(c), shape, size) for c, (shape, size) in zip(colours, pairs, strict=True)]


def place(
    rng: np.random.Generator,
    attributes: list[tuple[str, str, str]],
    n_tiles: int,
    required_tiles: tuple[str, ...] = (),
    keep_clear: list[tuple[float, float, float]] | None = None,
    fixed: dict[int, tuple[float, float]] | None = None,
) -> Layout:
    """Put objects and tiles on the table without overlaps (objects stand beside tiles, not on them).

    keep_clear: (x, y, radius) discs to leave empty; fixed: object index -> a position chosen by the task.
    """
    fixed = fixed or {}
    taken = list(keep_clear or []) + [(x, y, OBJECT_CLEARANCE) for x, y in fixed.values()]
    others = [s for s in SYMBOLS if s not in required_tiles]
    symbols = list(required_tiles) + [
        str(s) for s in rng.choice(others, size=n_tiles - len(required_tiles), replace=False)
    ]
    tiles: dict[str, tuple[float, float]] = {}
    for symbol in symbols:
        tiles[symbol] = _free_spot(rng, taken, TILE_CLEARANCE)
        taken.append((*tiles[symbol], TILE_CLEARANCE))
    objects = []
    for index, (colour, shape, size_name) in enumerate(attributes):
        xy = fixed.get(index)
        if xy is None:
            xy = _free_spot(rng, taken, OBJECT_CLEARANCE)
            taken.append((*xy, OBJECT_CLEARANCE))
        # Cubes are turned up to 40 degrees, so grasping them asks for a yaw of the gripper.
        yaw = float(rng.uniform(-0.7, 0.7)) if shape == "cube" else 0.0
        objects.append(PlacedObject(colour, shape, size_name, xy, yaw))
    return Layout(objects=objects, tiles=tiles, table=str(rng.choice(TABLE_TEXTURES)))
