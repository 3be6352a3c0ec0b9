"""Bag throughput: conversion to episodes (messages/s), reading the dataset back, and offline replay rate.

A synthetic robot run is written with `rosbags` (mcap): a camera frame (rgb8), a twist and a
gripper command per 10 Hz control tick, a new instruction every 50 ticks. Then, in one process:
`rt2 bag to-episodes` (read + align + PNG + parquet), `iter_episodes` (stream the dataset back), and
`rt2 replay --offline` on the first steps with a tiny random-weight model (or --model PATH).
Run: `rt2 bench bag [--steps N] [--size PX] [--quick]`; writes bench/results/bag.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from rt2_ros.bag.convert import convert_bag
from rt2_ros.bag.offline_replay import replay_offline
from rt2_ros.bag.typestore import rt2_typestore
from rt2_ros.data.dataset import iter_episodes

PERIOD_NS = 100_000_000


def write_bag(path: Path, steps: int, size: int) -> int:
    """A synthetic 10 Hz run; returns the number of messages written."""
    store = rt2_typestore()
    t = store.types
    rng = np.random.default_rng(0)
    # Gradients plus sensor-like noise: PNG compresses them about as much as a camera image, not 100x.
    yy, xx = np.mgrid[0:size, 0:size]
    noise = [rng.integers(0, 24, (size, size, 3)) for _ in range(8)]
    count = 0
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {
            topic: writer.add_connection(topic, msgtype, typestore=store)
            for topic, msgtype in [
                ("/instruction", "std_msgs/msg/String"),
                ("/camera/color/image_raw", "sensor_msgs/msg/Image"),
                ("/servo_node/delta_twist_cmds", "geometry_msgs/msg/TwistStamped"),
                ("/gripper/command", "std_msgs/msg/Float64"),
            ]
        }

        def write(topic: str, time_ns: int, message) -> None:
            nonlocal count
            writer.write(connections[topic], time_ns, store.serialize_cdr(message, connections[topic].msgtype))
            count += 1

        for k in range(steps):
            now = 1_700_000_000 * 10**9 + k * PERIOD_NS
            stamp = t["builtin_interfaces/msg/Time"](sec=now // 10**9, nanosec=now % 10**9)
            if k % 50 == 0:
                write("/instruction", now - 1_000_000, t["std_msgs/msg/String"](data=f"pick up block {k // 50}"))
            pixels = np.stack([(xx + k) % 232, (yy * 2) % 232, (xx + yy + 3 * k) % 232], axis=2) + noise[k % 8]
            pixels = pixels.astype(np.uint8)
            image = t["sensor_msgs/msg/Image"](
                header=t["std_msgs/msg/Header"](stamp=stamp, frame_id="camera"),
                height=size,
                width=size,
                encoding="rgb8",
                is_bigendian=0,
                step=3 * size,
                data=pixels.reshape(-1),
            )
            write("/camera/color/image_raw", now, image)
            v = t["geometry_msgs/msg/Vector3"]
            twist = t["geometry_msgs/msg/Twist"](linear=v(*rng.normal(0, 0.05, 3)), angular=v(*rng.normal(0, 0.1, 3)))
            header = t["std_msgs/msg/Header"](stamp=stamp, frame_id="base_link")
            write("/servo_node/delta_twist_cmds", now + 20_000_000, t["geometry_msgs/msg/TwistStamped"](header, twist))
            write("/gripper/command", now + 20_100_000, t["std_msgs/msg/Float64"](data=float(k % 50 >= 25)))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 bench bag", description=__doc__)
    parser.add_argument("--steps", type=int, default=600, help="control ticks in the bag (default: %(default)s)")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels (default: %(default)s)")
    parser.add_argument("--replay-steps", type=int, default=30, help="steps of offline replay (default: %(default)s)")
    parser.add_argument("--model", help="model folder for the replay (default: a tiny random-weight one)")
    parser.add_argument("--quick", action="store_true", help="100 ticks, 5 replay steps")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "bag.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.replay_steps = 100, 5

    import torch

    from rt2_ros.policy import Policy

    torch.set_num_threads(1)  # the machine is shared; see docs in bench/README.md
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        messages = write_bag(tmp / "bag", args.steps, args.size)
        bag_mb = sum(p.stat().st_size for p in (tmp / "bag").iterdir()) / 1e6

        began = time.perf_counter()
        report = convert_bag(tmp / "bag", tmp / "episodes")
        convert_s = time.perf_counter() - began
        dataset_mb = sum(p.stat().st_size for p in (tmp / "episodes").rglob("*") if p.is_file()) / 1e6

        began = time.perf_counter()
        read_steps = sum(len(e.steps) for e in iter_episodes(tmp / "episodes"))
        read_s = time.perf_counter() - began

        model = args.model
        if model is None:
            from rt2_ros.vla.tiny import build_tiny_vla

            model = build_tiny_vla(tmp / "tiny", size="tiny", seed=0)
        policy = Policy.from_pretrained(model)
        replay = replay_offline(tmp / "bag", policy, tmp / "replay", max_steps=args.replay_steps)

    results = {
        "bench": "bag",
        "machine": {"python": platform.python_version(), "processor": platform.machine(), "torch_threads": 1},
        "bag": {"steps": args.steps, "image": f"{args.size}x{args.size} rgb8", "messages": messages, "mb": bag_mb},
        "conversion": {
            "seconds": convert_s,
            "messages_per_s": messages / convert_s,
            "steps_per_s": report.steps / convert_s,
            "episodes": report.episodes,
            "steps": report.steps,
            "dataset_mb": dataset_mb,
            "dropped": sum(sum(c.dropped.values()) for c in report.topics.values()),
        },
        "dataset_read": {"seconds": read_s, "steps_per_s": read_steps / read_s, "steps": read_steps},
        "offline_replay": {
            "model": str(replay["model"]) if args.model else "tiny random-weight (rt2_ros.vla.tiny)",
            "steps": replay["steps"],
            "steps_per_s": replay["replay_steps_per_s"],
            "latency_ms_mean": replay["latency_ms"]["mean"],
            "latency_ms_p90": replay["latency_ms"]["p90"],
        },
    }
    rows = [
        ("bag", f"{messages} messages, {args.steps} steps of {args.size}x{args.size} rgb8, {bag_mb:.1f} MB"),
        (
            "to-episodes",
            f"{results['conversion']['messages_per_s']:.0f} messages/s "
            f"({results['conversion']['steps_per_s']:.1f} steps/s), {convert_s:.2f} s, dataset {dataset_mb:.1f} MB",
        ),
        ("dataset read", f"{results['dataset_read']['steps_per_s']:.1f} steps/s (iter_episodes, PNG decode)"),
        (
            "offline replay",
            f"{replay['replay_steps_per_s']:.2f} steps/s, latency mean "
            f"{replay['latency_ms']['mean']:.1f} ms p90 {replay['latency_ms']['p90']:.1f} ms ({replay['steps']} steps)",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
