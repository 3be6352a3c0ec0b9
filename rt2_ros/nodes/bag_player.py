"""`rt2 replay --live BAG`: publish a bag's messages on their topics at recorded timing, like `ros2 bag play`.

Messages go out as the recorded CDR bytes (no decode / re-encode), with the QoS the recording
publishers offered. Timing rules live in rt2_ros.bag.playback; this file is the rclpy wiring.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from rt2_ros.bag.playback import PlaybackOptions, publisher_qos, schedule
from rt2_ros.bag.reader import BagError, BagReader
from rt2_ros.nodes.messages import message_type


def _publishers(node: Node, reader: BagReader, topics: list[str]) -> dict:
    publishers = {}
    for topic in topics:
        info = reader.topics[topic]
        try:
            msg_class = message_type(info.msgtype)
        except ValueError as error:  # a type this machine has no Python module for
            print(f"[play] skipping {topic}: {error}", file=sys.stderr, flush=True)
            continue
        wanted = publisher_qos(info.qos)
        qos = QoSProfile(
            depth=wanted.depth,
            reliability=ReliabilityPolicy.RELIABLE if wanted.reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if wanted.transient_local else DurabilityPolicy.VOLATILE,
        )
        publishers[topic] = node.create_publisher(msg_class, topic, qos)
    return publishers


def play(args: argparse.Namespace) -> int:
    options = PlaybackOptions(rate=args.rate, start_offset_s=args.start_offset, loop=args.loop)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        reader = BagReader(args.bag)
    except BagError as error:
        print(f"rt2 replay --live: error: {error}", file=sys.stderr)
        return 1
    topics = args.topics or sorted(reader.topics)
    missing = [t for t in topics if t not in reader.topics]
    if missing:
        print(f"rt2 replay --live: error: {args.bag} has no topic {', '.join(missing)}", file=sys.stderr)
        return 1
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = Node("rt2_bag_player")
    sent = 0
    try:
        publishers = _publishers(node, reader, topics)
        deadline = time.monotonic() + args.wait_for_subscribers
        while time.monotonic() < deadline and not stop.is_set():
            if all(p.get_subscription_count() > 0 for p in publishers.values()):
                break
            time.sleep(0.05)
        stop.wait(args.delay)
        print(f"[play] {args.bag}: {len(publishers)} topics, rate {args.rate:g}", flush=True)
        while not stop.is_set():
            began = time.monotonic()
            for due, message in schedule(reader.messages(publishers), reader.start_ns, options):
                if stop.wait(max(0.0, began + due - time.monotonic())):
                    break
                publishers[message.topic].publish(message.data)
                sent += 1
            if not options.loop:
                break
        stop.wait(0.5)  # let reliable writers deliver the last messages before the node goes
    except BagError as error:
        print(f"rt2 replay --live: error: {error}", file=sys.stderr)
        return 1
    finally:
        print(f"[play] published {sent} messages", flush=True)
        reader.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
