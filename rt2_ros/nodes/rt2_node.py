"""rt2_node: camera + /instruction in, MoveIt Servo twists and gripper commands out, the VLA in between.

Threads: the executor thread only stores messages and publishes at the servo rate; the model runs
on its own thread at the control rate, on the newest frame. Every decision about motion is made
by rt2_ros.supervisor.Supervisor (ROS-free); this file is the wiring.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from rclpy.time import Time
from rclpy.utilities import remove_ros_args
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from rt2_ros.camera_frames import BadFrameError, raw_from_rgb, rgb_from_compressed, rgb_from_raw
from rt2_ros.debug_overlay import annotate
from rt2_ros.instructions import BadInstructionError, instruction_from_cdr
from rt2_ros.latency import LatencyStats
from rt2_ros.msg import PolicyStatus, VLAAction
from rt2_ros.nodes.gripper_action import GripperActionClient
from rt2_ros.nodes.parameters import declare_node_parameters
from rt2_ros.supervisor import RUNNING, Supervisor
from rt2_ros.tool_points import ArmView, CameraCalibration, finger_closure, holds_object

HALT_REPEAT_S = 1.0  # after leaving `running`, keep sending zero twists this long, then fall silent


@dataclass
class Frame:
    pixels: np.ndarray  # HxWx3 uint8 RGB
    stamp: Time  # the camera's header stamp: VLAAction carries it, so an action names its frame
    received: float  # time.monotonic() at receipt
    captured: float  # time.monotonic() when the camera took it: from the stamp when that is on this clock


class RT2Node(Node):
    def __init__(self, policy=None) -> None:
        super().__init__("rt2_node")
        self.params = declare_node_parameters(self)
        self.supervisor = Supervisor(self.params.supervisor)
        self.policy = policy if policy is not None else self._load_policy()
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self.latency = LatencyStats()
        # Two threads publish twists: a command is decided and sent under this lock, so they go out in order.
        self._twist_lock = threading.RLock()
        self._frame_seq = 0
        self._used_seq = 0
        self._ee_position: np.ndarray | None = None
        self._ee_received = 0.0  # time.monotonic() of the last pose
        self._calibration: CameraCalibration | None = None  # from CameraInfo + camera_pose
        self._finger_closure: float | None = None  # 0 open .. 1 closed, from joint_states' gripper_joint
        self._finger_received = 0.0
        self._warned_arm_view: set[str] = set()
        self._left_running_at: float | None = None
        self._warned_no_pose = False
        self.counters: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self._last_action: VLAAction | None = None
        self._inference_ms = 0.0
        self._rate_hz = 0.0
        self._last_inference_start: float | None = None
        self._stopping = threading.Event()
        self._reset_policy = threading.Event()
        self._frame_arrived = threading.Event()
        self._ended_action: float | None = None  # the end time of the last action whose twist was stopped
        self._create_interfaces()
        self._worker = threading.Thread(target=self._inference_loop, name="rt2_inference", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"rt2_node ready: model {self.policy.name}, control {self.params.control_rate:g} Hz, "
            f"servo {self.params.servo_rate:g} Hz on {self.params.twist_topic} ({self.params.servo_frame})"
            + (", DRY RUN: the arm is never commanded" if self.params.dry_run else "")
        )

    # --- setup --------------------------------------------------------------------------------

    def _load_policy(self):
        import torch

        from rt2_ros.policy import Policy  # torch and transformers load only when a node really starts

        if self.params.torch_threads > 0:
            # OpenMP threads spin-wait: with another busy process on the cores, 2 threads can be 20x
            # slower than 1 (measured: 1595 vs 77 ms per action for the 18.5M default model).
            torch.set_num_threads(self.params.torch_threads)
        if not self.params.model_path:
            raise SystemExit("rt2_node: parameter model_path is empty; set it to a model folder")
        p = self.params
        # False is the parameter's default, not a request to skip a plan the model was trained to write.
        return Policy.from_pretrained(
            p.model_path,
            decoding=p.decoding,
            dtype=p.dtype,
            chain_of_thought=p.chain_of_thought or None,
            compile=p.compile,
        )

    def _create_interfaces(self) -> None:
        p = self.params
        reliable = QoSProfile(depth=10)
        if "raw" in p.image_transports:
            self.create_subscription(Image, p.image_topic, self._on_image, qos_profile_sensor_data)
        if "compressed" in p.image_transports:
            self.create_subscription(
                CompressedImage, p.image_topic + "/compressed", self._on_compressed, qos_profile_sensor_data
            )
        # Raw bytes: an instruction with invalid UTF-8 must be refused here, not crash the executor.
        self.create_subscription(String, p.instruction_topic, self._on_instruction, reliable, raw=True)
        if p.pose_topic:
            self.create_subscription(PoseStamped, p.pose_topic, self._on_pose, reliable)
        if p.camera_pose and p.camera_info_topic:
            self.create_subscription(CameraInfo, p.camera_info_topic, self._on_camera_info, qos_profile_sensor_data)
        if p.joint_states_topic:
            self.create_subscription(JointState, p.joint_states_topic, self._on_joint_states, qos_profile_sensor_data)
        self.twist_pub = self.create_publisher(TwistStamped, p.twist_topic, reliable)
        self.gripper_pub = self.create_publisher(Float64, p.gripper_topic, reliable)
        self.gripper_action = GripperActionClient(self, p) if p.gripper_action else None
        self.action_pub = self.create_publisher(VLAAction, "~/action", reliable)
        self.status_pub = self.create_publisher(PolicyStatus, "~/status", reliable)
        self.debug_pub = self.create_publisher(Image, "~/debug_image", qos_profile_sensor_data)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", reliable)
        self.create_service(Trigger, "~/stop", self._on_stop)
        self.create_service(Trigger, "~/start", self._on_start)
        self.create_service(Trigger, "~/go_home", self._on_go_home)
        self.create_timer(1.0 / p.servo_rate, self._publish_servo_command)
        self.create_timer(0.5, self._publish_status)
        self.create_timer(1.0, self._publish_diagnostics)

    # --- inputs: store, count, never raise --------------------------------------------------------

    def _on_image(self, msg: Image) -> None:
        self._store_frame(msg.header, lambda: rgb_from_raw(msg.encoding, msg.height, msg.width, msg.step, msg.data))

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._store_frame(msg.header, lambda: rgb_from_compressed(msg.format, msg.data))

    def _store_frame(self, header, decode) -> None:
        received = time.monotonic()
        self.counters["frames_received"] += 1
        transport_ns = self.get_clock().now().nanoseconds - Time.from_msg(header.stamp).nanoseconds
        on_this_clock = 0 <= transport_ns < 10**9  # a bag's or another clock's stamps say nothing here
        captured = received - transport_ns / 1e9 if on_this_clock else received
        try:
            frame = Frame(decode(), header.stamp, received, captured)
        except BadFrameError as error:
            self._reject("image", str(error))
            return
        self.latency.add("decode_ms", (time.monotonic() - received) * 1000.0)
        if on_this_clock:
            self.latency.add("transport_ms", transport_ns / 1e6)
        with self._lock:
            if self._frame_seq > self._used_seq:
                self.counters["frames_dropped"] += 1  # superseded before the model saw it
            self._frame, self._frame_seq = frame, self._frame_seq + 1
            self.supervisor.on_frame(time.monotonic())
        self._frame_arrived.set()

    def _on_instruction(self, payload: bytes) -> None:
        try:
            text = instruction_from_cdr(payload, self.params.max_instruction_bytes)
        except BadInstructionError as error:
            self._reject("instruction", str(error))
            return
        with self._lock:
            self.supervisor.on_instruction(text, time.monotonic())
            self._track_running()
        if text:
            self._reset_policy.set()  # done on the model thread, never under a running act()
        self.get_logger().info(f"instruction: {text!r}" if text else "empty instruction: stopping")
        self._publish_status()

    def _on_pose(self, msg: PoseStamped) -> None:
        position = np.array([msg.pose.position.x, msg.pose.position.y, msg.pose.position.z])
        if np.all(np.isfinite(position)):
            self._ee_position, self._ee_received = position, time.monotonic()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            calibration = CameraCalibration.from_pose(msg.width, msg.height, list(msg.k), list(self.params.camera_pose))
        except ValueError as error:
            self._reject("camera_info", str(error))
            return
        self._calibration = calibration

    def _on_joint_states(self, msg: JointState) -> None:
        self.counters["joint_states"] += 1
        p = self.params
        closure = finger_closure(msg.name, msg.position, p.gripper_joint, p.gripper_joint_open, p.gripper_joint_closed)
        if closure is not None:
            self._finger_closure, self._finger_received = closure, time.monotonic()

    def _reject(self, kind: str, reason: str) -> None:
        key = f"{kind}: {re.sub(r'[0-9]+', 'N', reason)}"  # sizes vary; the kind of fault is what matters
        if key not in self.rejected:  # log each kind of bad message once; count them all
            self.get_logger().warning(f"ignoring bad {kind} message: {reason}")
        self.rejected[key] += 1
        self.counters[f"{kind}s_rejected"] += 1

    # --- the model, on its own thread -----------------------------------------------------------

    def _inference_loop(self) -> None:
        period = 1.0 / self.params.control_rate
        next_tick = time.monotonic()
        while not self._stopping.is_set():
            self._stopping.wait(max(0.0, next_tick - time.monotonic()))
            self._frame_arrived.clear()  # before looking, so a frame arriving after the look wakes the wait
            with self._lock:
                action_ends = self.supervisor.action_ends_at()
                frame = self._frame
                ready = (
                    self.supervisor.should_infer(time.monotonic())
                    and self._frame_seq != self._used_seq
                    and self.supervisor.frame_follows_action(frame.captured)
                )
                if ready:
                    self._used_seq = self._frame_seq
                    instruction, episode = self.supervisor.instruction, self.supervisor.episode
            if not ready:
                self._end_action_on_time(action_ends, period)
                self._frame_arrived.wait(period)  # no frame to act on yet: the next one may be
                continue
            next_tick = max(next_tick + period, time.monotonic())  # late: skip, never burst
            try:
                self._run_policy(frame, instruction, episode)
            except Exception as error:  # this thread must outlive anything: a dead one would never move again
                with self._lock:
                    self.supervisor.on_fault(f"{type(error).__name__}: {error}", time.monotonic())
                    self._track_running()
                self.get_logger().error(f"inference step failed, arm stopped: {type(error).__name__}: {error}")

    def _end_action_on_time(self, action_ends: float | None, period: float) -> None:
        """Stop the last action's twist when its time is up rather than at the next servo tick.

        Why: Servo holds a twist until the next one, so a window ended by the 50 Hz tick ran 0-20 ms
        long and each action moved the arm 1.1-1.2 times its delta in the demo (rt2 eval: exactly 1).
        """
        if action_ends is None or action_ends == self._ended_action:
            return
        if action_ends - time.monotonic() > period:
            return  # not due before the next look
        while (wait := action_ends - time.monotonic()) > 0 and not self._stopping.is_set():
            self._stopping.wait(wait)  # a timed wait may wake a little early: the twist must be due when sent
        self._ended_action = action_ends
        self._publish_servo_command()

    def _run_policy(self, frame: Frame, instruction: str, episode: int) -> None:
        if self._reset_policy.is_set():
            self._reset_policy.clear()
            self.policy.reset()
        start = time.monotonic()
        self.latency.add("receipt_to_policy_ms", (start - frame.received) * 1000.0)
        if self._last_inference_start is not None:
            interval = start - self._last_inference_start
            self._rate_hz = 1.0 / interval if self._rate_hz == 0 else 0.8 * self._rate_hz + 0.2 / interval
        self._last_inference_start = start
        try:
            arm = self._arm_view(frame)
            action = self.policy.act(frame.pixels, instruction, arm)
            delta, gripper, terminate = np.asarray(action.delta, dtype=float), float(action.gripper), action.terminate
        except Exception as error:  # any model failure must stop the arm, never the node
            with self._lock:
                self.supervisor.on_fault(f"{type(error).__name__}: {error}", time.monotonic())
                self._track_running()
            self.get_logger().error(f"model failed, arm stopped: {type(error).__name__}: {error}")
            self._publish_status()
            return
        policy_done = time.monotonic()
        self._inference_ms = (policy_done - start) * 1000.0
        self.latency.add("policy_ms", self._inference_ms)
        with self._lock:
            if self.supervisor.episode != episode:  # a new instruction or stop arrived meanwhile
                return
            command = self.supervisor.on_action(delta, gripper, bool(terminate), time.monotonic())
            self._track_running()
            state, step = self.supervisor.state, self.supervisor.step
        self.counters["inferences"] += 1
        if not self.params.dry_run:
            # The new command goes out now, not at the next servo tick: image-in to twist-out is what matters.
            self._send_twist(command.linear, command.angular)
            if command.gripper is not None and state in (RUNNING, "terminated"):
                self.gripper_pub.publish(Float64(data=command.gripper))
                if self.gripper_action is not None:
                    self.gripper_action.send(command.gripper)
        twist_out = time.monotonic()
        self._publish_action(action, instruction, frame.stamp)
        self.latency.add("policy_to_publish_ms", (time.monotonic() - policy_done) * 1000.0)
        self.latency.add("image_to_twist_ms", (twist_out - frame.received) * 1000.0)
        self._publish_debug_image(frame.pixels, instruction, delta, gripper, getattr(action, "plan", ""), state)
        if state != RUNNING:
            self.get_logger().info(f"episode ended at step {step}: {state}")
            self._publish_status()

    def _arm_view(self, frame: Frame) -> ArmView | None:
        """Where the tool is in `frame`, for models with plan_tool_points; None (the model writes its own
        points) until the camera is calibrated and CameraInfo and a fresh pose have arrived."""
        p = self.params
        if not p.camera_pose:
            return None
        calibration, position, received = self._calibration, self._ee_position, self._ee_received
        height, width = frame.pixels.shape[:2]
        if calibration is None:
            gap, missing = "info", f"no CameraInfo on {p.camera_info_topic} yet"
        elif (calibration.height, calibration.width) != (height, width):
            gap = "size"
            missing = f"CameraInfo is {calibration.width}x{calibration.height} but the image is {width}x{height}"
        elif position is None or time.monotonic() - received > p.supervisor.image_timeout_s:
            gap, missing = "pose", f"no recent end-effector pose on {p.pose_topic}"
        else:
            self.counters["arm_views"] += 1
            fresh = time.monotonic() - self._finger_received <= p.supervisor.image_timeout_s
            holding = holds_object(self._finger_closure) if fresh else None
            return ArmView(calibration, position, p.object_height, holding)
        if gap not in self._warned_arm_view:  # once per kind of gap
            self._warned_arm_view.add(gap)
            self.get_logger().warning(f"camera_pose is set but {missing}: the model writes its own plan points")
        return None

    # --- outputs --------------------------------------------------------------------------------

    def _track_running(self) -> None:
        """Remember when the node left `running`, to keep sending zero twists for a moment after (lock held)."""
        if self.supervisor.state == RUNNING:
            self._left_running_at = None
        elif self._left_running_at is None:
            self._left_running_at = time.monotonic()

    def _publish_servo_command(self) -> None:
        with self._twist_lock:
            self._decide_and_send_servo_command()

    def _decide_and_send_servo_command(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._track_running()
            if self.supervisor.state == RUNNING and self._ee_position is None and self.params.pose_topic:
                if not self._warned_no_pose:
                    self.get_logger().warning(
                        f"no end-effector pose on {self.params.pose_topic} yet: "
                        "workspace limits skipped until one arrives"
                    )
                    self._warned_no_pose = True
            command = self.supervisor.command(now, self._ee_position)
            recently_running = self._left_running_at is None or now - self._left_running_at < HALT_REPEAT_S
        if self.params.dry_run or not recently_running:
            return
        self._send_twist(command.linear, command.angular)

    def _send_twist(self, linear, angular) -> None:
        msg = TwistStamped()
        msg.header.frame_id = self.params.servo_frame
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in linear)
        msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = (float(v) for v in angular)
        with self._twist_lock:
            msg.header.stamp = self.get_clock().now().to_msg()
            self.twist_pub.publish(msg)
            self.counters["twists_published"] += 1

    def _publish_action(self, action, instruction: str, frame_stamp) -> None:
        msg = VLAAction()
        msg.header.stamp = frame_stamp
        msg.header.frame_id = self.params.servo_frame
        msg.instruction = instruction
        msg.plan = getattr(action, "plan", "") or ""
        msg.tokens = [int(t) for t in action.tokens]
        values = [float(v) for v in np.asarray(action.delta, dtype=float)] + [float(action.gripper)]
        msg.action = [v if np.isfinite(v) else float("nan") for v in values]
        msg.terminate = bool(action.terminate)
        msg.inference_ms = float(self._inference_ms)
        msg.model = self.policy.name
        self.action_pub.publish(msg)
        self._last_action = msg

    def _publish_debug_image(self, frame, instruction, delta, gripper, plan, state) -> None:
        if self.debug_pub.get_subscription_count() == 0:
            return  # drawing costs a few ms: only when someone looks
        image = annotate(frame, instruction, delta, gripper, plan, state)
        msg = Image()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.height, msg.width, msg.step, data = raw_from_rgb(image)
        msg.encoding = "rgb8"
        msg.data = data
        self.debug_pub.publish(msg)

    def _publish_status(self) -> None:
        with self._lock:
            msg = PolicyStatus(
                state=self.supervisor.state,
                instruction=self.supervisor.instruction,
                step=self.supervisor.step,
                control_rate_hz=float(self._rate_hz),
                last_fault=self.supervisor.last_fault,
            )
        msg.header.stamp = self.get_clock().now().to_msg()
        self.status_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        with self._lock:
            state, fault, fresh = (
                self.supervisor.state,
                self.supervisor.last_fault,
                self.supervisor.frame_is_fresh(time.monotonic()),
            )
        level = DiagnosticStatus.OK
        message = state
        if state == "fault":
            level, message = DiagnosticStatus.ERROR, fault
        elif state == RUNNING and not fresh:
            level, message = DiagnosticStatus.WARN, "camera frames are stale: arm halted"
        values = {
            "state": state,
            "inference_ms": f"{self._inference_ms:.1f}",
            "control_rate_hz": f"{self._rate_hz:.2f}",
        }
        values.update({name: str(count) for name, count in self.counters.items()})
        for name, stats in self.latency.summary().items():
            values[f"{name}_median"] = f"{stats['median']:.2f}"
            values[f"{name}_p99"] = f"{stats['p99']:.2f}"
        status = DiagnosticStatus(level=level, name="rt2_node: policy", message=message, hardware_id=self.policy.name)
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    # --- services -------------------------------------------------------------------------------

    def _on_stop(self, request, response):
        with self._lock:
            self.supervisor.stop(time.monotonic())
            self._track_running()
        if not self.params.dry_run:
            self._send_twist(np.zeros(3), np.zeros(3))  # halt now, not at the next servo tick
        self._publish_status()
        response.success, response.message = True, "stopped"
        return response

    def _on_start(self, request, response):
        with self._lock:
            started = self.supervisor.start(time.monotonic())
            self._track_running()
        self._publish_status()
        response.success = started
        response.message = (
            "running" if started else "no instruction to run: publish one on " + self.params.instruction_topic
        )
        return response

    def _on_go_home(self, request, response):
        from rt2_ros.nodes.go_home import go_home

        self._on_stop(request, response)
        response.success, response.message = go_home(self, self.params)
        return response

    # --- shutdown -------------------------------------------------------------------------------

    def halt_and_close(self) -> None:
        """Stop the model thread and leave the arm with a zero twist (called on Ctrl-C / SIGTERM)."""
        self._stopping.set()
        with self._lock:
            self.supervisor.stop(time.monotonic())
        if not self.params.dry_run:
            for _ in range(3):  # reliable QoS, but a late joiner or a lost first sample must still see it
                self._send_twist(np.zeros(3), np.zeros(3))
        self._worker.join(timeout=5.0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="rt2 node",
        description="Run the policy node. ROS arguments follow --ros-args, e.g. "
        "`rt2 node --ros-args --params-file config/ur5.yaml -p model_path:=models/rt2-sim`.",
    )
    parser.parse_args(remove_ros_args(["rt2 node", *argv])[1:])
    # Our own signal handling: rclpy's would shut the context down before the zero twist goes out.
    rclpy.init(args=["rt2_node", *argv], signal_handler_options=SignalHandlerOptions.NO)
    node = RT2Node()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop.is_set():
            try:
                executor.spin_once(timeout_sec=0.05)
            except Exception as error:  # e.g. a message rclpy cannot take: drop it, keep serving
                node._reject("message", f"{type(error).__name__}: {error}")
    finally:
        node.halt_and_close()
        executor.spin_once(timeout_sec=0.1)
        node.get_logger().info("rt2_node: zero twist sent, shutting down")
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
