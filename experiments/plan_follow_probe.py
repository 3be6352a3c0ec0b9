"""Do a plan-trained VLA's actions follow its plan? Teacher-forced plans with the object point moved.

Session 7 question: with the plan's object point set to the model's own (good) VQA answer, the
policy still failed every seen episode, so the actions may not read the plan at all. Here the true
plan of a held-out robot frame is fed (`Plan: <plan> Action:`) with its object point moved by
+--shift and by -shift pixels, along the image's columns, then its rows; half the difference of the
expected bin of each action value (softmax over the 256 bins, greedy choice fed to the next
position) between the two is the model's response to a move of --shift pixels.
A model whose actions follow the plan moves dx / dy by about what the expert would: the expert's
sensitivity is a least-squares fit of its bins to (object - gripper) in pixels on the same frames.
Only approach frames count (gripper open, object more than 10 px from the gripper): there the
expert's action is a function of where the object is.

    .venv/bin/python experiments/plan_follow_probe.py --model runs/s6-policy/model \
        --data runs/data/s3-a runs/data/s3-b --frames 120 --shift 12
"""

from __future__ import annotations

import argparse
import re

import numpy as np
import torch
from plan_probe import points  # the plan's points in pixels (this folder; a script's folder is on sys.path)

from rt2_ros.actions import N_TOKENS, TOKEN_NAMES
from rt2_ros.data.plan_points import with_offsets
from rt2_ros.policy import Policy
from rt2_ros.train_data import load_robot_steps
from rt2_ros.vla.decoding import KVStream, allowed_bins
from rt2_ros.vla.model import LOC_BINS

OBJECT_POINT = re.compile(r"^([^<]+)<loc(\d{4})><loc(\d{4})>")
FAR_PX = 10.0


def shifted(plan: str, rows: float, columns: float, size: int) -> str:
    """The plan with its first (object) point moved by (rows, columns) pixels, clipped to the image."""
    name, y, x = OBJECT_POINT.match(plan).groups()
    step = LOC_BINS / size
    y = int(np.clip(int(y) + round(rows * step), 0, LOC_BINS - 1))
    x = int(np.clip(int(x) + round(columns * step), 0, LOC_BINS - 1))
    return OBJECT_POINT.sub(f"{name}<loc{y:04d}><loc{x:04d}>", plan, count=1)


@torch.inference_mode()
def expected_bins(policy: Policy, image, instruction: str, plan: str, gripper_state: str) -> np.ndarray:
    """(8,) expected bin at each action position after a teacher-forced plan (greedy choice fed on)."""
    vla = policy.vla
    inputs = vla.encode_prompt(image, vla.action_prompt(instruction, gripper_state))
    stream = KVStream(vla.model, inputs)
    if vla.config.plan_offsets:  # the offsets follow the moved point, as they would in the model's own plan
        plan = with_offsets(plan, vla.config.plan_offsets)
    stream.feed(vla.text_ids(f"{vla.config.plan_prefix} {plan} {vla.config.action_marker}"))
    out = np.zeros(N_TOKENS)
    for k in range(N_TOKENS):
        ids = vla.action_ids[allowed_bins(k)]
        probs = torch.softmax(stream.logits[ids].float(), dim=-1).numpy()
        out[k] = float(probs @ np.arange(len(probs)))
        stream.feed([int(ids[int(np.argmax(probs))])])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", nargs="+", required=True, help="datasets with plans (rt2 plans)")
    parser.add_argument("--frames", type=int, default=120, help="approach frames to use")
    parser.add_argument("--shift", type=float, default=12.0, help="pixels the object point moves")
    parser.add_argument("--camera", default="scene")
    args = parser.parse_args()
    torch.set_num_threads(1)
    policy = Policy.from_pretrained(args.model)
    if policy.vla.config.plan_offsets not in ("", "gripper"):
        parser.error("this probe moves the object point of 'gripper'-style plans only")
    steps = load_robot_steps(args.data, args.camera, plans=True).val
    gripper = np.asarray(steps["action"])[:, 6]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(steps))
    names = TOKEN_NAMES[1:4]  # dx dy dz
    deltas = {"columns": [], "rows": []}
    offsets, expert = [], []
    used = 0
    for i in order:
        if used >= args.frames:
            break
        row = steps[int(i)]
        if gripper[i] > 0.5:
            continue
        image = np.asarray(row["images"][args.camera])
        size = image.shape[1]
        said = points(row["plan"], size)
        obj, grip = said["object"], said["gripper"]
        if np.linalg.norm(obj - grip) <= FAR_PX:
            continue
        used += 1
        state = row["gripper_state"]
        for axis, (dr, dc) in {"columns": (0, args.shift), "rows": (args.shift, 0)}.items():
            plus = expected_bins(policy, image, row["instruction"], shifted(row["plan"], dr, dc, size), state)
            minus = expected_bins(policy, image, row["instruction"], shifted(row["plan"], -dr, -dc, size), state)
            deltas[axis].append((plus - minus)[1:4] / 2)
        offsets.append(obj - grip)
        expert.append(policy.vla.actions.encode(np.asarray(row["action"], dtype=np.float64))[1:4])
        if used % 20 == 0:
            print(f"{used}/{args.frames} frames", flush=True)
    offsets, expert = np.array(offsets), np.array(expert, dtype=float)
    # Expert: bins ~ a + B (row, column) offset; its change for a shift is B * shift.
    design = np.hstack([np.ones((len(offsets), 1)), offsets])
    coef, *_ = np.linalg.lstsq(design, expert, rcond=None)
    print(f"frames {used}, shift {args.shift:g} px; expected-bin change per shift (model) vs least-squares expert")
    for axis, k in (("rows", 1), ("columns", 2)):
        model = np.array(deltas[axis])
        for j, name in enumerate(names):
            print(
                f"  object {axis:7s} {name}: model {model[:, j].mean():+6.2f} (|.| {np.abs(model[:, j]).mean():5.2f})"
                f"  expert {coef[k, j] * args.shift:+6.2f}"
            )


if __name__ == "__main__":
    main()
