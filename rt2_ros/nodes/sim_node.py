"""`rt2 sim` / `ros2 run rt2_ros sim_node`: the MuJoCo tabletop behind MoveIt Servo's and a camera's topics.

Subscribes to Servo's twist input and a gripper command, publishes camera images, joint states, the
end-effector pose and the episode's task and success, in real time. Callbacks only store messages;
one timer advances the physics to the wall clock and publishes. Reset with the `task`/`seed`
parameters and the Trigger service:

    rt2 sim --ros-args -p robot:=panda -p task:=place_on_tile -p seed:=3
    (set task/seed with any parameter client, then call /sim/reset; /sim/list_tasks answers JSON)
"""

from __future__ import annotations

import json
import math
import sys

import mujoco
import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped, TwistStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64, String
from std_srvs.srv import Trigger

from rt2_ros.sim import TabletopSim
from rt2_ros.sim.robots import ROBOTS
from rt2_ros.sim.scene import CAMERAS
from rt2_ros.sim.servo import ServoParams
from rt2_ros.sim.tasks import TEMPLATES, task_names

CAMERA_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
CAMERA_NAMESPACES = {"scene": "/camera/color", "wrist": "/wrist_camera/color"}

PARAMETERS = {
    "robot": ("ur5e", f"arm and gripper: {' or '.join(ROBOTS)} (or ur5, franka; read at start)"),
    "task": ("pick", "task used by the next reset; see /sim/list_tasks"),
    "seed": (0, "layout seed used by the next reset"),
    "cameras": (["scene"], f"cameras to publish, from {', '.join(CAMERAS)} (read at start)"),
    "image_width": (224, "image width in pixels, every camera"),
    "image_height": (224, "image height in pixels, every camera"),
    "camera_rate_hz": (10.0, "images, camera info and success per second"),
    "tick_rate_hz": (100.0, "physics catch-up, command intake, joint state and pose publishing per second"),
    "real_time_factor": (1.0, "simulated seconds per wall-clock second"),
    "incoming_command_timeout": (0.1, "s; halt when twists stop for longer, reject stamps older than this"),
    "twist_topic": ("/servo_node/delta_twist_cmds", "TwistStamped input, frame base_link or tcp/tool0"),
    "gripper_topic": ("/gripper/command", "Float64 input, 0 open .. 1 closed"),
    "joint_states_topic": ("/joint_states", "JointState output (arm joints, then `gripper` 0..1)"),
    "ee_pose_topic": ("/ee_pose", "PoseStamped of the tool-centre point in base_link"),
    "task_topic": ("/sim/task", "String (JSON) describing the episode, latched"),
    "success_topic": ("/sim/success", "Bool, the task's success check"),
    "reset_service": ("/sim/reset", "Trigger: reset to the task and seed parameters"),
    "list_tasks_service": ("/sim/list_tasks", "Trigger: JSON of tasks and their instruction templates"),
}


