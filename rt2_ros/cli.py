"""The `rt2` command: one entry point whose subcommands live in their own modules.

Each subcommand is a `main(argv) -> int` function, imported only when it runs, so that
`rt2 --help` stays instant and a subcommand never pays for another's imports (torch, rclpy, mujoco).
"""

from __future__ import annotations

import importlib
import sys

# name -> (module:function, one-line help). Keep in step with the README's command list.
COMMANDS: dict[str, tuple[str, str]] = {
    "echo": ("rt2_ros.nodes.echo:main", "print messages of a topic, like `ros2 topic echo`"),
    "demo": ("rt2_ros.nodes.sim_demo:main", "the main job: rt2_node drives the sim arm over DDS (README)"),
    "node": ("rt2_ros.nodes.rt2_node:main", "run rt2_node, the policy node (takes --ros-args)"),
    "instruct": ("rt2_ros.nodes.instruct:main", "publish an instruction, like `ros2 topic pub --once /instruction`"),
    "bag": ("rt2_ros.bag.cli:main", "record the node's topics to a rosbag2, turn bags into episodes, list a bag"),
    "tiny-model": ("rt2_ros.vla.tiny:main", "write a random-weight tiny VLA folder (tests, simulation, benchmarks)"),
    "replay": ("rt2_ros.bag.replay_cli:main", "replay a bag: --live like `ros2 bag play`, or --offline via the policy"),
    "bench": ("rt2_ros.benchmarks:main", "run a benchmark from bench/ (prints a table, saves JSON)"),
    "sim": ("rt2_ros.nodes.sim_node:main", "run the MuJoCo arm behind MoveIt Servo's topics (--ros-args ...)"),
    "collect": ("rt2_ros.data.collect:main", "run the sim expert and write an episode dataset (rt2 collect OUT ...)"),
    "plans": (
        "rt2_ros.data.plan_points:main",
        "add point plans (gripper, object, goal) to episode datasets by replay (rt2 plans DATASET ...)",
    ),
    "vqa": ("rt2_ros.data.vqa:main", "generate a VQA dataset from sim scenes (rt2 vqa OUT --scenes N)"),
    "pretrain-vision": ("rt2_ros.vision_pretrain:main", "teach a VLA's vision tower to see from per-patch sim labels"),
    "train": ("rt2_ros.train:main", "co-fine-tune a VLA on robot episodes + VQA; rerun to resume (rt2 train RUN ...)"),
    "sim-gif": ("rt2_ros.sim.gif:main", "write a GIF of one expert episode per task: rt2 sim-gif OUTDIR"),
    "eval": ("rt2_ros.eval.cli:main", "success per RT-2 category, closed loop in the sim (95% CIs, GIFs, ablation)"),
    "probe": ("rt2_ros.eval.probe:main", "does a model see? VQA accuracy per kind, pointing error, linear probe"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: rt2 <command> [args...]",
        "",
        "rt2_ros: an RT-2-style vision-language-action model driving a robot arm.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", "Run `rt2 <command> --help` for a command's own options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"rt2: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, function_name = COMMANDS[name][0].split(":")
    command = getattr(importlib.import_module(module_name), function_name)
    return int(command(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
