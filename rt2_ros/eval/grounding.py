"""First-frame grounding: does a plan-trained model's first plan put the named object where it is?

Closed loop, a plan model steers by its plan's first point, the object the instruction names; when
that point is off on the first frame, the arm goes to the wrong place however well it acts. This
asks on the first frame (arm at home) of training scenes, of evaluation scenes and of unseen-object scenes
(a colour held out of the robot data, named only in the VQA data), and also asks the same model
`point to the <object>.` as a VQA question on the same image. A model that points well but plans badly
does not use what it sees in its plan; one that does both badly does not find the object; one that does
well on training scenes only has learnt those scenes. Teacher-forced validation cannot tell: it feeds the
true plan tokens before each one. (Session 5's experiments/plan_probe.py --start asked the first of these
questions, on evaluation scenes only.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rt2_ros.data import splits
from rt2_ros.eval.probe import point_px

NEAR_PX = 3.0  # about 2 cm on the 96 px scene camera: more and the open fingers miss a 2-4 cm object


def _summary(answers: list[tuple[float, bool] | None], blind: float) -> dict[str, Any]:
    """Median error (px), the share within NEAR_PX and the share whose nearest object is the named one
    (against `blind`, a blind guess's); answers without a point count as wrong."""
    parsed = [a for a in answers if a is not None]
    return {
        "median_px": float(np.median([error for error, _ in parsed])) if parsed else None,
        "near": sum(error <= NEAR_PX for error, _ in parsed) / len(answers),
        "named_is_nearest": sum(nearest for _, nearest in parsed) / len(answers),
        "blind_guess": blind,
        "not_a_point": len(answers) - len(parsed),
    }


def _judge(text: str, sim, camera: str, size: int) -> tuple[float, bool] | None:
    """(error px, nearest object is the named one) of the first point in text; None if it has none."""
    guess = point_px(text, size)
    if guess is None:
        return None
    # project() gives (column, row); points are (row, column)
    at = {o.name: sim.project(sim.object_position(o.name), camera)[::-1] for o in sim.task.layout.objects}
    nearest = min(at, key=lambda name: np.linalg.norm(at[name] - guess))
    return float(np.linalg.norm(guess - at[sim.task.target])), nearest == sim.task.target


def first_frame_grounding(
    policy, sim, camera: str, seeds_per_task: int, tasks: tuple[str, ...] = splits.CATEGORY_TASKS["seen"]
) -> dict[str, Any]:
    """Plan and VQA pointing on the first frame of `seeds_per_task` training, evaluation and unseen-object scenes
    per task."""
    if not policy.vla.config.plan_trained:
        raise ValueError(f"model {policy.vla.name!r} writes no plan (rt2_config.json plan_trained is false)")
    size = sim.cameras.sizes[camera][0]
    scenes = {
        "train": lambda task: splits.robot_seeds(task, seeds_per_task),
        "eval": lambda task: splits.eval_seeds("seen", task, seeds_per_task),
        "unseen_objects": lambda task: splits.eval_seeds("unseen_objects", task, seeds_per_task),
    }
    out: dict[str, Any] = {"near_px": NEAR_PX, "seeds_per_task": seeds_per_task}
    for split, seeds_of in scenes.items():
        plans: dict[str, list] = {task: [] for task in tasks}
        points: list = []
        blind: dict[str, list[float]] = {task: [] for task in tasks}
        for task in tasks:
            for seed in seeds_of(task):
                instance = sim.reset(task, seed)
                image = sim.images()[camera]
                policy.reset()
                plans[task].append(_judge(policy.act(image, instance.instruction).plan, sim, camera, size))
                points.append(_judge(policy.answer(image, f"point to the {instance.target}."), sim, camera, size))
                blind[task].append(1 / len(instance.layout.objects))
        every_blind = float(np.mean([b for values in blind.values() for b in values]))
        out[split] = {
            "plan": _summary([a for answers in plans.values() for a in answers], every_blind),
            "vqa_point": _summary(points, every_blind),
            "plan_by_task": {task: _summary(plans[task], float(np.mean(blind[task]))) for task in tasks},
        }
    return out
