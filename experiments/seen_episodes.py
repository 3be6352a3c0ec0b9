"""What the closed-loop experiments share: their arguments and the seen-task evaluation episodes they run.

Imported by oracle_plan_eval.py and plan_trace.py (run as scripts from this folder).
"""

from __future__ import annotations

import argparse

from rt2_ros.data.splits import CATEGORY_TASKS, eval_seeds
from rt2_ros.eval.rollout import RolloutOptions
from rt2_ros.sim import TabletopSim


def seen_arguments(description: str) -> argparse.ArgumentParser:
    """A parser with --model, --episodes, --max-steps, --camera, --size and --tasks; add the experiment's own."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--episodes", type=int, default=2, help="per seen task")
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--camera", default="scene")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--tasks", nargs="+", default=list(CATEGORY_TASKS["seen"]), choices=CATEGORY_TASKS["seen"])
    return parser


def seen_episodes(args: argparse.Namespace) -> tuple[TabletopSim, RolloutOptions, list[tuple[str, int, int]]]:
    """The UR5e sim and rollout options the arguments ask for, and the episodes as (task, index, seed)."""
    sim = TabletopSim("ur5e", cameras={args.camera: (args.size, args.size)})
    options = RolloutOptions(camera=args.camera, max_steps=args.max_steps)
    episodes = [
        (task, k, seed) for task in args.tasks for k, seed in enumerate(eval_seeds("seen", task, args.episodes, sim))
    ]
    return sim, options, episodes
