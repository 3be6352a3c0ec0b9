"""Language tasks: how each one lays out the table, how it is phrased, and when it has succeeded.

Success is computed from simulator state only (object poses and gripper contacts), never from what
the policy said or did, so a near miss fails the same way for the expert, a model and a replay.
"Left" and "right" are as seen in the scene camera, which faces the robot across the table:
left is -y of the base frame (the robot's right).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rt2_ros.sim.layout import WORKSPACE_X, Layout, place, sample_attributes
from rt2_ros.sim.scene import TILE_HALF
from rt2_ros.sim.textures import DIGITS

if TYPE_CHECKING:
    from rt2_ros.sim.env import TabletopSim

LIFT_HEIGHT = 0.05  # pick: lifted more than this above where it started, and held
NEAR_DISTANCE = 0.10  # move near: centres closer than this
PUSH_DISTANCE = 0.10  # push: moved at least this far in the named direction
RESTING_TOLERANCE = 0.012  # an object counts as resting when within this of its resting height
PUSH_DIRECTIONS = {"left": -1.0, "right": 1.0}  # sign along the base y axis; see the module docstring

TEMPLATES: dict[str, tuple[str, ...]] = {
    "pick": (
        "pick up the {target}",
        "lift the {target}",
        "grab the {target} and lift it",
        "pick the {target} up off the table",
    ),
    "move_near": (
        "move the {target} near the {reference}",
        "put the {target} next to the {reference}",
        "bring the {target} close to the {reference}",
        "place the {target} beside the {reference}",
    ),
    "place_on": (
        "place the {target} on the {reference}",
        "put the {target} on top of the {reference}",
        "stack the {target} on the {reference}",
    ),
    "place_on_tile": ("place the {target} on {tile}", "put the {target} onto {tile}", "move the {target} to {tile}"),
    "push": (
        "push the {target} to the {direction}",
        "slide the {target} {direction}",
        "nudge the {target} towards the {direction}",
        "push the {target} {direction}wards",
    ),
    "pick_attribute": ("pick up the {attribute}", "lift the {attribute}", "grab the {attribute}"),
}
DIGIT_TILE_PHRASES = ("the tile with number {symbol}", "the number {symbol} tile", "tile {symbol}")
ICON_TILE_PHRASES = ("the tile with the {symbol}", "the {symbol} tile")


def tile_phrase(symbol: str, rng: np.random.Generator) -> str:
    """How an instruction names the tile with `symbol`: `the tile with number 8`, `the moon tile`, ..."""
    phrases = DIGIT_TILE_PHRASES if symbol in DIGITS else ICON_TILE_PHRASES
    return str(rng.choice(phrases)).format(symbol=symbol)


ATTRIBUTE_PHRASES = {
    "largest": ("largest object", "biggest object", "largest thing on the table"),
    "smallest": ("smallest object", "tiniest object", "smallest thing on the table"),
    "colour": ("{colour} object", "{colour} one", "{colour} thing"),
}


@dataclass
class TaskInstance:
    """One sampled episode of a task: its layout, words and roles."""

    name: str
    seed: int
    layout: Layout
    instruction: str
    target: str  # the object the task is about
    reference: str = ""  # the other object, the tile symbol or the direction, by task
    start_positions: dict[str, np.ndarray] = field(default_factory=dict)

    def start(self, sim: TabletopSim) -> None:
        self.start_positions = {o.name: sim.object_position(o.name) for o in self.layout.objects}

    def success(self, sim: TabletopSim) -> bool:
        return TASKS[self.name].check(self, sim)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary, as published on /sim/task."""
        return {
            "task": self.name,
            "seed": self.seed,
            "instruction": self.instruction,
            "target": self.target,
            "reference": self.reference,
            "table": self.layout.table,
            "objects": [
                {"name": o.name, "colour": o.colour, "shape": o.shape, "size": o.size_name, "xy": list(o.xy)}
                for o in self.layout.objects
            ],
            "tiles": {s: list(xy) for s, xy in self.layout.tiles.items()},
        }


@dataclass(frozen=True)
class Task:
    sample: Callable[[np.random.Generator], tuple[Layout, dict[str, str]]]  # layout, template fields + roles
    check: Callable[[TaskInstance, TabletopSim], bool]


def _lifted_and_held(sim: TabletopSim, instance: TaskInstance, name: str) -> bool:
    return sim.object_position(name)[2] - instance.start_positions[name][2] > LIFT_HEIGHT and sim.touching_gripper(name)


def _resting_on_table(sim: TabletopSim, name: str) -> bool:
    return abs(
        sim.object_position(name)[2] - sim.object(name).size / 2
    ) < RESTING_TOLERANCE and not sim.touching_gripper(name)


# --- samplers --------------------------------------------------------------------------------


def _sample_pick(rng):
    layout = place(rng, sample_attributes(rng, int(rng.integers(3, 5))), n_tiles=int(rng.integers(0, 3)))
    return layout, {"target": layout.objects[int(rng.integers(len(layout.objects)))].name}


def _sample_move_near(rng):
    while True:
        layout = place(rng, sample_attributes(rng, int(rng.integers(3, 5))), n_tiles=int(rng.integers(0, 3)))
        i, j = rng.choice(len(layout.objects), size=2, replace=False)
        a, b = layout.objects[i], layout.objects[j]
        if np.hypot(a.xy[0] - b.xy[0], a.xy[1] - b.xy[1]) > 0.2:
            return layout, {"target": a.name, "reference": b.name}