class SimNode(Node):
    """One simulated arm on ROS topics; see the module docstring."""

    def __init__(self) -> None:
        super().__init__("sim_node")
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        p = self._param
        size = (p("image_height"), p("image_width"))
        self.timeout = float(p("incoming_command_timeout"))
        self.sim = TabletopSim(
            p("robot"),
            cameras={c: size for c in p("cameras")},
            servo=ServoParams(incoming_command_timeout=self.timeout),
        )
        self.camera_period = 1.0 / p("camera_rate_hz")
        self.rtf = float(p("real_time_factor"))
        self.image_pubs = {
            c: self.create_publisher(Image, f"{CAMERA_NAMESPACES[c]}/image_raw", CAMERA_QOS) for c in p("cameras")
        }
        self.info_pubs = {
            c: self.create_publisher(CameraInfo, f"{CAMERA_NAMESPACES[c]}/camera_info", CAMERA_QOS)
            for c in p("cameras")
        }
        self.joint_pub = self.create_publisher(JointState, p("joint_states_topic"), 10)
        self.pose_pub = self.create_publisher(PoseStamped, p("ee_pose_topic"), 10)
        self.task_pub = self.create_publisher(String, p("task_topic"), LATCHED_QOS)
        self.success_pub = self.create_publisher(Bool, p("success_topic"), 10)
        self.create_subscription(TwistStamped, p("twist_topic"), self._on_twist, COMMAND_QOS)
        self.create_subscription(Float64, p("gripper_topic"), self._on_gripper, COMMAND_QOS)
        self.create_service(Trigger, p("reset_service"), self._on_reset)
        self.create_service(Trigger, p("list_tasks_service"), self._on_list_tasks)
        self._twist: TwistStamped | None = None
        self._gripper: float | None = None
        self.rejected = 0
        self._reset(p("task"), p("seed"))
        self.create_timer(1.0 / p("tick_rate_hz"), self._tick)

    def _param(self, name: str):
        return self.get_parameter(name).value

    # --- callbacks: store, nothing more ----------------------------------------------------------

    def _on_twist(self, message: TwistStamped) -> None:
        self._twist = message

    def _on_gripper(self, message: Float64) -> None:
        self._gripper = float(message.data)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            stamp = self._reset(self._param("task"), int(self._param("seed")))
        except ValueError as error:
            response.success, response.message = False, str(error)
            return response
        task = self.sim.task
        response.success = True
        response.message = json.dumps(
            {
                "task": task.name,
                "seed": task.seed,
                "instruction": task.instruction,
                "stamp": {"sec": stamp.sec, "nanosec": stamp.nanosec},
            }
        )
        return response

    def _on_list_tasks(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success = True
        response.message = json.dumps({"robot": self.sim.robot, "tasks": {t: list(TEMPLATES[t]) for t in task_names()}})
        return response

    # --- the loop ---------------------------------------------------------------------------------

    def _reset(self, task: str, seed: int):
        """Reset the episode and publish its first frame at once; returns that frame's stamp."""
        instance = self.sim.reset(task, seed)
        self._twist, self._gripper = None, None
        self.get_logger().info(f"{self.sim.robot}: {task} seed {seed}: {instance.instruction!r}")
        self._wall_start = self.get_clock().now()
        self._next_frame = 0.0
        self._next_task_announcement = 0.0
        return self._publish_frames()

    def _tick(self) -> None:
        now = self.get_clock().now()
        self._take_commands(now)
        target = self.rtf * (now - self._wall_start).nanoseconds * 1e-9
        dt = self.sim.model.opt.timestep
        # Catch up with the wall clock, but never more than a quarter second at once after a stall.
        steps = min(int((target - self.sim.time) / dt), int(0.25 / dt))
        if steps > 0:
            self.sim.step(steps)
        self._publish_state(now)
        if self.sim.time + 1e-9 >= self._next_frame:
            self._publish_frames()

    def _take_commands(self, now: Time) -> None:
        if self._twist is not None:
            message, self._twist = self._twist, None
            age = (now - Time.from_msg(message.header.stamp)).nanoseconds * 1e-9
            t, w = message.twist.linear, message.twist.angular
            accepted = age <= self.timeout and self.sim.command_twist(
                np.array([t.x, t.y, t.z, w.x, w.y, w.z]), message.header.frame_id, stamp=self.sim.time - max(age, 0)
            )
            if not accepted:
                self.rejected += 1
                self.get_logger().warning(
                    f"ignored a twist (age {age:.3f} s, frame {message.header.frame_id!r}): stale or unknown frame",
                    throttle_duration_sec=2.0,
                )
        if self._gripper is not None:
            self.sim.command_gripper(self._gripper)
            self._gripper = None

    def _publish_state(self, now: Time) -> None:
        stamp = now.to_msg()
        names, position, velocity = self.sim.joint_state()
        joints = JointState(name=names, position=position.tolist(), velocity=velocity.tolist())
        joints.header.stamp = stamp
        self.joint_pub.publish(joints)
        p, r = self.sim.tcp_pose()
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, r.reshape(-1))
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, "base_link"
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = p.tolist()
        o = pose.pose.orientation
        o.w, o.x, o.y, o.z = quat.tolist()
        self.pose_pub.publish(pose)

    def _publish_frames(self):
        stamp = self.get_clock().now().to_msg()
        for camera, publisher in self.image_pubs.items():
            pixels = self.sim.render(camera)
            height, width, focal = self.sim.cameras.intrinsics(camera)
            frame_id = f"{camera}_camera_color_optical_frame"
            image = Image(
                height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3, data=pixels.tobytes()
            )
            image.header.stamp, image.header.frame_id = stamp, frame_id
            publisher.publish(image)
            info = CameraInfo(
                height=height,
                width=width,
                distortion_model="plumb_bob",
                d=[0.0] * 5,
                k=[focal, 0.0, width / 2, 0.0, focal, height / 2, 0.0, 0.0, 1.0],
                r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                p=[focal, 0.0, width / 2, 0.0, 0.0, focal, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0],
            )
            info.header.stamp, info.header.frame_id = stamp, frame_id
            self.info_pubs[camera].publish(info)
        self.success_pub.publish(Bool(data=self.sim.success()))
        if self.sim.time + 1e-9 >= self._next_task_announcement:  # latched, and again each second for
            self._next_task_announcement = self.sim.time + 1.0  # subscribers that are not transient-local
            self.task_pub.publish(String(data=json.dumps(self.sim.task.describe())))
        # Frames stay on the camera period of simulated time; after a stall, skip rather than burst.
        self._next_frame += self.camera_period
        if self._next_frame <= self.sim.time:
            self._next_frame = (math.floor(self.sim.time / self.camera_period) + 1) * self.camera_period
        return stamp


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print("usage: rt2 sim [--ros-args [-p name:=value ...] [--params-file config/sim_ur5.yaml]]\n")
        print(__doc__ + "\nparameters (-p name:=value after --ros-args):")
        for name, (default, description) in PARAMETERS.items():
            print(f"  {name:<26} {description} (default: {default})")
        return 0
    rclpy.init(args=["rt2 sim", *argv])
    node = SimNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.sim.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
