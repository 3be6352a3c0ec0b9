"""`rt2 demo` until the closed-loop demo lands: one process publishes a VLAAction, another prints it.

It shows the whole ROS side works on this machine: the built rt2_ros messages, DDS between two
processes, and the `rt2` command.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import rclpy
from rclpy.node import Node

from rt2_ros.msg import VLAAction

TOPIC = "/rt2_demo/action"


def sample_action(node: Node) -> VLAAction:
    message = VLAAction()
    message.header.stamp = node.get_clock().now().to_msg()
    message.header.frame_id = "tool0"
    message.instruction = "pick up the red block"
    message.tokens = [0, 128, 91, 241, 5, 101, 127, 255]
    message.action = [0.0, -0.0066, 0.0188, -0.1536, 0.0039, 0.0, 1.0]
    message.terminate = False
    message.inference_ms = 42.0
    message.model = "example"
    return message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 demo", description=__doc__)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    listener = subprocess.Popen(
        [sys.executable, "-m", "rt2_ros.cli", "echo", TOPIC, "--count", "1", "--timeout", str(args.timeout)]
    )
    rclpy.init()
    node = Node("rt2_demo_talker")
    publisher = node.create_publisher(VLAAction, TOPIC, 10)
    print(f"[demo] publishing a VLAAction on {TOPIC}; the listener process prints what it receives:", flush=True)
    try:
        deadline = time.monotonic() + args.timeout
        while listener.poll() is None and time.monotonic() < deadline:
            if publisher.get_subscription_count() > 0:
                publisher.publish(sample_action(node))
            rclpy.spin_once(node, timeout_sec=0.2)
    finally:
        if listener.poll() is None:
            listener.terminate()
        node.destroy_node()
        rclpy.try_shutdown()
    code = listener.wait(timeout=10)
    print("[demo] done: received in the other process" if code == 0 else "[demo] the listener received nothing")
    return code
