"""`rt2 bag record | to-episodes | info`: record the node's topics, turn bags into episodes, list a bag."""

from __future__ import annotations

import argparse
import importlib
import sys

from rt2_ros.bag.convert import ConversionOptions, convert_bag
from rt2_ros.bag.reader import BagError, BagReader
from rt2_ros.data.dataset import DatasetError

USAGE = """usage: rt2 bag <subcommand> [args...]

subcommands:
  record       record the node's inputs and outputs to a rosbag2 (mcap, or sqlite3)
  to-episodes  turn a bag into an episode dataset for training (docs/datasets.md)
  info         list a bag's topics, types and message counts

Run `rt2 bag <subcommand> --help` for its options."""


def _camera(text: str) -> tuple[str, str]:
    name, sep, topic = text.partition("=")
    if not sep or not name or not topic.startswith("/"):
        raise argparse.ArgumentTypeError(f"expected NAME=/topic, got {text!r}")
    return name, topic


def to_episodes(argv: list[str]) -> int:
    defaults = ConversionOptions()
    parser = argparse.ArgumentParser(
        prog="rt2 bag to-episodes",
        description="Turn a rosbag2 (directory or .mcap) into an episode dataset; see docs/datasets.md.",
    )
    parser.add_argument("bag")
    parser.add_argument("out", help="dataset directory to create")
    parser.add_argument(
        "--camera",
        type=_camera,
        action="append",
        metavar="NAME=TOPIC",
        help="a camera and its Image/CompressedImage topic; repeat for several "
        f"(default: scene={defaults.cameras['scene']})",
    )
    parser.add_argument("--instruction-topic", default=defaults.instruction_topic)
    parser.add_argument("--twist-topic", default=defaults.twist_topic)
    parser.add_argument("--gripper-topic", default=defaults.gripper_topic)
    parser.add_argument("--task-topic", default=defaults.task_topic, help="optional; JSON robot/task/seed")
    parser.add_argument("--success-topic", default=defaults.success_topic, help="optional; std_msgs/Bool")
    parser.add_argument("--rate", type=float, default=defaults.rate_hz, help="control rate, Hz (default: %(default)s)")
    parser.add_argument("--base-frame", default=defaults.base_frame)
    parser.add_argument("--gripper-initial", type=float, default=defaults.gripper_initial)
    parser.add_argument("--robot", default=defaults.robot)
    parser.add_argument("--task", default=defaults.task, help="task name (default: the instruction)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    options = ConversionOptions(
        cameras=dict(args.camera) if args.camera else defaults.cameras,
        instruction_topic=args.instruction_topic,
        twist_topic=args.twist_topic,
        gripper_topic=args.gripper_topic,
        task_topic=args.task_topic,
        success_topic=args.success_topic,
        rate_hz=args.rate,
        base_frame=args.base_frame,
        gripper_initial=args.gripper_initial,
        robot=args.robot,
        task=args.task,
        seed=args.seed,
    )
    from tqdm import tqdm

    try:
        converted = {*options.cameras.values(), options.instruction_topic, options.twist_topic, options.gripper_topic}
        converted |= {options.task_topic, options.success_topic}
        with BagReader(args.bag) as reader:
            total = sum(info.count for topic, info in reader.topics.items() if topic in converted)
        with tqdm(total=total, unit="msg", desc="converting", disable=args.quiet, file=sys.stderr) as bar:
            report = convert_bag(args.bag, args.out, options, overwrite=args.overwrite, progress=bar.update)
    except (BagError, DatasetError, ValueError) as error:
        print(f"rt2 bag to-episodes: error: {error}", file=sys.stderr)
        return 1
    print(report.summary())
    print(f"wrote {args.out} (report: {args.out}/meta/conversion_report.json)")
    return 0


def info(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rt2 bag info", description="List a bag's topics, like `ros2 bag info`.")
    parser.add_argument("bag")
    args = parser.parse_args(argv)
    try:
        with BagReader(args.bag) as reader:
            print(f"bag: {reader.path} ({reader.storage})")
            print(f"duration: {(reader.end_ns - reader.start_ns) / 1e9:.3f} s, messages: {reader.message_count}")
            for topic, topic_info in sorted(reader.topics.items()):
                print(f"  {topic}  {topic_info.msgtype}  {topic_info.count}")
    except BagError as error:
        print(f"rt2 bag info: error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    name, rest = argv[0], argv[1:]
    if name == "record":  # rclpy lives in rt2_ros.nodes; import it only for this subcommand
        return importlib.import_module("rt2_ros.nodes.bag_recorder").main(rest)
    if name == "to-episodes":
        return to_episodes(rest)
    if name == "info":
        return info(rest)
    print(f"rt2 bag: unknown subcommand {name!r}\n\n{USAGE}", file=sys.stderr)
    return 2
