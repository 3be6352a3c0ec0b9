"""Closed loop with the true plan: is a plan-trained VLA's failure its plan or its actions?

Session 7 question. Each step, the plan `rt2 plans` would write for what the sim shows now (the
object's, gripper's and goal's true pixels, rt2_ros.data.plan_points.plan_text) is fed teacher
forced after `Plan:`, and the model decodes only the 8 action tokens, as Policy.act does after
its own plan. Episodes run through rt2_ros.eval.rollout.run_episode, the loop `rt2 eval` uses, on
the same seeds. High success here and none with the model's own plans puts the failure in the
plan (finding the object); none here puts it in the actions.

    .venv/bin/python experiments/oracle_plan_eval.py --model runs/s6-policy/model --episodes 2

Session 8: models trained with --plan-offsets get the offsets of their style and those trained with
--gripper-state their gripper state, as Policy would give them; each failure reports how near the
tool came to the object (horizontally), and --trace prints every step beside the tool's true offset.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from seen_episodes import seen_arguments, seen_episodes

from rt2_ros.data.plan_points import below_text, plan_text, with_offsets
from rt2_ros.eval.rollout import run_episode
from rt2_ros.images import to_pil
from rt2_ros.plan_grammar import LOC_BINS, plan_points
from rt2_ros.policy import Action, Policy
from rt2_ros.sim import TabletopSim
from rt2_ros.vla.decoding import decode_action_after_plan


class OraclePlanAgent:
    """The model's actions after the sim's true plan."""

    def __init__(self, policy: Policy, camera: str, trace: bool = False, object_from_model: bool = False) -> None:
        self.policy, self.camera, self.sim, self.trace = policy, camera, None, trace
        self.object_from_model = object_from_model
        self.object_errors: list[float] = []  # px, one per episode: the located point against the true one
        self.name = f"{policy.name} + true plan" + (" but the object's point" if object_from_model else "")

    def reset(self, sim: TabletopSim) -> None:
        self.sim = sim
        self.policy.reset()
        self.closest = np.inf  # horizontal tool-to-object distance, m: how near a failure came
        self.located: str | None = None  # --object-from-model: the first frame's answer, as <loc><loc>

    def _track(self) -> None:
        tool = self.sim.tcp_pose()[0][:2]
        self.closest = min(
            self.closest, float(np.linalg.norm(tool - self.sim.object_position(self.sim.task.target)[:2]))
        )

    def _with_located_object(self, image: np.ndarray, plan: str) -> str:
        """`plan` with its object point (the first) replaced by the model's located one until the gripper closes."""
        if self.policy.gripper_state.closed:
            self.located = ""  # from here on the true point: the object moves with the gripper
        if self.located is None:
            point = self.policy.point(image, self.sim.task.target)
            true = plan_points(plan)["object"]
            self.located = "" if point is None else f"<loc{point[0]:04d}><loc{point[1]:04d}>"
            if point is not None:
                self.object_errors.append(float(np.linalg.norm(point - true)) * image.shape[0] / LOC_BINS)
        return re.sub(r"<loc\d{4}><loc\d{4}>", self.located, plan, count=1) if self.located else plan

    @torch.inference_mode()
    def act(self, image: np.ndarray, instruction: str) -> Action:
        start = time.perf_counter()
        vla = self.policy.vla
        self._track()
        plan = plan_text(self.sim, self.camera)
        if self.object_from_model:
            plan = self._with_located_object(image, plan)
        if vla.config.plan_offsets:  # trained with rt2 train --plan-offsets: its plans end in offsets
            goal_height = vla.config.plan_offsets == "below-goal"
            plan = with_offsets(plan, vla.config.plan_offsets, below_text(self.sim, self.camera, goal_height))
        told = self.policy.gripper_state.text()
        inputs = vla.encode_prompt(to_pil(image), vla.action_prompt(instruction, told))
        bins = decode_action_after_plan(vla, inputs, plan).bins
        values, terminate = vla.actions.decode(bins)
        self.policy.gripper_state = self.policy.gripper_state.after(float(values[6]))
        if self.trace:  # what the model was told and did, beside where the tool really is
            offset = 100 * (self.sim.tcp_pose()[0] - self.sim.object_position(self.sim.task.target))
            print(
                f"  {told if vla.config.gripper_state else '':17s} gripper {values[6]:.2f} dz {1e3 * values[2]:+5.1f} "
                f"mm, tool - object {np.round(offset, 1)} cm, bins {bins.tolist()}"
            )
        total = 1e3 * (time.perf_counter() - start)
        return Action(terminate, values[:6].copy(), float(values[6]), bins.tolist(), plan, {"total": total})


def main() -> None:
    parser = seen_arguments(__doc__)
    parser.add_argument("--gif", help="write the first episode of each task here (a folder)")
    parser.add_argument("--trace", action="store_true", help="print each step's action and the tool's true offset")
    parser.add_argument(
        "--object-from-model",
        action="store_true",
        help="the object's point from the model's pointing on the first frame; gripper and below stay true",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    agent = OraclePlanAgent(Policy.from_pretrained(args.model), args.camera, args.trace, args.object_from_model)
    sim, options, episodes = seen_episodes(args)
    wins = 0
    total = 0
    closest = []
    for task, k, seed in episodes:
        result = run_episode(sim, agent, task, seed, options, record=bool(args.gif) and k == 0)
        wins += result.success
        total += 1
        outcome = "success" if result.success else "fail"
        closest.append(agent.closest)
        print(
            f"{task:15s} seed {seed}: {outcome} ({result.end}, {result.steps} steps, "
            f"tool came within {100 * agent.closest:.1f} cm of the object)"
        )
        if result.frames:
            Path(args.gif).mkdir(parents=True, exist_ok=True)
            iio.imwrite(Path(args.gif) / f"{task}_{seed}.gif", np.stack(result.frames), duration=100, loop=0)
    if agent.object_errors:
        print(f"located object point: median error {np.median(agent.object_errors):.1f} px on first frames")
    print(
        f"{agent.name}: {wins}/{total} seen episodes succeed; closest tool-object distance median "
        f"{100 * np.median(closest):.1f} cm"
    )


if __name__ == "__main__":
    main()
