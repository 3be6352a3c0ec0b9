"""Closed loop with the model's own plan, each step's plan points beside the sim's true ones.

Session 13 question: with the object point anchored on the model's pointing answer
(rt2_config.json plan_locate), which of the plan's points is still wrong when an episode fails:
the object, the gripper, the below point or the goal? Episodes run through
rt2_ros.eval.rollout.run_episode on the seen evaluation seeds, as `rt2 eval` runs them.

    .venv/bin/python experiments/plan_trace.py --model runs/loc-first --tasks pick --episodes 2

Per step: the error of each point in image pixels, the gripper command and the tool-object distance.
"""

from __future__ import annotations

import numpy as np
import torch
from seen_episodes import seen_arguments, seen_episodes

from rt2_ros.data.plan_points import below_text, plan_text
from rt2_ros.eval.rollout import run_episode
from rt2_ros.plan_grammar import LOC_BINS, plan_points
from rt2_ros.policy import Action, Policy
from rt2_ros.sim import TabletopSim

POINTS = ("object", "gripper", "below", "goal")


class TracingAgent:
    """The policy itself; each step it also records its plan's point errors against the true plan."""

    def __init__(self, policy: Policy, camera: str, size: int) -> None:
        self.policy, self.camera, self.size, self.sim = policy, camera, size, None
        self.name = policy.name
        self.errors: list[dict[str, float]] = []

    def reset(self, sim: TabletopSim) -> None:
        self.sim = sim
        self.policy.reset()
        self.errors = []

    def act(self, image: np.ndarray, instruction: str) -> Action:
        goal_height = self.policy.vla.config.plan_offsets == "below-goal"
        true = plan_text(self.sim, self.camera) + " " + below_text(self.sim, self.camera, goal_height)
        truth = plan_points(true)
        action = self.policy.act(image, instruction)
        own = plan_points(action.plan)
        pixels = self.size / LOC_BINS
        row = {
            key: float(np.linalg.norm(own[key] - truth[key]) * pixels) if key in own else float("nan")
            for key in POINTS
            if key in truth
        }
        tool = self.sim.tcp_pose()[0]
        row["tool_object_cm"] = 100 * float(np.linalg.norm(tool - self.sim.object_position(self.sim.task.target)))
        row["gripper_command"] = action.gripper
        self.errors.append(row)
        return action


def main() -> None:
    parser = seen_arguments(__doc__)
    parser.add_argument("--every", type=int, default=10, help="print every N-th step")
    args = parser.parse_args()
    torch.set_num_threads(1)
    agent = TracingAgent(Policy.from_pretrained(args.model), args.camera, args.size)
    sim, options, episodes = seen_episodes(args)
    for task, _, seed in episodes:
        result = run_episode(sim, agent, task, seed, options)
        print(f"{task} seed {seed}: {result.end} after {result.steps} steps ({result.instruction!r})")
        for step, row in enumerate(agent.errors):
            if step % args.every == 0 or step == len(agent.errors) - 1:
                points = " ".join(f"{key} {row[key]:4.1f}" for key in POINTS if key in row)
                print(
                    f"  step {step:3d}: px error {points} | gripper {row['gripper_command']:.2f}, "
                    f"tool-object {row['tool_object_cm']:.1f} cm"
                )
        medians = {key: np.nanmedian([r[key] for r in agent.errors]) for key in POINTS if key in agent.errors[0]}
        print("  median px error: " + ", ".join(f"{key} {value:.1f}" for key, value in medians.items()))


if __name__ == "__main__":
    main()
