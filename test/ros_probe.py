"""A test-side ROS participant: publishes camera frames and instructions, records what the node sends.

Everything it receives is stored with the receipt time (ROS system clock, as the node stamps).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from geometry_msgs.msg import TwistStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from rt2_ros.msg import PolicyStatus, VLAAction


def stamp_seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class RosProbe:
    def __init__(self, node_name: str = "rt2_node", image_topic: str = "/camera/color/image_raw") -> None:
        rclpy.init()
        self.node = Node("rt2_test_probe")
        reliable = QoSProfile(depth=100)
        self.image_pub = self.node.create_publisher(Image, image_topic, qos_profile_sensor_data)
        self.compressed_pub = self.node.create_publisher(
            CompressedImage, f"{image_topic}/compressed", qos_profile_sensor_data
        )
        self.instruction_pub = self.node.create_publisher(String, "/instruction", reliable)
        self.twists: list[tuple[float, TwistStamped]] = []
        self.actions: list[VLAAction] = []
        self.statuses: list[PolicyStatus] = []
        self.grippers: list[float] = []
        self._lock = threading.Lock()
        self.node.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self._on_twist, reliable)
        self.node.create_subscription(VLAAction, f"/{node_name}/action", self._keep(self.actions), reliable)
        self.node.create_subscription(PolicyStatus, f"/{node_name}/status", self._keep(self.statuses), reliable)
        self.node.create_subscription(Float64, "/gripper/command", lambda m: self.grippers.append(m.data), reliable)
        self.stop_client = self.node.create_client(Trigger, f"/{node_name}/stop")
        self.start_client = self.node.create_client(Trigger, f"/{node_name}/start")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spinning = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._spinning:
            self.executor.spin_once(timeout_sec=0.02)

    def _on_twist(self, msg: TwistStamped) -> None:
        with self._lock:
            self.twists.append((self.now(), msg))

    def _keep(self, store: list):
        return lambda msg: store.append(msg)

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def close(self) -> None:
        self._spinning = False
        self._thread.join()
        self.node.destroy_node()
        rclpy.try_shutdown()

    # --- helpers for tests -----------------------------------------------------------------------

    def wait_for(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.02)

    def wait_for_node(self, process, timeout: float = 60.0) -> None:
        """Wait until the node (a child process) listens and serves; if it died, fail with what it printed."""

        def subscribed() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the node exited with {process.returncode}:\n{process.stderr.read()[-3000:]}")
            return self.instruction_pub.get_subscription_count() > 0

        self.wait_for(subscribed, timeout, "rt2_node to subscribe")
        self.wait_for(lambda: self.stop_client.service_is_ready(), timeout, "rt2_node's services")

    def publish_frame(self, frame: np.ndarray) -> None:
        msg = Image(height=frame.shape[0], width=frame.shape[1], encoding="rgb8", step=frame.shape[1] * 3)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.data = frame.tobytes()
        self.image_pub.publish(msg)

    def instruct(self, text: str) -> None:
        self.instruction_pub.publish(String(data=text))

    def call(self, client, timeout: float = 10.0):
        future = client.call_async(Trigger.Request())
        self.wait_for(future.done, timeout, f"service {client.srv_name}")
        return future.result()

    def twists_between(self, start: float, end: float = float("inf")) -> list[TwistStamped]:
        with self._lock:
            return [m for t, m in self.twists if start <= stamp_seconds(m.header.stamp) <= end]


def speeds(twist: TwistStamped) -> tuple[float, float]:
    linear, angular = twist.twist.linear, twist.twist.angular
    return (
        float(np.linalg.norm([linear.x, linear.y, linear.z])),
        float(np.linalg.norm([angular.x, angular.y, angular.z])),
    )


def is_zero(twist: TwistStamped) -> bool:
    return speeds(twist) == (0.0, 0.0)
