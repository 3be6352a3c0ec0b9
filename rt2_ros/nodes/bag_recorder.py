"""`rt2 bag record`: record the node's inputs and outputs to a rosbag2 (mcap by default), like `ros2 bag record`.

Topics are subscribed as they appear, with the type and a QoS their publishers agree on, and
written as the raw CDR bytes with the receive time; the bag holds each topic's message definition
and the offered QoS, so `ros2 bag play` and `rt2 replay --live` can play it back.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections import deque
from datetime import datetime

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from rt2_ros.bag.writer import STORAGES, BagWriter, qos
from rt2_ros.nodes.messages import message_type

# rt2_node's inputs and outputs (docs/conventions.md), and the sim's task and success.
DEFAULT_TOPICS = [
    "/camera/color/image_raw",
    "/camera/color/camera_info",
    "/wrist_camera/color/image_raw",
    "/wrist_camera/color/camera_info",
    "/instruction",
    "/servo_node/delta_twist_cmds",
    "/gripper/command",
    "/joint_states",
    "/ee_pose",
    "/sim/task",
    "/sim/success",
    "/rt2_node/action",
    "/rt2_node/status",
]


class BagRecorder(Node):
    """Subscribes to wanted topics as publishers appear; callbacks only queue (topic, time, bytes)."""

    def __init__(self, writer: BagWriter, topics: list[str] | None) -> None:
        super().__init__("rt2_bag_recorder")
        self.writer = writer
        self.wanted = topics  # None: every topic
        self.queue: deque[tuple[str, int, bytes]] = deque()
        self._subscribed: dict[str, object] = {}
        self.create_timer(0.5, self.discover)

    def discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self._subscribed or (self.wanted is not None and topic not in self.wanted):
                continue
            if self.wanted is None and topic in ("/rosout", "/parameter_events"):
                continue
            self._subscribe(topic, types[0])

    def _subscribe(self, topic: str, msgtype: str) -> None:
        infos = self.get_publishers_info_by_topic(topic)
        if not infos:
            return
        try:
            msg_class = message_type(msgtype)
            offered = [
                qos(
                    reliable=i.qos_profile.reliability == ReliabilityPolicy.RELIABLE,
                    depth=i.qos_profile.depth,
                    transient_local=i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL,
                )
                for i in infos
            ]
            self.writer.add_topic(topic, msgtype, offered)
        except (ValueError, KeyError) as error:
            self.get_logger().warning(f"not recording {topic}: {error}")
            self._subscribed[topic] = None
            return
        # As `ros2 bag record`: reliable only when every publisher is (else they could not match).
        reliable = all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos)
        transient = all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos)
        profile = QoSProfile(
            depth=100,
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE,
        )
        self._subscribed[topic] = self.create_subscription(
            msg_class, topic, lambda data, t=topic: self.queue.append((t, time.time_ns(), data)), profile, raw=True
        )
        print(f"[record] subscribed to {topic} ({msgtype})", flush=True)

    def drain(self) -> None:
        while self.queue:
            self.writer.write_raw(*self.queue.popleft())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 bag record", description=__doc__)
    parser.add_argument("topics", nargs="*", help="topics to record (default: rt2_node's inputs and outputs)")
    parser.add_argument("-a", "--all", action="store_true", help="record every topic")
    parser.add_argument("-o", "--output", help="bag directory to create (default: rt2_bag_<date>_<time>)")
    parser.add_argument("-s", "--storage", choices=sorted(STORAGES), default="mcap")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: at Ctrl-C)")
    args = parser.parse_args(argv)
    output = args.output or datetime.now().strftime("rt2_bag_%Y_%m_%d-%H_%M_%S")
    topics = None if args.all else (args.topics or DEFAULT_TOPICS)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        writer = BagWriter(output, storage=args.storage)
    except Exception as error:  # rosbags refuses an existing path, an unwritable one, ...
        print(f"rt2 bag record: error: {error}", file=sys.stderr)
        return 1
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = BagRecorder(writer, topics)
    print(f"[record] recording to {output} ({args.storage}); Ctrl-C stops", flush=True)
    node.discover()
    deadline = time.monotonic() + args.duration if args.duration > 0 else float("inf")
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
            node.drain()
    finally:
        rclpy.spin_once(node, timeout_sec=0.05)  # messages already delivered to the subscriptions
        node.drain()
        writer.close()
        counts = ", ".join(f"{t}: {n}" for t, n in writer.counts.items()) or "nothing"
        print(f"[record] wrote {output}: {counts}", flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
