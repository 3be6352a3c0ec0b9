"""`rt2 echo TOPIC`: print a topic's messages, as `ros2 topic echo` does on a full ROS install."""

from __future__ import annotations

import argparse
import json

import rclpy
from rclpy.node import Node

from rt2_ros.nodes.messages import message_to_dict, message_type


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 echo", description=__doc__)
    parser.add_argument("topic")
    parser.add_argument("--type", default="rt2_ros/msg/VLAAction", help="message type (default: %(default)s)")
    parser.add_argument("--count", type=int, default=0, help="exit after this many messages (0: never)")
    parser.add_argument("--timeout", type=float, default=0.0, help="exit with status 1 after this many seconds")
    args = parser.parse_args(argv)

    msg_class = message_type(args.type)
    rclpy.init()
    node = Node("rt2_echo")
    received = 0

    def on_message(message) -> None:
        nonlocal received
        received += 1
        print(json.dumps(message_to_dict(message)), flush=True)

    node.create_subscription(msg_class, args.topic, on_message, 10)
    deadline = node.get_clock().now().nanoseconds + int(args.timeout * 1e9)
    try:
        while rclpy.ok() and (args.count == 0 or received < args.count):
            rclpy.spin_once(node, timeout_sec=0.1)
            if args.timeout and node.get_clock().now().nanoseconds > deadline:
                print(f"rt2 echo: no more messages on {args.topic} after {args.timeout} s", flush=True)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
