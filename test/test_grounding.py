"""rt2 probe --grounding: where a plan model's first plan puts the named object, on sim scenes it renders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_fit import fit_and_save

from rt2_ros.data import splits
from rt2_ros.eval.grounding import NEAR_PX, first_frame_grounding
from rt2_ros.eval.probe import main as probe
from rt2_ros.policy import Policy
from rt2_ros.sim import TabletopSim
from rt2_ros.vla import VLA
from rt2_ros.vla.training import build_example

torch.set_num_threads(1)

SIZE = 64
POINT = np.array([512, 256])  # the loc bins (row, column) the fixed plan always names
PLAN = "thing<loc0512><loc0256> gripper<loc0100><loc0100>"
ACTION = "0 128 128 128 128 128 128 0"


@pytest.fixture(scope="module")
def fixed_planner(tiny_model_dir, tmp_path_factory):
    """The tiny VLA fitted to write `Plan: PLAN Action: ACTION` for any image and instruction."""
    torch.manual_seed(0)
    vla = VLA.from_pretrained(tiny_model_dir)
    vla.config.plan_trained = True
    rng = np.random.default_rng(0)
    target = f"{vla.config.plan_prefix} {PLAN} {vla.config.action_marker} {ACTION}"
    examples = [
        build_example(vla, rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), vla.action_prompt(text), target)
        for text in ("pick up the red cube", "push the blue cylinder left", "lift the largest object")
    ]
    return fit_and_save(vla, examples, tmp_path_factory.mktemp("models") / "fixed-planner", steps=120)


def test_the_plan_error_is_the_distance_from_the_written_point_to_the_named_object(fixed_planner):
    sim = TabletopSim("ur5e", cameras={"scene": (SIZE, SIZE)})
    tasks = ("pick", "push")
    result = first_frame_grounding(Policy.from_pretrained(fixed_planner), sim, "scene", 2, tasks)
    splits_seeds = {
        "train": splits.robot_seeds,
        "eval": lambda task, n: splits.eval_seeds("seen", task, n),
        "unseen_objects": lambda task, n: splits.eval_seeds("unseen_objects", task, n),
    }
    for split, seeds_of in splits_seeds.items():
        errors, named, blind = [], [], []
        for task in tasks:
            for seed in seeds_of(task, 2):
                instance = sim.reset(task, seed)
                distance = {
                    o.name: np.linalg.norm(POINT * SIZE / 1024 - sim.project(sim.object_position(o.name))[::-1])
                    for o in instance.layout.objects
                }
                errors.append(distance[instance.target])
                named.append(min(distance, key=distance.get) == instance.target)
                blind.append(1 / len(distance))
        plan = result[split]["plan"]
        assert plan["median_px"] == pytest.approx(np.median(errors))
        assert plan["near"] == np.mean(np.array(errors) <= NEAR_PX) and plan["not_a_point"] == 0
        assert plan["named_is_nearest"] == np.mean(named) and plan["blind_guess"] == pytest.approx(np.mean(blind))
        assert set(result[split]["plan_by_task"]) == set(tasks)
        vqa = result[split]["vqa_point"]
        assert 0 <= vqa["near"] <= 1 and 0 <= vqa["not_a_point"] <= len(errors)
    sim.close()


def test_a_model_without_plans_is_refused_and_the_command_needs_something_to_probe(tiny_model_dir, capsys):
    sim = TabletopSim("ur5e", cameras={"scene": (SIZE, SIZE)})
    with pytest.raises(ValueError, match="plan_trained"):
        first_frame_grounding(Policy.from_pretrained(tiny_model_dir), sim, "scene", 1)
    sim.close()
    with pytest.raises(SystemExit):
        probe(["--model", str(tiny_model_dir)])
    assert "--grounding" in capsys.readouterr().err


def test_the_command_writes_the_grounding_as_json(fixed_planner, tmp_path, capsys):
    out = tmp_path / "grounding.json"
    assert probe(["--model", str(fixed_planner), "--grounding", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result == json.loads(capsys.readouterr().out)
    assert (
        set(result["grounding"]) >= {"train", "eval", "unseen_objects"} and result["grounding"]["seeds_per_task"] == 1
    )
    assert len(result["grounding"]["train"]["plan_by_task"]) == len(splits.CATEGORY_TASKS["seen"])
