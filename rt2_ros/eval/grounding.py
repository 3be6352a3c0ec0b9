"""First-frame grounding: does a plan-trained model's first plan put the named object where it is?

Closed loop, a plan model steers by its plan's first point, the object the instruction names; when
that point is off on the first frame, the arm goes to the wrong place however well it acts. This
asks on the first frame (arm at home) of training scenes and of evaluation scenes, and also asks the
same model `point to the <object>.` as a VQA question on the same image. A model that points well
but plans badly does not use what it sees in its plan; one that does both badly does not find the
object. Teacher-forced validation cannot tell: it feeds the true plan tokens before each one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rt2_ros.data import splits
from rt2_ros.eval.probe import point_px

NEAR_PX = 3.0  # about 2 cm on the 96 px scene camera: more and the open fingers miss a 2-4 cm object


def _summary(errors: list[float | None]) -> dict[str, Any]:
    """Median error (px) and the share within NEAR_PX; answers without a point count as misses."""
    parsed = [e for e in errors if e is not None]
    return {
        "median_px": float(np.median(parsed)) if parsed else None,
        "near": sum(e <= NEAR_PX for e in parsed) / len(errors),
        "not_a_point": len(errors) - len(parsed),
    }


def first_frame_grounding(
    policy, sim, camera: str, seeds_per_task: int, tasks: tuple[str, ...] = splits.CATEGORY_TASKS["seen"]
) -> dict[str, Any]:
    """Plan and VQA pointing errors on the first frame of `seeds_per_task` training and evaluation scenes."""
    from rt2_ros.data.plan_points import plan_text

    if not policy.vla.config.plan_trained:
        raise ValueError(f"model {policy.vla.name!r} writes no plan (rt2_config.json plan_trained is false)")
    size = sim.cameras.sizes[camera][0]
    scenes = {
        "train": lambda task: splits.robot_seeds(task, seeds_per_task),
        "eval": lambda task: splits.eval_seeds("seen", task, seeds_per_task),
    }
    out: dict[str, Any] = {"near_px": NEAR_PX, "seeds_per_task": seeds_per_task}
    for split, seeds_of in scenes.items():
        plan_errors: dict[str, list[float | None]] = {}
        vqa_errors: list[float | None] = []
        for task in tasks:
            plan_errors[task] = []
            for seed in seeds_of(task):
                instance = sim.reset(task, seed)
                image = sim.images()[camera]
                truth = point_px(plan_text(sim, camera), size)  # the first point is the named object
                policy.reset()
                for errors, text in (
                    (plan_errors[task], policy.act(image, instance.instruction).plan),
                    (vqa_errors, policy.answer(image, f"point to the {sim.task.target}.")),
                ):
                    guess = point_px(text, size)
                    errors.append(None if guess is None else float(np.linalg.norm(guess - truth)))
        out[split] = {
            "plan": _summary([e for errors in plan_errors.values() for e in errors]),
            "vqa_point": _summary(vqa_errors),
            "plan_by_task": {task: _summary(errors) for task, errors in plan_errors.items()},
        }
    return out
