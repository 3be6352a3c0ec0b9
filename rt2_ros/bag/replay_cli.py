"""`rt2 replay --live BAG` (publish over DDS, like `ros2 bag play`) or `rt2 replay --offline BAG --model PATH`."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from rt2_ros.bag.playback import add_arguments as add_live_arguments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rt2 replay",
        description="Replay a bag: --live publishes its messages at recorded timing so a running node sees them; "
        "--offline runs the policy on its frames and instructions and compares with the recorded actions.",
    )
    parser.add_argument("bag")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--live", action="store_true", help="publish the bag over DDS (rclpy)")
    mode.add_argument("--offline", action="store_true", help="run the policy on the bag, no DDS")
    live = parser.add_argument_group("--live")
    add_live_arguments(live)
    offline = parser.add_argument_group("--offline (topics as in `rt2 bag to-episodes`)")
    offline.add_argument("--model", help="model folder for Policy.from_pretrained")
    offline.add_argument("--out", help="output directory (default: replay_<bag name>)")
    offline.add_argument(
        "--camera", action="append", metavar="NAME=TOPIC", help="default: scene=/camera/color/image_raw"
    )
    offline.add_argument("--policy-camera", help="which camera the policy sees (default: the first)")
    offline.add_argument("--instruction-topic", default="/instruction")
    offline.add_argument("--twist-topic", default="/servo_node/delta_twist_cmds")
    offline.add_argument("--gripper-topic", default="/gripper/command")
    offline.add_argument("--control-rate", type=float, default=10.0, help="Hz (default: %(default)s)")
    offline.add_argument("--decoding", default="kv", help="Policy decoding (default: %(default)s)")
    offline.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all)")
    offline.add_argument(
        "--params-file",
        action="append",
        metavar="YAML",
        help="rt2_node's parameter files (e.g. config/rt2_in_sim.yaml): the plan's tool points from the bag's "
        "pose, CameraInfo and joint states, as the node gave them (models with plan_tool_points)",
    )
    offline.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def offline(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rt2_ros.bag.arm_states import ArmSettings
    from rt2_ros.bag.cli import _camera
    from rt2_ros.bag.convert import ConversionOptions
    from rt2_ros.bag.offline_replay import replay_offline
    from rt2_ros.bag.reader import BagError
    from rt2_ros.policy import Policy

    if not args.model:
        print("rt2 replay --offline: error: --model PATH is required", file=sys.stderr)
        return 2
    try:
        cameras = dict(_camera(text) for text in args.camera) if args.camera else None
    except argparse.ArgumentTypeError as error:
        print(f"rt2 replay --offline: error: {error}", file=sys.stderr)
        return 2
    options = ConversionOptions(
        instruction_topic=args.instruction_topic,
        twist_topic=args.twist_topic,
        gripper_topic=args.gripper_topic,
        rate_hz=args.control_rate,
    )
    if cameras:
        options.cameras = cameras
    out = Path(args.out or f"replay_{Path(args.bag).name.removesuffix('.mcap')}")
    try:
        arm = ArmSettings.from_params_files(args.params_file) if args.params_file else None
        policy = Policy.from_pretrained(args.model, decoding=args.decoding)
        with tqdm(unit="step", desc="replaying", disable=args.quiet, file=sys.stderr) as bar:
            report = replay_offline(
                args.bag,
                policy,
                out,
                options,
                camera=args.policy_camera,
                max_steps=args.max_steps,
                progress=bar.update,
                arm=arm,
            )
    except (BagError, ValueError, OSError) as error:
        print(f"rt2 replay --offline: error: {error}", file=sys.stderr)
        return 1
    accuracy, latency = report["token_accuracy"], report["latency_ms"]
    print(f"{report['steps']} steps in {report['episodes']} episodes of {args.bag} through {report['model']}")
    print("  mean abs error: " + "  ".join(f"{k} {v['mae']:.4g}" for k, v in report["per_dimension"].items()))
    print(
        f"  token accuracy {accuracy['all']:.3f} (whole action {accuracy['whole_action']:.3f}), "
        f"terminate agreement {report['terminate']['agreement']:.3f}"
    )
    print(
        f"  latency mean {latency['mean']:.1f} ms, p90 {latency['p90']:.1f} ms; "
        f"{report['replay_steps_per_s']:.2f} steps/s"
    )
    if arm is not None:
        print(f"  the arm's state (tool points) given at {report['steps_with_arm_state']} of {report['steps']} steps")
    print(f"wrote {out}/report.json, {out}/actions.png, {out}/predictions (bag)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.live:  # rclpy lives in rt2_ros.nodes; import it only in this mode
        return importlib.import_module("rt2_ros.nodes.bag_player").play(args)
    return offline(args)
