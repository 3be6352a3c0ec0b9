"""`rt2 instruct "pick up the red block"`: publish one instruction to the policy node.

What `ros2 topic pub --once /instruction std_msgs/msg/String "{data: ...}"` does on a ROS install,
except that it waits for the node to be listening, so the instruction is not lost.
"""

from __future__ import annotations

import argparse
import sys
import time

import rclpy
import rclpy.duration
from rclpy.node import Node
from std_msgs.msg import String


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 instruct", description=__doc__)
    parser.add_argument("instruction", help='the instruction; "" stops the current episode')
    parser.add_argument("--topic", default="/instruction")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a subscriber")
    args = parser.parse_args(argv)

    rclpy.init()
    node = Node("rt2_instruct")
    publisher = node.create_publisher(String, args.topic, 10)
    try:
        deadline = time.monotonic() + args.wait
        while publisher.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                print(f"rt2 instruct: nobody subscribes to {args.topic} after {args.wait:g} s", file=sys.stderr)
                return 1
            rclpy.spin_once(node, timeout_sec=0.05)
        publisher.publish(String(data=args.instruction))
        # Reliable delivery needs the publisher alive until the subscriber acknowledged the sample.
        publisher.wait_for_all_acked(rclpy.duration.Duration(seconds=5))
        print(f"published on {args.topic}: {args.instruction!r}")
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
