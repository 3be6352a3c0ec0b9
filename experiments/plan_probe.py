"""Where does a plan-trained VLA think things are? Free-running plans on held-out robot frames, in pixels.

Session 4 question: a model trained with `rt2 train --plans` writes `Plan: <object><loc><loc>
gripper<loc><loc> [to<loc><loc>]` before each action. Training's `plan_point_err_px` is teacher
forced; this decodes the plan as the policy does and measures each point's distance to the truth
(the replayed sim state, `rt2 plans`) on validation frames (every 20th episode). "far object" keeps
only frames whose object is more than 10 px from the gripper: elsewhere "the object is at the
gripper" is right without looking, so that row is the one that says whether the model finds objects.
The last row is chance: the far objects' distance to their own median position.

    .venv/bin/python experiments/plan_probe.py --model runs/s4-objfirst/model \
        --data runs/data/s3-a runs/data/s3-b --frames 160

Session 5 question: mid-episode frames flatter a model, since the arm is already on its way to the
object. That question (first frames, arm at home, nearest object against a blind guess) is now
`rt2 probe --model M --grounding N` (rt2_ros/eval/grounding.py), which replaced this script's `--start`.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from rt2_ros.data.plan_points import plan_points
from rt2_ros.policy import Policy
from rt2_ros.train_data import load_robot_steps
from rt2_ros.vla.model import LOC_BINS

FAR_PX = 10.0


def points(plan: str, size: int) -> dict[str, np.ndarray]:
    """Plan text -> {"object" | "gripper" | "goal" | offsets: (row, column) in pixels}."""
    return {key: bins * size / LOC_BINS for key, bins in plan_points(plan).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", nargs="+", required=True, help="datasets with plans (rt2 plans)")
    parser.add_argument("--frames", type=int, default=160)
    parser.add_argument("--camera", default="scene")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = load_robot_steps(args.data, args.camera, plans=True).val
    policy = Policy.from_pretrained(args.model)
    errors: dict[str, list[float]] = {"gripper": [], "object": [], "goal": [], "far object": []}
    far_truths = []
    for i in np.linspace(0, len(steps) - 1, args.frames).astype(int):
        row = steps[int(i)]
        image = np.asarray(row["images"][args.camera])
        truth = points(row["plan"], image.shape[1])
        said = points(policy.act(image, row["instruction"]).plan, image.shape[1])
        for key in ("gripper", "object", "goal"):
            if key in truth and key in said:
                errors[key].append(float(np.linalg.norm(truth[key] - said[key])))
        if "object" in said and np.linalg.norm(truth["object"] - truth["gripper"]) > FAR_PX:
            errors["far object"].append(float(np.linalg.norm(truth["object"] - said["object"])))
            far_truths.append(truth["object"])
    if far_truths:  # chance: a blind model's best constant answer for these frames
        truths = np.stack(far_truths)
        errors["far object, blind (median position)"] = list(np.linalg.norm(truths - np.median(truths, 0), axis=1))
    for key, values in errors.items():
        if values:
            print(f"{key}: median {np.median(values):.1f} px, mean {np.mean(values):.1f} px, n {len(values)}")


if __name__ == "__main__":
    main()
