"""`rt2 bench sim`: simulation speed per robot and the scripted expert's success table.

Speed, measured side by side in one process (the machine is shared: compare within a run):
  physics steps/s        bare mj_step
  servo steps/s          mj_step + the Servo-like controller (what the sim does every 2 ms)
  control steps/s        one 0.1 s control period (50 servo steps), without and with one 224x224 render;
                         divided by 10 it is the real-time factor of the node's work at 10 Hz
Expert: episodes solved out of --seeds per task and robot (no rendering: success does not depend on it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import mujoco
import numpy as np

from rt2_ros.sim import TabletopSim, task_names
from rt2_ros.sim.expert import run_expert
from rt2_ros.sim.robots import ROBOTS

RESULTS = Path(__file__).resolve().parent / "results" / "sim.json"


def rate(count: int, run) -> float:
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def speed(robot: str, size: int, control_steps: int) -> dict[str, float]:
    sim = TabletopSim(robot, cameras={"scene": (size, size)})
    sim.reset("pick", 0)
    model, data = sim.model, sim.data
    physics = rate(5000, lambda: [mujoco.mj_step(model, data) for _ in range(5000)])
    sim.reset("pick", 0)
    servo = rate(5000, lambda: sim.step(5000))

    def control(render: bool) -> None:
        sim.reset("pick", 0)
        for k in range(control_steps):
            sim.command_twist([0.05 * np.sin(k / 5), 0.05 * np.cos(k / 5), 0.0, 0.0, 0.0, 0.2])
            sim.step_control()
            if render:
                sim.render("scene")

    bare = rate(control_steps, lambda: control(False))
    rendered = rate(control_steps, lambda: control(True))
    frames = rate(200, lambda: [sim.render("scene") for _ in range(200)])
    sim.close()
    return {
        "physics_steps_per_s": physics,
        "servo_steps_per_s": servo,
        "control_steps_per_s": bare,
        f"control_steps_per_s_render_{size}": rendered,
        f"frames_per_s_{size}": frames,
        "real_time_factor_10hz_with_render": rendered / 10.0,
    }


def expert_table(robot: str, seeds: int) -> dict[str, dict[str, float]]:
    sim = TabletopSim(robot, cameras={})
    table = {}
    for task in task_names():
        solved, lengths, failed = 0, [], []
        for seed in range(seeds):
            episode = run_expert(sim, task, seed, render=False)
            solved += episode.success
            lengths.append(len(episode.steps))
            if not episode.success:
                failed.append(seed)
            print(
                f"\r  {robot:<6} {task:<15} {seed + 1:>3}/{seeds}  solved {solved}", end="", file=sys.stderr, flush=True
            )
        print(file=sys.stderr)
        table[task] = {
            "solved": solved,
            "episodes": seeds,
            "rate": solved / seeds,
            "mean_steps": float(np.mean(lengths)),
            "failed_seeds": failed,
        }
    sim.close()
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rt2 bench sim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", nargs="*", default=list(ROBOTS))
    parser.add_argument("--seeds", type=int, default=100, help="episodes per task and robot (default: %(default)s)")
    parser.add_argument("--size", type=int, default=224, help="image side for the render timings")
    parser.add_argument("--control-steps", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    results = {
        "machine": {"python": platform.python_version(), "mujoco": mujoco.__version__, "cpu_count": os.cpu_count()},
        "speed": {},
        "expert": {},
        "seeds": args.seeds,
    }
    print("speed (steps per wall-clock second; the sim runs 500 physics steps and 10 control steps per sim second)")
    print(
        f"{'robot':<7} {'physics/s':>10} {'servo/s':>9} {'control/s':>10} {'+render/s':>10} {'frames/s':>9} "
        f"{'RT factor':>9}"
    )
    for robot in args.robots:
        s = results["speed"][robot] = speed(robot, args.size, args.control_steps)
        print(
            f"{robot:<7} {s['physics_steps_per_s']:>10.0f} {s['servo_steps_per_s']:>9.0f} "
            f"{s['control_steps_per_s']:>10.1f} {s[f'control_steps_per_s_render_{args.size}']:>10.1f} "
            f"{s[f'frames_per_s_{args.size}']:>9.1f} {s['real_time_factor_10hz_with_render']:>9.1f}",
            flush=True,
        )

    print(f"\nexpert success over {args.seeds} seeds per task (progress on stderr)")
    for robot in args.robots:
        results["expert"][robot] = expert_table(robot, args.seeds)
    print(f"{'task':<16}" + "".join(f"{robot:>12}" for robot in args.robots))
    for task in task_names():
        cells = [results["expert"][r][task] for r in args.robots]
        print(f"{task:<16}" + "".join(f"{c['solved']:>8}/{c['episodes']:<3}" for c in cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsaved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
