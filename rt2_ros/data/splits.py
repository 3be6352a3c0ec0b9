"""The train/eval split of the sim world, as data: what the robot data never shows, and which seeds fit.

RT-2's evaluation asks whether skills carry over to things the robot data never showed. Here:

- unseen objects: objects of a HELD_OUT_COLOURS colour never appear in robot episodes; the sim VQA
  data (rt2_ros.data.vqa) shows and names them, so only co-fine-tuning can teach them.
- unseen backgrounds: HELD_OUT_TABLES table tops never appear in robot episodes.
- symbol understanding: HELD_OUT_SYMBOLS tiles (a digit and an icon) never appear in robot episodes;
  VQA asks which symbol lies under or beside objects, so the symbol is known only from VQA.
- reasoning: pick_attribute episodes that say "largest" / "smallest" rather than a colour.

Layouts are deterministic per (task, seed) (rt2_ros.sim.tasks.sample_task, which
TabletopSim.reset uses), so the split is a filter over seeds: robot data takes seeds from
ROBOT_SEED_START up, evaluation from EVAL_SEED_START up, so the two never share a layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rt2_ros.sim.scene import COLOURS, SHAPES, SYMBOLS
from rt2_ros.sim.tasks import TaskInstance, sample_task
from rt2_ros.sim.textures import TABLE_TEXTURES

if TYPE_CHECKING:
    from rt2_ros.sim.env import TabletopSim

HELD_OUT_COLOURS: tuple[str, ...] = ("purple",)
HELD_OUT_SHAPES: tuple[str, ...] = ()  # only two shapes exist; holding one out would halve the robot data
HELD_OUT_TABLES: tuple[str, ...] = ("linen",)
HELD_OUT_SYMBOLS: tuple[str, ...] = ("7", "heart")  # heart is one of the icons place_on_tile asks for

SEEN_COLOURS = tuple(c for c in COLOURS if c not in HELD_OUT_COLOURS)
SEEN_SHAPES = tuple(s for s in SHAPES if s not in HELD_OUT_SHAPES)
SEEN_TABLES = tuple(t for t in TABLE_TEXTURES if t not in HELD_OUT_TABLES)
SEEN_SYMBOLS = tuple(s for s in SYMBOLS if s not in HELD_OUT_SYMBOLS)

ROBOT_SEED_START = 0
EVAL_SEED_START = 1_000_000
MAX_SCAN = 200_000  # seeds tried before giving up: a category no layout can fit is a bug, not a long wait

CATEGORIES = ("seen", "unseen_objects", "unseen_backgrounds", "symbols", "reasoning")
# The tasks each category makes sense for (e.g. only place_on_tile names a tile).
CATEGORY_TASKS: dict[str, tuple[str, ...]] = {
    "seen": ("pick", "move_near", "place_on", "place_on_tile", "push", "pick_attribute"),
    "unseen_objects": ("pick", "move_near", "place_on", "place_on_tile", "push", "pick_attribute"),
    "unseen_backgrounds": ("pick", "move_near", "place_on", "place_on_tile", "push", "pick_attribute"),
    "symbols": ("place_on_tile",),
    "reasoning": ("pick_attribute",),
}


def _colours(instance: TaskInstance) -> set[str]:
    return {o.colour for o in instance.layout.objects}


def _shapes(instance: TaskInstance) -> set[str]:
    return {o.shape for o in instance.layout.objects}


def is_seen(instance: TaskInstance) -> bool:
    """True when nothing held out appears in the layout: the robot data's world."""
    return (
        not _colours(instance) & set(HELD_OUT_COLOURS)
        and not _shapes(instance) & set(HELD_OUT_SHAPES)
        and instance.layout.table not in HELD_OUT_TABLES
        and not set(instance.layout.tiles) & set(HELD_OUT_SYMBOLS)
    )


def fits(category: str, instance: TaskInstance) -> bool:
    """Whether a layout belongs to an evaluation category (each one changes exactly one thing from 'seen')."""
    layout = instance.layout
    seen_table = layout.table not in HELD_OUT_TABLES
    seen_tiles = not set(layout.tiles) & set(HELD_OUT_SYMBOLS)
    if category == "seen":
        return is_seen(instance)
    if category == "unseen_objects":
        # The object the task is about has a held-out colour (or shape); the rest of the scene is seen.
        target = layout.find(instance.target)
        novel = target.colour in HELD_OUT_COLOURS or target.shape in HELD_OUT_SHAPES
        return novel and seen_table and seen_tiles
    if category == "unseen_backgrounds":
        others_seen = not _colours(instance) & set(HELD_OUT_COLOURS) and not _shapes(instance) & set(HELD_OUT_SHAPES)
        return layout.table in HELD_OUT_TABLES and others_seen and seen_tiles
    if category == "symbols":
        if instance.name != "place_on_tile" or instance.reference not in HELD_OUT_SYMBOLS:
            return False
        others = set(layout.tiles) - {instance.reference}
        return not others & set(HELD_OUT_SYMBOLS) and not _colours(instance) & set(HELD_OUT_COLOURS) and seen_table
    if category == "reasoning":
        return instance.name == "pick_attribute" and instance.reference in ("largest", "smallest") and is_seen(instance)
    raise ValueError(f"unknown category {category!r}; categories are {', '.join(CATEGORIES)}")


def _scan(task: str, start: int, keep) -> Iterator[int]:
    for seed in range(start, start + MAX_SCAN):
        if keep(sample_task(task, seed)):
            yield seed
    raise RuntimeError(f"no more seeds of {task!r} fit after {MAX_SCAN} tries")


def iter_robot_seeds(task: str, start: int = ROBOT_SEED_START) -> Iterator[int]:
    """Seeds >= start whose layout of `task` shows nothing held out, in order (endless until MAX_SCAN)."""
    if start >= EVAL_SEED_START:
        raise ValueError(f"robot seeds must stay below {EVAL_SEED_START}, where evaluation seeds begin")
    return _scan(task, start, is_seen)


def _take(iterator: Iterator[int], n: int) -> list[int]:
    return [next(iterator) for _ in range(n)]


def robot_seeds(task: str, n: int, sim: TabletopSim | None = None, start: int = ROBOT_SEED_START) -> list[int]:
    """The first `n` seeds >= start whose layout of `task` shows nothing held out (for `rt2 collect`).

    `sim` is accepted for symmetry with the sim API but not needed: the layout is
    rt2_ros.sim.tasks.sample_task(task, seed), exactly what sim.reset(task, seed) lays out.
    """
    del sim
    return _take(iter_robot_seeds(task, start), n)


def eval_seeds(category: str, task: str, n: int, sim: TabletopSim | None = None, skip: int = 0) -> list[int]:
    """The first `n` seeds >= EVAL_SEED_START whose layout of `task` fits `category` (deterministic).

    skip: leave out the first `skip` of them, for fresh episodes once a model or setting was chosen on those.
    """
    del sim
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; categories are {', '.join(CATEGORIES)}")
    if task not in CATEGORY_TASKS[category]:
        raise ValueError(f"category {category!r} has no {task!r} episodes; its tasks are {CATEGORY_TASKS[category]}")
    if skip < 0:
        raise ValueError(f"skip must be at least 0, got {skip}")
    return _take(_scan(task, EVAL_SEED_START, lambda instance: fits(category, instance)), skip + n)[skip:]
