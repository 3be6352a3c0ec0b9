"""`rt2 collect`: run the scripted expert in the sim (faster than real time) and write an episode dataset.

Seeds come from rt2_ros.data.splits, so the robot data never shows what evaluation holds out.
Only successful episodes are kept; every failed attempt is listed in meta/collect_report.json.
With --steps-per-episode K each episode stops after its first K steps, unfinished and kept: the
expert's first actions are right whether or not it would have finished (it finishes 99% of seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rt2_ros.data import splits
from rt2_ros.data.dataset import EpisodeWriter

MAX_ATTEMPTS_FACTOR = 2  # give up on a task after this many attempts per wanted episode


def collect(
    out: str | Path,
    tasks: list[str],
    episodes_per_task: int,
    *,
    robot: str = "ur5e",
    cameras: tuple[str, ...] = ("scene",),
    size: int = 96,
    split: str = "train",
    start_seed: int = splits.ROBOT_SEED_START,
    noise: float = 0.0,
    random_starts: bool = False,
    missed_grasps: float = 0.0,
    short_pushes: float = 0.0,
    steps_per_episode: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Collect `episodes_per_task` successful expert episodes of each task; returns the report."""
    from rt2_ros.sim import TabletopSim
    from rt2_ros.sim.expert import run_expert

    if split != "train":
        raise ValueError("only --split train is collected (evaluation runs closed loop on eval_seeds instead)")
    sim = TabletopSim(robot, cameras={name: (size, size) for name in cameras})
    report: dict[str, Any] = {
        "robot": robot,
        "cameras": list(cameras),
        "size": size,
        "split": split,
        "noise": noise,
        "random_starts": random_starts,
        "missed_grasps": missed_grasps,
        "short_pushes": short_pushes,
        "steps_per_episode": steps_per_episode,
        "held_out": {
            "colours": splits.HELD_OUT_COLOURS,
            "tables": splits.HELD_OUT_TABLES,
            "symbols": splits.HELD_OUT_SYMBOLS,
        },
        "tasks": {},
    }
    start = time.perf_counter()
    # In a log file (nohup), a bar redrawn every episode would bury everything else.
    interval = 0.1 if sys.stderr.isatty() else 30
    bar = tqdm(
        total=episodes_per_task * len(tasks), desc="collect", unit="ep", disable=not progress, mininterval=interval
    )
    with EpisodeWriter(out, overwrite=overwrite) as writer:
        for task in tasks:
            kept, failed, steps = [], [], 0
            seeds = splits.iter_robot_seeds(task, start_seed)
            for _ in range(MAX_ATTEMPTS_FACTOR * episodes_per_task):
                if len(kept) == episodes_per_task:
                    break
                seed = next(seeds)
                episode = run_expert(
                    sim,
                    task,
                    seed,
                    noise=noise,
                    from_random_start=random_starts,
                    missed_grasps=missed_grasps,
                    short_pushes=short_pushes,
                    max_steps=steps_per_episode,
                )
                if episode.success or "truncated" in episode.metadata:
                    writer.add(episode)
                    kept.append(seed)
                    steps += len(episode.steps)
                    bar.update(1)
                else:
                    failed.append({"seed": seed, "instruction": episode.instruction, "steps": len(episode.steps)})
                # refresh=False: the default redraws the bar at every episode, burying a log in bars.
                bar.set_postfix(task=task, failed=len(failed), refresh=False)
            report["tasks"][task] = {"kept": len(kept), "steps": steps, "seeds": kept, "failed": failed}
        report["seconds"] = round(time.perf_counter() - start, 1)
        writer.extra_files["meta/collect_report.json"] = json.dumps(report, indent=1) + "\n"
    bar.close()
    sim.close()
    return report


def main(argv: list[str] | None = None) -> int:
    from rt2_ros.sim.tasks import task_names

    parser = argparse.ArgumentParser(prog="rt2 collect", description="collect expert episodes in the sim")
    parser.add_argument("out", type=Path)
    parser.add_argument("--tasks", nargs="+", default=task_names(), choices=task_names())
    parser.add_argument("--episodes-per-task", type=int, default=100)
    parser.add_argument("--robot", choices=["ur5e", "panda"], default="ur5e")
    parser.add_argument("--cameras", default="scene", help="comma-separated: scene[,wrist]")
    parser.add_argument("--size", type=int, default=96, help="square image side in pixels")
    parser.add_argument("--split", default="train", choices=["train"])
    parser.add_argument("--start-seed", type=int, default=splits.ROBOT_SEED_START)
    parser.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="DART: std (m/s) of slowly varying noise on the executed motion; the clean expert action is recorded",
    )
    parser.add_argument(
        "--random-starts",
        action="store_true",
        help="start each episode with the tool over a random point of the table instead of at home",
    )
    parser.add_argument(
        "--missed-grasps",
        type=float,
        default=0.0,
        help="fraction of episodes whose first grasp closes on air above or beside the object, lifts and is "
        "retried; the miss is stored but not trained on, the retry is",
    )
    parser.add_argument(
        "--short-pushes",
        type=float,
        default=0.0,
        help="fraction of push episodes whose first stroke stops short and lifts, then pushes again from behind "
        "the object to where the full push ends; the stop is stored but not trained on, the second stroke is",
    )
    parser.add_argument(
        "--steps-per-episode",
        type=int,
        help="stop each episode after its first K steps (kept unfinished): many scenes' first frames, cheaply",
    )
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    report = collect(
        args.out,
        args.tasks,
        args.episodes_per_task,
        robot=args.robot,
        cameras=tuple(args.cameras.split(",")),
        size=args.size,
        split=args.split,
        start_seed=args.start_seed,
        noise=args.noise,
        random_starts=args.random_starts,
        missed_grasps=args.missed_grasps,
        short_pushes=args.short_pushes,
        steps_per_episode=args.steps_per_episode,
        overwrite=args.overwrite,
    )
    total = sum(t["kept"] for t in report["tasks"].values())
    print(f"wrote {args.out}: {total} episodes in {report['seconds']} s")
    for task, row in report["tasks"].items():
        print(f"  {task:15s} kept {row['kept']:4d}  steps {row['steps']:6d}  failed {len(row['failed'])}")
    return 0
