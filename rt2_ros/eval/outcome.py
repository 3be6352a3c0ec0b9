"""Why an episode failed: what the gripper and the task's object did, read from the sim once per step.

A success rate says how often a policy fails, not where to look next. The failure classes below
follow an episode of a grasping task in order (reach, close, hold, carry) and name the furthest
stage it reached; push has no grasp and is classed by whether the object moved at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rt2_ros.gripper_state import CLOSED_ABOVE
from rt2_ros.sim.env import TabletopSim
from rt2_ros.tool_points import holds_object

# Failure classes, furthest stage first: an episode is given the first that applies.
GRASP_FAILURES = {
    "held_target": "held the task's object at some step, yet did not finish (dropped, carried short, not released)",
    "grasped_other": "held another object and never the task's one",
    "knocked": "moved the task's object more than 2 cm before ever holding it",
    "missed_grasp": "closed the gripper but never held anything",
    "never_closed": "never closed the gripper",
}
PUSH_FAILURES = {
    "pushed_short": "moved the object, not far enough or not along the asked direction",
    "not_moved": "the object moved less than 2 cm",
}
FAILURES = {**GRASP_FAILURES, **PUSH_FAILURES}
KNOCKED_DISTANCE = 0.02  # m the object's centre moves when it is pushed aside or tipped over (a cylinder: ~3 cm)


@dataclass
class OutcomeTracker:
    """Watches one episode; `observe` after every control step, `summary` at its end."""

    sim: TabletopSim
    closes: int = 0  # times the gripper command went from open to closed
    close_offset_cm: float | None = None  # tool to object centre, horizontally, at the first close
    held_target: bool = False
    held_others: set[str] = field(default_factory=set)
    knocked: bool = False
    nearest_cm: float = float("inf")  # closest tool-object distance (3-D) over the episode
    _closed: bool = False

    def __post_init__(self) -> None:
        self.target = self.sim.task.target
        self.start = self.sim.object_position(self.target)
        self.others = [o.name for o in self.sim.task.layout.objects if o.name != self.target]

    def observe(self) -> None:
        sim, tool = self.sim, self.sim.tcp_pose()[0]
        target = sim.object_position(self.target)
        self.nearest_cm = min(self.nearest_cm, 100 * float(np.linalg.norm(tool - target)))
        closed = sim.gripper_command > CLOSED_ABOVE
        if closed and not self._closed:
            self.closes += 1
            if self.close_offset_cm is None:
                self.close_offset_cm = 100 * float(np.linalg.norm(tool[:2] - target[:2]))
        self._closed = closed
        holding = closed and bool(holds_object(sim.gripper_position()))
        if holding and sim.touching_gripper(self.target):
            self.held_target = True
        elif holding:
            self.held_others.update(name for name in self.others if sim.touching_gripper(name))
        if not self.held_target and np.linalg.norm(target - self.start) > KNOCKED_DISTANCE:
            self.knocked = True

    def failure(self, success: bool) -> str:
        """The failure class (a key of FAILURES), or "" for a success."""
        if success:
            return ""
        if self.sim.task.name == "push":
            moved = np.linalg.norm(self.sim.object_position(self.target) - self.start)
            return "pushed_short" if moved > KNOCKED_DISTANCE else "not_moved"
        if self.held_target:
            return "held_target"
        if self.held_others:
            return "grasped_other"
        if self.knocked:
            return "knocked"
        return "missed_grasp" if self.closes else "never_closed"

    def summary(self, success: bool) -> dict[str, Any]:
        return {
            "failure": self.failure(success),
            "closes": self.closes,
            "close_offset_cm": None if self.close_offset_cm is None else round(self.close_offset_cm, 2),
            "held_target": self.held_target,
            "held_other": sorted(self.held_others),
            "nearest_cm": round(self.nearest_cm, 2),
        }
