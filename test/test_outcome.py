"""rt2_ros.eval.outcome: each failure class from a real sim episode that ends that way, and the classes in
`rt2 eval`'s results as the episodes ended.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rt2_ros.data.splits import eval_seeds
from rt2_ros.eval.outcome import FAILURES, OutcomeTracker
from rt2_ros.eval.report import Run, failure_counts, markdown_report
from rt2_ros.eval.rollout import ExpertAgent, RolloutOptions, run_episode
from rt2_ros.policy import Action
from rt2_ros.sim.env import TabletopSim

PICK_SEED = eval_seeds("seen", "pick", 1)[0]


@pytest.fixture(scope="module")
def sim():
    sim = TabletopSim("ur5e", cameras={"scene": (32, 32)})
    yield sim
    sim.close()


class Still:
    """Never moves; holds the gripper at one command."""

    name = "still"

    def __init__(self, gripper: float) -> None:
        self.gripper = gripper

    def reset(self, sim):
        pass

    def act(self, image, instruction):
        return Action(False, np.zeros(6, np.float32), self.gripper, tokens=[])


def test_the_expert_holds_its_object_and_closes_over_its_centre(sim):
    result = run_episode(sim, ExpertAgent(), "pick", PICK_SEED, RolloutOptions(max_steps=200))
    assert result.success and result.outcome["failure"] == ""
    assert result.outcome["held_target"] and result.outcome["held_other"] == []
    assert result.outcome["closes"] == 1 and result.outcome["close_offset_cm"] < 1.0
    assert result.to_dict()["failure"] == ""


def test_an_arm_that_never_closes_or_closes_on_air(sim):
    never = run_episode(sim, Still(0.0), "pick", PICK_SEED, RolloutOptions(max_steps=5))
    on_air = run_episode(sim, Still(1.0), "pick", PICK_SEED, RolloutOptions(max_steps=5))
    assert never.outcome["failure"] == "never_closed" and never.outcome["closes"] == 0
    assert never.outcome["close_offset_cm"] is None
    assert on_air.outcome["failure"] == "missed_grasp" and on_air.outcome["closes"] == 1
    assert not on_air.outcome["held_target"]
    # The arm waits at home, well away from the table's objects.
    assert on_air.outcome["close_offset_cm"] > 3.0 and on_air.outcome["nearest_cm"] > 5.0
    push = run_episode(sim, Still(0.0), "push", eval_seeds("seen", "push", 1)[0], RolloutOptions(max_steps=5))
    assert push.outcome["failure"] == "not_moved"


def test_an_object_pushed_aside_before_any_grasp_is_knocked(sim):
    sim.reset("pick", PICK_SEED)
    tracker = OutcomeTracker(sim)
    tracker.observe()
    assert tracker.failure(False) == "never_closed"
    target = sim.task.target
    sim.set_object_pose(target, sim.object_position(target) + [0.05, 0.0, 0.0])
    sim.step_control()
    tracker.observe()
    assert tracker.failure(False) == "knocked"
    assert tracker.failure(True) == ""


def test_lifting_another_object_is_grasped_other(sim):
    instance = sim.reset("pick", PICK_SEED)
    tracker = OutcomeTracker(sim)
    other = next(o.name for o in instance.layout.objects if o.name != instance.target)
    sim.task = dataclasses.replace(instance, target=other)  # the expert is told to pick another object
    try:
        expert = ExpertAgent()
        expert.reset(sim)
        period = 1.0 / sim.control_rate_hz
        for _ in range(150):
            action = expert.act(None, "")
            if action.terminate:
                break
            sim.command_twist(action.delta / period)
            sim.command_gripper(action.gripper)
            sim.step_control()
            tracker.observe()
        assert sim.success(), "the expert should have lifted the other object"
    finally:
        sim.task = instance
    assert tracker.held_others == {other} and not tracker.held_target
    assert tracker.failure(False) == "grasped_other"


def test_the_report_counts_failures_by_class(sim):
    short = RolloutOptions(max_steps=3)
    attribute_seed = eval_seeds("seen", "pick_attribute", 1)[0]
    results = [
        run_episode(sim, Still(0.0), "pick", PICK_SEED, short),
        run_episode(sim, Still(1.0), "pick", PICK_SEED, short),
        run_episode(sim, Still(1.0), "pick_attribute", attribute_seed, short),
    ]
    for result in results:
        result.category = "seen"
    assert failure_counts(results) == {"missed_grasp": 2, "never_closed": 1}
    settings = {"episodes_per_cell": 1, "robot": "ur5e", "camera": "scene", "image_size": [32, 32]}
    text = markdown_report([Run("still", "test", results)], {**settings, "max_steps": 3, "control_rate_hz": 10.0})
    assert f"| `missed_grasp`: {FAILURES['missed_grasp']} | 2 |" in text
    assert f"| `never_closed`: {FAILURES['never_closed']} | 1 |" in text
    assert "held_target" not in text
