"""`rt2 bag record` in another process records what this process publishes over real DDS, byte for byte.

rclpy's own deserialize_message is the ground truth of the wire format: every recorded message
must decode with it to what was sent.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Float64, String

from rt2_ros.bag.reader import BagReader
from rt2_ros.msg import VLAAction

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Lines:
    """A child's stdout, line by line, readable with a timeout."""

    def __init__(self, process) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in process.stdout], daemon=True).start()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.seen):
                return next(line for line in self.seen if text in line)
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
        raise AssertionError(f"no line with {text!r} within {timeout} s; got: {self.seen}")


def sample_messages(n: int) -> dict[str, list]:
    images, instructions, twists, grippers, actions = [], [], [], [], []
    for i in range(n):
        image = Image(height=4, width=5, encoding="rgb8", step=15, data=bytes(range(i, i + 60)))
        image.header.frame_id = "camera_color_optical_frame"
        images.append(image)
        instructions.append(String(data=f"pick up block {i}"))
        twist = TwistStamped()
        twist.header.frame_id = "base_link"
        twist.twist.linear.x, twist.twist.angular.z = 0.01 * i, -0.1 * i
        twists.append(twist)
        grippers.append(Float64(data=i / n))
        action = VLAAction(instruction=f"pick up block {i}", tokens=[0, i, 2, 3, 4, 5, 6, 255], terminate=i == n - 1)
        action.action = [0.01 * i, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        actions.append(action)
    return {
        "/camera/color/image_raw": images,
        "/instruction": instructions,
        "/servo_node/delta_twist_cmds": twists,
        "/gripper/command": grippers,
        "/rt2_node/action": actions,
    }


def publish_and_record(node: Node, children, tmp_path, storage: str, n: int = 5):
    out = tmp_path / "recorded"
    sent = sample_messages(n)
    recorder = children.start("-m", "rt2_ros.cli", "bag", "record", "-o", str(out), "-s", storage, *sent)
    lines = Lines(recorder)
    lines.wait_for("recording to")
    publishers = {
        # cameras publish with sensor-data QoS (best effort), commands reliable: the recorder must take both
        topic: node.create_publisher(type(messages[0]), topic, qos_profile_sensor_data if "image" in topic else 10)
        for topic, messages in sent.items()
    }
    for topic in sent:
        lines.wait_for(f"subscribed to {topic}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(p.get_subscription_count() for p in publishers.values()):
        time.sleep(0.05)
    for i in range(n):
        for topic, messages in sent.items():
            publishers[topic].publish(messages[i])
        time.sleep(0.05)
    time.sleep(1.0)  # let the last messages arrive before asking the recorder to stop
    children.end_all()
    assert recorder.returncode == 0, recorder.stderr.read()
    return out, sent


def assert_recorded(out, sent: dict[str, list]) -> None:
    with BagReader(out) as reader:
        assert {topic: info.count for topic, info in reader.topics.items()} == {t: len(m) for t, m in sent.items()}
        assert reader.topics["/rt2_node/action"].msgtype == "rt2_ros/msg/VLAAction"
        received: dict[str, list] = {topic: [] for topic in sent}
        for message in reader.messages():
            received[message.topic].append(deserialize_message(message.data, type(sent[message.topic][0])))
            reader.deserialize(message)  # and rosbags reads it with the definition stored in the bag
    for topic, messages in sent.items():
        assert received[topic] == messages, topic


def test_record_mcap_by_default_over_real_dds(ros_node, children, tmp_path):
    out, sent = publish_and_record(ros_node, children, tmp_path, "mcap")
    assert len(list(out.glob("*.mcap"))) == 1
    assert_recorded(out, sent)
    with BagReader(out) as reader:  # the offered QoS is kept, so replay can offer the same
        image_qos = reader.topics["/camera/color/image_raw"].qos
        assert image_qos and image_qos[0].reliability.name == "BEST_EFFORT"


def test_record_sqlite3_on_request(ros_node, children, tmp_path):
    out, sent = publish_and_record(ros_node, children, tmp_path, "sqlite3", n=3)
    assert len(list(out.glob("*.db3"))) == 1
    assert_recorded(out, sent)


def test_record_refuses_an_existing_output(tmp_path, children):
    (tmp_path / "bag").mkdir()
    process = children.start("-m", "rt2_ros.cli", "bag", "record", "-o", str(tmp_path / "bag"))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "exists already" in err


def test_recorded_vla_action_decodes_field_for_field(tmp_path):
    """The writer side alone: a VLAAction written with rosbags decodes with rclpy (the ROS build's type)."""
    from rt2_ros.bag.writer import BagWriter

    with BagWriter(tmp_path / "bag") as writer:
        writer.add_topic("/rt2_node/action", "rt2_ros/msg/VLAAction")
        types = writer.types()
        header = types["std_msgs/msg/Header"](
            stamp=types["builtin_interfaces/msg/Time"](sec=5, nanosec=7), frame_id="base_link"
        )
        message = types["rt2_ros/msg/VLAAction"](
            header=header,
            instruction="place the cube",
            plan="Plan: go",
            tokens=np.array([0, 1, 2, 3, 4, 5, 6, 7], dtype=np.int32),
            action=np.array([0.5, 0, 0, 0, 0, 0, 1], dtype=np.float32),
            terminate=True,
            inference_ms=12.5,
            model="tiny",
        )
        writer.write("/rt2_node/action", 123, message)
    with BagReader(tmp_path / "bag") as reader:
        (recorded,) = list(reader.messages())
    got = deserialize_message(recorded.data, VLAAction)
    assert (got.header.stamp.sec, got.header.stamp.nanosec, got.header.frame_id) == (5, 7, "base_link")
    assert (got.instruction, got.plan, list(got.tokens), got.terminate, got.model) == (
        "place the cube",
        "Plan: go",
        [0, 1, 2, 3, 4, 5, 6, 7],
        True,
        "tiny",
    )
    assert list(got.action) == pytest.approx([0.5, 0, 0, 0, 0, 0, 1])
    assert got.inference_ms == pytest.approx(12.5)
