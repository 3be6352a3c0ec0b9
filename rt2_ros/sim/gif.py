"""`rt2 sim-gif OUTDIR`: one expert episode per task as an animated GIF (what the data looks like)."""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from rt2_ros.sim.env import TabletopSim
from rt2_ros.sim.expert import run_expert
from rt2_ros.sim.robots import ROBOTS
from rt2_ros.sim.tasks import task_names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 sim-gif", description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--robot", default="ur5e", help=f"{' or '.join(ROBOTS)} (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=224, help="image side in pixels (default: %(default)s)")
    parser.add_argument("--wrist", action="store_true", help="put the wrist camera beside the scene camera")
    parser.add_argument("--tasks", nargs="*", default=task_names(), help="default: every task")
    args = parser.parse_args(argv)

    cameras = {"scene": (args.size, args.size)} | ({"wrist": (args.size, args.size)} if args.wrist else {})
    sim = TabletopSim(args.robot, cameras=cameras)
    args.outdir.mkdir(parents=True, exist_ok=True)
    for task in args.tasks:
        episode = run_expert(sim, task, args.seed)
        frames = [np.concatenate([step.images[c] for c in cameras], axis=1) for step in episode.steps]
        path = args.outdir / f"{sim.robot}_{task}_seed{args.seed}.gif"
        # One frame per control step, played in real time; loop=0 repeats forever.
        iio.imwrite(path, frames, duration=1000 / episode.control_rate_hz, loop=0)
        outcome = "success" if episode.success else "FAILED"
        print(f"{path}  {len(frames)} steps  {outcome}  {episode.instruction!r}", flush=True)
    sim.close()
    return 0
