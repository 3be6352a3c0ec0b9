"""Thousands of random and malformed camera frames and instructions: the node stays up, never exceeds
its limits, and never moves on invalid data.
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.serialization import serialize_message
from ros_probe import RosProbe, speeds
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String
from test_rt2_node import LIMITS, Camera, start_node

from rt2_ros.camera_frames import compressed_from_rgb

# (no NUL inside an encoding: "rgb8\x00x" arrives as a perfectly valid "rgb8" on the other side)
ENCODINGS = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "yuv422", "16UC1", "", "RGB8", "rgb 8", "bayer_rggb8"]
CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def malformed_image(rng: np.random.Generator) -> Image | bytes:
    kind = rng.integers(0, 7)
    height, width = (int(v) for v in rng.integers(0, 40, 2))
    encoding = str(rng.choice(ENCODINGS))
    msg = Image(height=height, width=width, encoding=encoding, step=int(width * CHANNELS.get(encoding, 3)))
    if kind == 0:  # wrong encoding for a well-sized buffer
        msg.encoding = str(rng.choice(ENCODINGS[5:]))
        msg.data = bytes(msg.step * height)
    elif kind == 1:  # data shorter or longer than step * height
        msg.data = bytes(max(0, msg.step * height + int(rng.choice([-7, -1, 1, 13]))))
    elif kind == 2:  # zero size
        msg.height, msg.width, msg.step = 0, int(rng.integers(0, 5)), 0
    elif kind == 3:  # step shorter than a row
        msg.encoding, msg.height, msg.width, msg.step = "rgb8", 4, 8, 5
        msg.data = bytes(20)
    elif kind == 4:  # absurd dimensions with no data
        msg.encoding, msg.height, msg.width, msg.step = "rgb8", 2**31, 2**31, 3
    elif kind == 5:  # not even an Image: random bytes on the wire
        return bytes(rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8))
    else:  # a valid Image's bytes cut inside its pixel data (a cut in the trailing padding is still valid)
        good = serialize_message(Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(12)))
        return good[: int(rng.integers(0, len(good) - 13))]
    return msg


def malformed_compressed(rng: np.random.Generator) -> CompressedImage:
    good = compressed_from_rgb(np.zeros((8, 8, 3), np.uint8), str(rng.choice(["jpeg", "png"])))
    data = [b"", bytes(rng.integers(0, 256, 50, dtype=np.uint8)), good[: len(good) // 2], good[:12] + bytes(40)]
    return CompressedImage(format=str(rng.choice(["jpeg", "png", "tiff", "", "bmp"])), data=data[rng.integers(0, 4)])


def valid_frame(rng: np.random.Generator) -> Image:
    height, width = (int(v) for v in rng.integers(1, 64, 2))
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image(height=height, width=width, encoding="rgb8", step=width * 3, data=pixels.tobytes())


def hostile_instruction(rng: np.random.Generator) -> String | bytes:
    kind = rng.integers(0, 5)
    if kind == 0:  # invalid UTF-8
        raw = b"move \xff\xfe forward"
        return b"\x00\x01\x00\x00" + len(raw + b"\x00").to_bytes(4, "little") + raw + b"\x00"
    if kind == 1:  # random printable and non-printable characters
        return String(data="".join(chr(int(c)) for c in rng.integers(1, 0x2FFF, int(rng.integers(1, 40)))))
    if kind == 2:
        return bytes(rng.integers(0, 256, int(rng.integers(0, 12)), dtype=np.uint8))
    if kind == 3:
        return String(data="move forward " * int(rng.integers(200, 400)))  # longer than max_instruction_bytes
    return String(data=str(rng.choice(["move forward", "move left", "pick up the red block"])))


def assert_alive(node, probe: RosProbe) -> None:
    assert node.poll() is None, f"node died:\n{node.stderr.read()[-3000:]}"
    assert probe.call(probe.stop_client).success


def test_fuzzed_inputs_never_crash_the_node_or_exceed_its_limits(children, taught_model_dir):
    # A camera topic of its own: no frame from another test's leftover publisher can reach this node.
    topic = "/fuzz_camera/image_raw"
    node = start_node(children, taught_model_dir, image_transports="[raw, compressed]", image_topic=topic)
    probe = RosProbe(image_topic=topic)
    try:
        probe.wait_for_node(node)
        rng = np.random.default_rng(7)

        # Phase 1: a valid instruction, but only malformed frames: nothing may move.
        probe.instruct("move forward")
        for i in range(1500):
            probe.image_pub.publish(malformed_image(rng))
            probe.compressed_pub.publish(malformed_compressed(rng))
            if i % 100 == 0:
                time.sleep(0.02)
        time.sleep(1.0)
        assert all(speeds(m) == (0.0, 0.0) for _, m in probe.twists), "moved on invalid frames"
        assert not probe.actions, "the model ran on invalid frames"
        assert_alive(node, probe)

        # Phase 2: hostile instructions (10 MB, invalid UTF-8, random bytes) mixed with valid and bad frames.
        probe.instruction_pub.publish(String(data="x" * 10_000_000))
        for i in range(1500):
            choice = rng.integers(0, 4)
            if choice == 0:
                probe.image_pub.publish(valid_frame(rng))
            elif choice == 1:
                probe.image_pub.publish(malformed_image(rng))
            elif choice == 2:
                probe.compressed_pub.publish(malformed_compressed(rng))
            else:
                probe.instruction_pub.publish(hostile_instruction(rng))
            if i % 50 == 0:
                time.sleep(0.02)
        camera = Camera(probe)
        probe.instruct("move forward")
        try:  # valid frames with a valid instruction still drive the model after all that
            probe.wait_for(lambda: any(a.instruction == "move forward" for a in probe.actions), 60, "an action")
        except AssertionError:
            node.send_signal(2)
            raise AssertionError(node.communicate(timeout=20)[1][-4000:]) from None
        finally:
            camera.stop()
        assert_alive(node, probe)
        for _, twist in probe.twists:
            linear, angular = speeds(twist)
            assert linear <= LIMITS["max_linear_speed"] + 1e-9 and angular <= LIMITS["max_angular_speed"] + 1e-9
    finally:
        probe.close()
