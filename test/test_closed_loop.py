"""The whole loop over DDS in three processes: the MuJoCo sim, rt2_node with a real (taught tiny) model,
and an instruction from `rt2 instruct`, as a user would run them.
"""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from ros_probe import RosProbe, is_zero, speeds
from test_rt2_node import IMAGE_TIMEOUT, LIMITS, SERVO_PERIOD, SLACK, start_node

pytestmark = pytest.mark.slow


class PoseWatcher:
    def __init__(self, probe: RosProbe) -> None:
        self.poses: list[tuple[float, np.ndarray]] = []
        probe.node.create_subscription(PoseStamped, "/ee_pose", self._on_pose, 10)
        self.probe = probe

    def _on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        self.poses.append((self.probe.now(), np.array([p.x, p.y, p.z])))

    def position(self) -> np.ndarray:
        return self.poses[-1][1]

    def travel(self, start: float, end: float) -> float:
        inside = [p for t, p in self.poses if start <= t <= end]
        return float(np.linalg.norm(inside[-1] - inside[0])) if len(inside) > 1 else 0.0


@pytest.mark.parametrize("robot", ["ur5e", "panda"])
def test_instruction_moves_the_sim_arm_and_stops_halt_it(children, taught_model_dir, robot):
    sim = children.start(
        "-m",
        "rt2_ros.cli",
        "sim",
        "--ros-args",
        "-p",
        f"robot:={robot}",
        "-p",
        "image_width:=96",
        "-p",
        "image_height:=96",
    )
    node = start_node(children, taught_model_dir, pose_topic="/ee_pose")
    probe = RosProbe()
    try:
        poses = PoseWatcher(probe)
        probe.wait_for_node(node)
        probe.wait_for(lambda: len(poses.poses) > 10, 60, "the sim's end-effector pose")
        start_position = poses.position()

        instruct = children.start("-m", "rt2_ros.cli", "instruct", "move forward")
        assert instruct.wait(timeout=60) == 0, instruct.stderr.read()
        probe.wait_for(lambda: poses.position()[0] - start_position[0] > 0.03, 60, "the arm to move 3 cm forward")
        moved = poses.position() - start_position
        assert abs(moved[1]) < 0.01 and abs(moved[2]) < 0.01, f"moved off-axis: {moved}"
        for _, twist in probe.twists:
            linear, angular = speeds(twist)
            assert linear <= LIMITS["max_linear_speed"] + 1e-9 and angular <= LIMITS["max_angular_speed"] + 1e-9

        # ~/stop: the arm comes to rest.
        assert probe.call(probe.stop_client).success
        stopped_at = probe.now()
        time.sleep(1.0)
        assert poses.travel(stopped_at + 0.3, probe.now()) < 0.002

        # Moving again, then the camera stops (sim frozen): rt2_node's watchdog sends zero twists.
        assert probe.call(probe.start_client).success
        probe.wait_for(lambda: any(not is_zero(m) for m in probe.twists_between(probe.now() - 0.3)), 30, "motion")
        sim.send_signal(signal.SIGSTOP)
        frozen_at = probe.now()
        watchdog_due = frozen_at + IMAGE_TIMEOUT + SERVO_PERIOD + SLACK
        # Wait for twists past the deadline rather than a fixed time: on a loaded machine (CI beside an
        # eval) the first ones can take longer than a servo period to arrive.
        probe.wait_for(lambda: len(probe.twists_between(watchdog_due)) >= 3, 30, "twists after the watchdog's deadline")
        after = probe.twists_between(watchdog_due)
        assert all(is_zero(m) for m in after)
        sim.send_signal(signal.SIGCONT)
    finally:
        probe.close()
