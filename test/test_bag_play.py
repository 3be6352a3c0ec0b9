"""`rt2 replay --live`: a player process publishes a bag over real DDS; this process subscribes and checks.

Timing itself is not asserted (the machine is shared); the schedule that sets it is tested as data.
"""

from __future__ import annotations

import time

import pytest
import rclpy
from bagfiles import CAMERA, GRIPPER, INSTRUCTION, T0, TWIST, make_ticks, write_with_mcap_ros2, write_with_rosbags
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from rosbags.interfaces import QosDurability, QosReliability
from sensor_msgs.msg import Image
from std_msgs.msg import Float64, String

from rt2_ros.bag.playback import PlaybackOptions, publisher_qos, schedule
from rt2_ros.bag.reader import BagMessage, BagReader
from rt2_ros.bag.writer import qos

TYPES = {CAMERA: Image, INSTRUCTION: String, TWIST: TwistStamped, GRIPPER: Float64}
EPISODES = [("pick up the red block", 4), ("place it on the tile", 4)]


def test_schedule_scales_gaps_by_the_rate_and_skips_the_offset():
    messages = [BagMessage("/a", "std_msgs/msg/String", T0 + ms * 1_000_000, b"") for ms in (0, 100, 250, 1000)]
    assert [due for due, _ in schedule(messages, T0, PlaybackOptions())] == [0.0, 0.1, 0.25, 1.0]
    assert [due for due, _ in schedule(messages, T0, PlaybackOptions(rate=2.0))] == [0.0, 0.05, 0.125, 0.5]
    kept = list(schedule(messages, T0, PlaybackOptions(start_offset_s=0.2)))
    assert [(round(due, 9), m.log_time_ns - T0) for due, m in kept] == [(0.05, 250_000_000), (0.8, 1_000_000_000)]
    with pytest.raises(ValueError, match="--rate"):
        PlaybackOptions(rate=0)
    with pytest.raises(ValueError, match="--start-offset"):
        PlaybackOptions(start_offset_s=-1)


def test_publishers_offer_what_the_recording_offered():
    assert publisher_qos([]).reliable and not publisher_qos([]).transient_local
    assert not publisher_qos([qos(reliable=False, depth=1)]).reliable  # a camera's best effort
    mixed = publisher_qos([qos(reliable=False), qos(reliable=True, transient_local=True)])
    assert mixed.reliable and not mixed.transient_local
    latched = publisher_qos([qos(transient_local=True, depth=1)])
    assert latched.transient_local and latched.depth == 10
    assert qos(reliable=False).reliability == QosReliability.BEST_EFFORT
    assert qos(transient_local=True).durability == QosDurability.TRANSIENT_LOCAL


@pytest.fixture
def listener():
    rclpy.init()
    node = Node("rt2_test_bag_listener")
    received: dict[str, list] = {topic: [] for topic in TYPES}
    for topic, msg_class in TYPES.items():
        profile = qos_profile_sensor_data if topic == CAMERA else 10
        node.create_subscription(msg_class, topic, lambda m, t=topic: received[t].append(m), profile)
    yield node, received
    node.destroy_node()
    rclpy.try_shutdown()


def recorded(bag) -> dict[str, list]:
    with BagReader(bag) as reader:
        out: dict[str, list] = {topic: [] for topic in TYPES}
        for message in reader.messages(TYPES):
            out[message.topic].append((message.log_time_ns, deserialize_message(message.data, TYPES[message.topic])))
        return out


def play(children, bag, *options: str):
    return children.start(
        "-m", "rt2_ros.cli", "replay", "--live", str(bag), "--wait-for-subscribers", "30", "--delay", "0.5", *options
    )


def spin_until(node: Node, done, process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done():
        rclpy.spin_once(node, timeout_sec=0.05)
    for _ in range(10):  # anything still in flight
        rclpy.spin_once(node, timeout_sec=0.05)


@pytest.mark.parametrize("writer", ["rosbags", "mcap_ros2"])
def test_live_replay_publishes_every_message_in_order(listener, children, tmp_path, writer):
    node, received = listener
    ticks = make_ticks(EPISODES)
    bag = (
        write_with_rosbags(tmp_path / "bag", ticks)
        if writer == "rosbags"
        else write_with_mcap_ros2(tmp_path / "bag.mcap", ticks)
    )
    expected = recorded(bag)
    player = play(children, bag, "--rate", "4")
    spin_until(node, lambda: player.poll() is not None, player)
    out, err = player.communicate(timeout=30)
    assert player.returncode == 0, err
    assert "published 26 messages" in out  # 8 frames, 8 twists, 8 gripper commands, 2 instructions
    for topic, messages in expected.items():
        assert received[topic] == [m for _, m in messages], topic


def test_start_offset_skips_the_beginning_and_loop_plays_again(listener, children, tmp_path):
    node, received = listener
    bag = write_with_rosbags(tmp_path / "bag", make_ticks(EPISODES))
    expected = recorded(bag)
    with BagReader(bag) as reader:
        start = reader.start_ns
    # Offset 0.4 s: the bag starts 5 ms before tick 0, so ticks 4..7 remain (the second episode).
    player = play(children, bag, "--start-offset", "0.4", "--rate", "4")
    spin_until(node, lambda: player.poll() is not None, player)
    assert player.wait(timeout=30) == 0
    for topic, messages in expected.items():
        assert received[topic] == [m for t, m in messages if t >= start + 400_000_000], topic
    assert [m.data for m in received[INSTRUCTION]] == ["place it on the tile"]

    for messages in received.values():
        messages.clear()
    looping = play(children, bag, "--loop", "--rate", "8")
    spin_until(node, lambda: len(received[TWIST]) >= 20, looping)
    assert looping.poll() is None  # still playing: a loop never ends by itself
    twists = [m for _, m in expected[TWIST]]
    assert received[TWIST][:16] == twists + twists  # the whole bag, then again from the start
    children.end_all()
    assert looping.returncode == 0


def test_live_replay_of_a_missing_bag_or_topic_fails_clearly(children, tmp_path):
    process = children.start("-m", "rt2_ros.cli", "replay", "--live", str(tmp_path / "nope"))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "no such bag" in err
    bag = write_with_rosbags(tmp_path / "bag", make_ticks(EPISODES))
    process = children.start("-m", "rt2_ros.cli", "replay", "--live", str(bag), "--topics", "/nothing")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "has no topic /nothing" in err
