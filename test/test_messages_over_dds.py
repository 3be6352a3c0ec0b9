"""The built rt2_ros messages travel between two processes over real DDS, field for field."""

from __future__ import annotations

import json
import time

import pytest
import rclpy
from rclpy.node import Node

from rt2_ros.msg import PolicyStatus, VLAAction


def publish_until_received(node: Node, message, topic: str, listener) -> dict:
    publisher = node.create_publisher(type(message), topic, 10)
    deadline = time.monotonic() + 30
    while listener.poll() is None and time.monotonic() < deadline:
        if publisher.get_subscription_count() > 0:
            publisher.publish(message)
        rclpy.spin_once(node, timeout_sec=0.1)
    out, err = listener.communicate(timeout=10)
    assert listener.returncode == 0, f"listener failed: {err}"
    return json.loads(out.strip().splitlines()[-1])


def test_vla_action_arrives_field_for_field_in_another_process(ros_node, children):
    topic = "/rt2_test/action"
    listener = children.start("-m", "rt2_ros.cli", "echo", topic, "--count", "1", "--timeout", "30")
    sent = VLAAction()
    sent.header.stamp.sec, sent.header.stamp.nanosec = 1700000000, 123456789
    sent.header.frame_id = "tool0"
    sent.instruction = "place the blue cube on the tile with number 3"
    sent.plan = "Plan: pick blue cube, move over tile 3."
    sent.tokens = [0, 128, 91, 241, 5, 101, 127, 255]
    sent.action = [0.01, -0.02, 0.005, 0.1, -0.1, 0.25, 1.0]
    sent.terminate = True
    sent.inference_ms = 38.5
    sent.model = "models/rt2-sim-tiny"

    got = publish_until_received(ros_node, sent, topic, listener)

    assert got["header"] == {"stamp": {"sec": 1700000000, "nanosec": 123456789}, "frame_id": "tool0"}
    assert got["instruction"] == sent.instruction
    assert got["plan"] == sent.plan
    assert got["tokens"] == [0, 128, 91, 241, 5, 101, 127, 255]
    # float32 on the wire: equal at float32 precision
    assert got["action"] == pytest.approx([0.01, -0.02, 0.005, 0.1, -0.1, 0.25, 1.0], rel=1e-6)
    assert got["terminate"] is True
    assert got["inference_ms"] == pytest.approx(38.5)
    assert got["model"] == "models/rt2-sim-tiny"


def test_policy_status_arrives_in_another_process(ros_node, children):
    topic = "/rt2_test/status"
    listener = children.start(
        "-m", "rt2_ros.cli", "echo", topic, "--type", "rt2_ros/msg/PolicyStatus", "--count", "1", "--timeout", "30"
    )
    sent = PolicyStatus(state="fault", instruction="pick up the apple", step=17, control_rate_hz=9.5)
    sent.last_fault = "NaN in decoded action"

    got = publish_until_received(ros_node, sent, topic, listener)

    assert (got["state"], got["instruction"], got["step"]) == ("fault", "pick up the apple", 17)
    assert got["control_rate_hz"] == pytest.approx(9.5)
    assert got["last_fault"] == "NaN in decoded action"
