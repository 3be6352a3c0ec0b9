"""`rt2 eval`: closed-loop success of one or more models (and/or the scripted expert) in RT-2's categories.

rt2 eval --model models/rt2-sim --episodes 10
rt2 eval --model models/rt2-sim --compare runs/robot-only/model --label co-fine-tuned --label robot-only
rt2 eval --expert --categories seen            # validates the harness: near 100%
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from rt2_ros.data.splits import CATEGORIES
from rt2_ros.eval.rollout import DETAIL_ZOOM, EXPERT
from rt2_ros.sim.robots import ROBOTS
from rt2_ros.sim.scene import CAMERAS, SCENE_CAMERA
from rt2_ros.sim.tasks import task_names

# `rt2 train` writes training.json into the model folder: its options under "args" (camera, data paths).
TRAINING_FILE = "training.json"
DEFAULT_SIZE = 224


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rt2 eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model folder (Policy.from_pretrained)")
    parser.add_argument("--compare", action="append", default=[], metavar="MODEL", help="more models, side by side")
    parser.add_argument("--label", action="append", default=[], help="column names for --model, --compare... in order")
    parser.add_argument("--expert", action="store_true", help="also (or only) evaluate the scripted expert")
    parser.add_argument("--categories", nargs="+", default=list(CATEGORIES), choices=CATEGORIES, metavar="CATEGORY")
    parser.add_argument("--tasks", nargs="+", choices=task_names(), metavar="TASK", help="default: every task")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per (category, task) (default: %(default)s)")
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        metavar="N",
        help="leave out each cell's first N seeds: fresh episodes for a model chosen on those (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: OpenMP threads collapse on a busy machine)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="worker processes, one torch thread each; results equal a serial run's (default: %(default)s)",
    )
    parser.add_argument("--max-steps", type=int, default=200, help="control steps per episode (default: %(default)s)")
    parser.add_argument("--success-hold", type=int, default=3, help="steps success must hold to end early")
    parser.add_argument("--robot", choices=list(ROBOTS), default=None, help="default: the model's, else ur5e")
    parser.add_argument("--camera", choices=CAMERAS, default=None, help="default: the model's, else scene")
    parser.add_argument("--image-size", type=int, nargs="+", metavar="PX", help="H [W]; default: the model's, else 224")
    parser.add_argument("--decoding", default="kv", help="Policy decoding: kv, generate, parallel (default: kv)")
    parser.add_argument("--dtype", default="float32", help="float32, bfloat16, int8 (default: float32)")
    parser.add_argument("--action-scale", type=float, nargs=6, metavar="S", help="per-dimension factor (default: 1)")
    parser.add_argument("--gifs", type=int, default=2, help="GIFs per category and model (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("outputs/eval"), help="output folder (default: %(default)s)")
    parser.add_argument("--model-card", type=Path, help="also write the table into this README.md's Evaluation section")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def training_info(folder: str | Path) -> dict[str, Any]:
    """The robot, camera and image size a model was trained on, as far as its folder says ({} if it says nothing).

    Keys `robot`, `camera`, `camera_size` ([h, w]) at the top of training.json or in its `args`; a missing
    size is read from the first training dataset's info.json (`args.data`) when that path still exists.
    """
    path = Path(folder) / TRAINING_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    args = data.get("args") if isinstance(data.get("args"), dict) else {}
    info = {key: data.get(key, args.get(key)) for key in ("robot", "camera", "camera_size")}
    info = {key: value for key, value in info.items() if value is not None}
    datasets = args.get("data") or []
    if "camera_size" not in info and datasets and (Path(datasets[0]) / "info.json").is_file():
        shapes = json.loads((Path(datasets[0]) / "info.json").read_text()).get("image_shapes", {})
        shape = shapes.get(info.get("camera", SCENE_CAMERA))
        if shape:
            info["camera_size"] = shape[:2]
    return info


def _size(value: Any) -> tuple[int, int]:
    sizes = [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    return (sizes[0], sizes[-1]) if len(sizes) in (1, 2) else (DEFAULT_SIZE, DEFAULT_SIZE)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    models = ([args.model] if args.model else []) + args.compare
    if not models and not args.expert:
        print("rt2 eval: error: give --model PATH (and --compare PATH ...) and/or --expert", file=sys.stderr)
        return 2
    if len(args.label) > len(models):
        print(f"rt2 eval: error: {len(args.label)} labels for {len(models)} models", file=sys.stderr)
        return 2
    if args.episodes < 1 or args.max_steps < 1 or args.jobs < 1:
        print("rt2 eval: error: --episodes, --max-steps and --jobs must be at least 1", file=sys.stderr)
        return 2
    if args.skip < 0:
        print("rt2 eval: error: --skip must be at least 0", file=sys.stderr)
        return 2

    # Heavy imports only once the arguments are known good.
    import torch
    from tqdm import tqdm

    from rt2_ros.eval.parallel import WorkerSetup, run_parallel
    from rt2_ros.eval.report import Run, markdown_report, summarize, write_model_card, write_report
    from rt2_ros.eval.rollout import RolloutOptions, make_agent
    from rt2_ros.eval.suite import build_cells, episode_specs, run_specs
    from rt2_ros.sim.env import TabletopSim

    torch.set_num_threads(args.threads)

    cells = build_cells(args.episodes, tuple(args.categories), tuple(args.tasks) if args.tasks else None, args.skip)
    # A folder's name is the default column; two folders of one name (runs/a/model, runs/b/model) give their paths.
    names = [Path(m).name for m in models]
    defaults = [name if names.count(name) == 1 else model for name, model in zip(names, models, strict=True)]
    labels = args.label + defaults[len(args.label) :]
    if len(set(labels)) < len(labels):
        print(f"rt2 eval: error: labels must differ, got {labels}", file=sys.stderr)
        return 2
    plans = [(label, model, training_info(model)) for label, model in zip(labels, models, strict=True)]
    if args.expert:
        plans.append(("expert", EXPERT, {}))
    first = plans[0][2]
    robot = args.robot or first.get("robot", "ur5e")
    camera = args.camera or first.get("camera", SCENE_CAMERA)
    size = _size(args.image_size) if args.image_size else _size(first.get("camera_size", DEFAULT_SIZE))
    options = RolloutOptions(
        camera=camera,
        max_steps=args.max_steps,
        success_hold=args.success_hold,
        action_scale=tuple(args.action_scale or (1.0,) * 6),
    )
    sim = TabletopSim(robot, cameras={camera: size}, detail_zoom=DETAIL_ZOOM)
    settings = {
        "command": "rt2 eval " + shlex.join(argv),
        "robot": robot,
        "camera": camera,
        "image_size": list(size),
        "control_rate_hz": sim.control_rate_hz,
        "episodes_per_cell": args.episodes,
        "skipped_seeds": args.skip,
        "max_steps": args.max_steps,
        "success_hold": args.success_hold,
        "action_scale": list(options.action_scale),
        "decoding": args.decoding,
        "dtype": args.dtype,
        "cells": [{"category": c.category, "task": c.task, "seeds": list(c.seeds)} for c in cells],
    }
    for label, _, info in plans[1:]:
        if info and (info.get("camera", camera), _size(info.get("camera_size", size))) != (camera, size):
            print(f"rt2 eval: warning: {label} was trained on another camera than {camera} {size}", file=sys.stderr)

    sources = [model for _, model, _ in plans]
    specs = episode_specs(cells, args.gifs)
    with tqdm(total=len(plans) * len(specs), unit="episode", desc="eval", disable=args.quiet, file=sys.stderr) as bar:
        solved = [[0, 0] for _ in plans]

        def progress(run: int, result) -> None:
            solved[run][0] += result.success
            solved[run][1] += 1
            bar.set_postfix_str(", ".join(f"{p[0]} {s[0]}/{s[1]} solved" for p, s in zip(plans, solved, strict=True)))
            bar.update()

        if args.jobs > 1:
            setup = WorkerSetup(robot, camera, size, options, args.decoding, args.dtype)
            per_source = run_parallel(sources, specs, setup, args.jobs, progress)
        else:
            per_source = [run_specs(sim, make_agent(source, args.decoding, args.dtype, camera), specs, options,
                                    lambda r, k=k: progress(k, r))
                          for k, source in enumerate(sources)]  # fmt: skip
    runs = [Run(label=label, source=str(model), results=results)
            for (label, model, _), results in zip(plans, per_source, strict=True)]  # fmt: skip
    sim.close()

    written = write_report(runs, settings, args.out)
    report = markdown_report(runs, settings)
    print(report)
    for run in runs:
        print(f"{run.label}: {_timing_line(summarize(run.results)['timing'])}")
    if args.model_card:
        print(f"wrote the Evaluation section of {write_model_card(args.model_card, report)}")
    gifs = sum(key.startswith("gif:") for key in written)
    print(f"wrote {written['json']}, {written['markdown']}, {written['png']} and {gifs} GIFs in {args.out}/gifs")
    return 0


def _timing_line(t: dict[str, Any]) -> str:
    return (
        f"{t['episodes']} episodes, {t['steps']} steps in {t['seconds']:.1f} s "
        f"({t['seconds_per_episode']:.2f} s/episode, {t['steps_per_s']:.1f} steps/s, "
        f"model {t['model_ms_per_step']:.1f} ms/step)"
    )
