"""The simulation node over real DDS, from this (separate) test process: images decode to the frame
the simulator renders, twists move the arm and stop moving it, and the reset/list services work."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from rt2_ros.sim import TabletopSim, task_names

SENSOR_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def spin_until(node: Node, condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        rclpy.spin_once(node, timeout_sec=0.02)


def call(node: Node, client, request):
    assert client.wait_for_service(timeout_sec=30), f"service {client.srv_name} not available"
    future = client.call_async(request)
    spin_until(node, future.done, what=client.srv_name)
    return future.result()


def latest(node: Node, kind, topic: str, qos=10) -> list:
    received: list = []
    node.create_subscription(kind, topic, received.append, qos)
    return received


def test_node_publishes_images_that_decode_to_the_rendered_frame(ros_node, children):
    sim_process = children.start(
        "-m",
        "rt2_ros.cli",
        "sim",
        "--ros-args",
        "-p",
        "robot:=panda",
        "-p",
        "cameras:=[scene,wrist]",
        "-p",
        "image_width:=128",
        "-p",
        "image_height:=96",
    )
    scene = latest(ros_node, Image, "/camera/color/image_raw", SENSOR_QOS)
    wrist = latest(ros_node, Image, "/wrist_camera/color/image_raw", SENSOR_QOS)
    info = latest(ros_node, CameraInfo, "/camera/color/camera_info", SENSOR_QOS)
    tasks = latest(ros_node, String, "/sim/task", LATCHED_QOS)
    spin_until(ros_node, lambda: scene and wrist and info or sim_process.poll() is not None, what="first images")
    assert sim_process.poll() is None, sim_process.communicate()[1]

    listed = call(ros_node, ros_node.create_client(Trigger, "/sim/list_tasks"), Trigger.Request())
    assert listed.success and set(json.loads(listed.message)["tasks"]) == set(task_names())

    parameters = AsyncParameterClient(ros_node, "sim_node")
    assert parameters.wait_for_services(timeout_sec=30)
    future = parameters.set_parameters([Parameter("task", value="place_on_tile"), Parameter("seed", value=3)])
    spin_until(ros_node, future.done, what="set_parameters")
    reset = call(ros_node, ros_node.create_client(Trigger, "/sim/reset"), Trigger.Request())
    assert reset.success, reset.message
    answer = json.loads(reset.message)
    assert (answer["task"], answer["seed"]) == ("place_on_tile", 3)

    def first_frame(images: list) -> Image | None:
        stamp = answer["stamp"]
        return next(
            (m for m in images if (m.header.stamp.sec, m.header.stamp.nanosec) == (stamp["sec"], stamp["nanosec"])),
            None,
        )

    spin_until(ros_node, lambda: first_frame(scene) and first_frame(wrist), what="the reset's first frames")
    spin_until(ros_node, lambda: tasks and json.loads(tasks[-1].data)["seed"] == 3, what="the new /sim/task")

    local = TabletopSim("panda", cameras={"scene": (96, 128), "wrist": (96, 128)})
    instance = local.reset("place_on_tile", 3)
    expected = local.images()
    local.close()
    assert json.loads(tasks[-1].data)["instruction"] == instance.instruction == answer["instruction"]
    for name, message in (("scene", first_frame(scene)), ("wrist", first_frame(wrist))):
        assert (message.encoding, message.height, message.width, message.step) == ("rgb8", 96, 128, 384)
        decoded = np.frombuffer(bytes(message.data), dtype=np.uint8).reshape(96, 128, 3)
        assert np.array_equal(decoded, expected[name]), f"{name} image differs from the simulator's frame"
    camera = info[-1]
    assert camera.header.frame_id == scene[-1].header.frame_id
    assert (camera.width, camera.height) == (128, 96)
    assert camera.k[0] == pytest.approx(camera.k[4]) and (camera.k[2], camera.k[5]) == (64.0, 48.0)


def test_arm_moves_when_a_twist_arrives_over_dds_and_halts_when_they_stop(ros_node, children):
    sim_process = children.start("-m", "rt2_ros.cli", "sim", "--ros-args", "-p", "robot:=ur5e", "-p", "task:=pick")
    poses = latest(ros_node, PoseStamped, "/ee_pose")
    joints = latest(ros_node, JointState, "/joint_states")
    twist_publisher = ros_node.create_publisher(TwistStamped, "/servo_node/delta_twist_cmds", 10)
    gripper_publisher = ros_node.create_publisher(Float64, "/gripper/command", 10)
    spin_until(
        ros_node,
        lambda: (poses and twist_publisher.get_subscription_count() > 0) or sim_process.poll() is not None,
        what="the sim node",
    )
    assert sim_process.poll() is None, sim_process.communicate()[1]

    def position() -> np.ndarray:
        p = poses[-1].pose.position
        return np.array([p.x, p.y, p.z])

    def send_twists(seconds: float, vy: float, age: float = 0.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            message = TwistStamped()
            message.header.stamp = (ros_node.get_clock().now() - Duration(seconds=age)).to_msg()
            message.header.frame_id = "base_link"
            message.twist.linear.y = vy
            twist_publisher.publish(message)
            deadline = time.monotonic() + 0.05  # 20 Hz, as rt2_node republishes inside Servo's timeout
            while time.monotonic() < deadline:
                rclpy.spin_once(ros_node, timeout_sec=0.01)

    start = position()
    send_twists(1.0, vy=0.05)
    moved = position()
    assert moved[1] - start[1] > 0.02, f"the arm did not follow: {start} -> {moved}"
    assert abs(moved[0] - start[0]) < 0.005 and abs(moved[2] - start[2]) < 0.005, "only along y"

    send_twists(0.6, vy=0.0, age=0.0)  # zero twists, then silence: halted
    stopped = position()
    send_twists(0.5, vy=0.05, age=0.5)  # stale stamps: ignored
    assert np.linalg.norm(position() - stopped) < 0.001

    gripper_publisher.publish(Float64(data=1.0))
    spin_until(
        ros_node,
        lambda: joints and joints[-1].position[joints[-1].name.index("gripper")] > 0.8,
        what="the gripper to close",
    )