def _sample_place_on(rng):
    while True:
        layout = place(rng, sample_attributes(rng, int(rng.integers(3, 5))), n_tiles=int(rng.integers(0, 3)))
        pairs = [
            (a, b)
            for a in layout.objects
            for b in layout.objects
            if a is not b and a.size_name != "large" and b.size_name != "small" and a.size <= b.size
        ]
        if pairs:
            a, b = pairs[int(rng.integers(len(pairs)))]
            return layout, {"target": a.name, "reference": b.name}


def _sample_place_on_tile(rng):
    symbol = str(rng.choice(DIGITS + ("star", "heart", "moon", "cross")))
    layout = place(rng, sample_attributes(rng, int(rng.integers(2, 4))), n_tiles=3, required_tiles=(symbol,))
    tile = tile_phrase(symbol, rng)
    return layout, {"target": layout.objects[0].name, "reference": symbol, "tile": tile}


def _sample_push(rng):
    direction = str(rng.choice(list(PUSH_DIRECTIONS)))
    sign = PUSH_DIRECTIONS[direction]
    # Start on the side opposite the push so the object ends inside the workspace.
    xy = (float(rng.uniform(WORKSPACE_X[0] + 0.04, WORKSPACE_X[1] - 0.04)), float(-sign * rng.uniform(0.0, 0.12)))
    corridor = [(xy[0], xy[1] + sign * d, 0.06) for d in np.linspace(-0.1, 0.22, 9)]
    layout = place(
        rng,
        sample_attributes(rng, int(rng.integers(2, 4))),
        n_tiles=int(rng.integers(0, 2)),
        keep_clear=corridor,
        fixed={0: xy},
    )
    return layout, {"target": layout.objects[0].name, "reference": direction, "direction": direction}


def _sample_pick_attribute(rng):
    kind = str(rng.choice(list(ATTRIBUTE_PHRASES)))
    layout = place(rng, sample_attributes(rng, 3, distinct_sizes=kind != "colour"), n_tiles=int(rng.integers(0, 3)))
    if kind == "colour":
        target = layout.objects[int(rng.integers(len(layout.objects)))]
        attribute = str(rng.choice(ATTRIBUTE_PHRASES[kind])).format(colour=target.colour)
    else:
        ordered = sorted(layout.objects, key=lambda o: o.size)
        target = ordered[-1] if kind == "largest" else ordered[0]
        attribute = str(rng.choice(ATTRIBUTE_PHRASES[kind]))
    return layout, {"target": target.name, "reference": kind, "attribute": attribute}


# --- success checks ------------------------------------------------------------------------------


def _check_pick(instance, sim):
    return _lifted_and_held(sim, instance, instance.target)


def _check_move_near(instance, sim):
    distance = np.linalg.norm(sim.object_position(instance.target)[:2] - sim.object_position(instance.reference)[:2])
    return bool(distance < NEAR_DISTANCE and _resting_on_table(sim, instance.target))


def _check_place_on(instance, sim):
    top, bottom = sim.object(instance.target), sim.object(instance.reference)
    p, q = sim.object_position(instance.target), sim.object_position(instance.reference)
    centred = np.linalg.norm(p[:2] - q[:2]) < bottom.size / 2
    stacked = abs(p[2] - (q[2] + bottom.size / 2 + top.size / 2)) < RESTING_TOLERANCE
    return bool(centred and stacked and not sim.touching_gripper(instance.target))


def _check_place_on_tile(instance, sim):
    p = sim.object_position(instance.target)
    tile = np.array(instance.layout.tiles[instance.reference])
    return bool(np.all(np.abs(p[:2] - tile) < TILE_HALF) and _resting_on_table(sim, instance.target))


def _check_push(instance, sim):
    moved = sim.object_position(instance.target) - instance.start_positions[instance.target]
    along = PUSH_DIRECTIONS[instance.reference] * moved[1]
    return bool(along > PUSH_DISTANCE and abs(moved[0]) < 0.06 and _resting_on_table(sim, instance.target))


def _check_pick_attribute(instance, sim):
    others_down = all(
        sim.object_position(o.name)[2] - instance.start_positions[o.name][2] < 0.02
        for o in instance.layout.objects
        if o.name != instance.target
    )
    return _lifted_and_held(sim, instance, instance.target) and others_down


TASKS: dict[str, Task] = {
    "pick": Task(_sample_pick, _check_pick),
    "move_near": Task(_sample_move_near, _check_move_near),
    "place_on": Task(_sample_place_on, _check_place_on),
    "place_on_tile": Task(_sample_place_on_tile, _check_place_on_tile),
    "push": Task(_sample_push, _check_push),
    "pick_attribute": Task(_sample_pick_attribute, _check_pick_attribute),
}


def task_names() -> list[str]:
    return list(TASKS)


def sample_task(name: str, seed: int) -> TaskInstance:
    """The episode of task `name` for `seed`: same seed, same layout and words."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; tasks are {', '.join(TASKS)}")
    rng = np.random.default_rng([seed, list(TASKS).index(name)])
    layout, fields = TASKS[name].sample(rng)
    instruction = str(rng.choice(TEMPLATES[name])).format(**fields)
    return TaskInstance(
        name=name,
        seed=seed,
        layout=layout,
        instruction=instruction,
        target=fields["target"],
        reference=fields.get("reference", ""),
    )
