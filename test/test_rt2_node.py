"""rt2_node in its own process over real DDS, driven by a taught tiny model: what a user of the arm sees."""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pytest
from ros_probe import RosProbe, is_zero, speeds, stamp_seconds

SERVO_PERIOD = 0.02  # servo_rate 50 Hz
IMAGE_TIMEOUT = 0.3
LIMITS = {"max_linear_speed": 0.05, "max_angular_speed": 0.2}
SLACK = 0.1  # delivery and scheduling on a busy 2-core machine; far below the timeouts under test
SETTLE = 0.2  # s; longer than the node's default so that waiting for it cannot pass for the 10 Hz pace


def start_node(children, model_dir, **parameters):
    values = {
        "model_path": str(model_dir),
        "control_rate": 10.0,
        "servo_rate": 1 / SERVO_PERIOD,
        "image_timeout_ms": IMAGE_TIMEOUT * 1000,
        "pose_topic": "",
        **LIMITS,
        **parameters,
    }
    args = [arg for name, value in values.items() for arg in ("-p", f"{name}:={value if value != '' else repr('')}")]
    return children.start("-m", "rt2_ros.cli", "node", "--ros-args", *args)


class Camera:
    """Publishes frames at 20 Hz on a thread until stopped."""

    def __init__(self, probe: RosProbe) -> None:
        self.probe, self.running = probe, True
        self.frame = np.full((96, 128, 3), 120, dtype=np.uint8)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            self.probe.publish_frame(self.frame)
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.probe.now()


@pytest.fixture
def probe():
    probe = RosProbe()
    yield probe
    probe.close()


def test_node_drives_servo_and_every_safety_stop_halts_it(children, taught_model_dir, probe):
    node = start_node(children, taught_model_dir, settle_ms=SETTLE * 1000)
    probe.wait_for_node(node)
    camera = Camera(probe)

    # An instruction starts an episode: actions on ~/action, twists to Servo within the limits.
    probe.instruct("move forward")
    probe.wait_for(lambda: len(probe.actions) >= 5, 60, "5 actions")
    action = probe.actions[-1]
    assert action.tokens.tolist() == [0, 176, 128, 128, 128, 128, 128, 255]
    assert action.instruction == "move forward" and len(action.action) == 7 and action.model
    assert action.action[0] > 0 and action.action[6] == 1.0 and not action.terminate
    assert probe.grippers and probe.grippers[-1] == 1.0
    t = probe.now()
    time.sleep(1.0)
    running = probe.twists_between(t)
    assert running and all(m.header.frame_id == "base_link" for m in running)
    assert all(speeds(m)[0] <= LIMITS["max_linear_speed"] + 1e-9 for m in running)
    forward = [m for m in running if m.twist.linear.x > 0]
    assert forward and all(m in forward for m in running if not is_zero(m)), "the arm should be commanded forward"
    # As in training: each action answers a frame taken after the last one's twist (0.1 s) ended and
    # the arm settled, so the frames acted on are that far apart, not the 10 Hz control period.
    frame_times = [stamp_seconds(a.header.stamp) for a in probe.actions]
    assert min(np.diff(frame_times)) >= 0.1 + SETTLE
    assert any(is_zero(m) for m in running), "the arm rests between an action and the frame that shows it"
    stamps = [stamp_seconds(m.header.stamp) for m in running]
    assert np.all(np.diff(stamps) > 0), "every twist carries a fresh stamp"
    # re-published between inferences, so Servo (incoming_command_timeout 0.1 s) never halts mid-action
    assert np.median(np.diff(stamps)) < 0.1

    # ~/stop halts within one servo period: the zero twist goes out before the service answers.
    before = probe.now()
    assert probe.call(probe.stop_client).success
    after = probe.now()
    time.sleep(0.5)
    assert any(is_zero(m) for m in probe.twists_between(before, after + SERVO_PERIOD))
    assert all(is_zero(m) for m in probe.twists_between(after + SERVO_PERIOD))
    assert probe.statuses[-1].state == "stopped"

    # ~/start resumes; then the camera stops and the stale-image watchdog zeroes the twist.
    assert probe.call(probe.start_client).success
    probe.wait_for(lambda: any(m.twist.linear.x > 0 for m in probe.twists_between(probe.now() - 0.2)), 30, "motion")
    last_frame = camera.stop()
    time.sleep(IMAGE_TIMEOUT + 0.7)
    after_timeout = probe.twists_between(last_frame + IMAGE_TIMEOUT + SERVO_PERIOD + SLACK)
    assert after_timeout and all(is_zero(m) for m in after_timeout)

    # A terminate action ends the episode with a zero twist.
    camera = Camera(probe)
    probe.instruct("you are done")
    probe.wait_for(lambda: probe.statuses and probe.statuses[-1].state == "terminated", 30, "terminated status")
    t = probe.now()
    time.sleep(0.3)
    assert all(is_zero(m) for m in probe.twists_between(t))

    # SIGTERM while moving: the last twist Servo hears is zero, and the node exits cleanly.
    probe.instruct("move forward")
    probe.wait_for(lambda: any(m.twist.linear.x > 0 for m in probe.twists_between(probe.now() - 0.2)), 30, "motion")
    node.send_signal(signal.SIGTERM)
    assert node.wait(timeout=20) == 0
    time.sleep(0.3)
    camera.stop()
    assert is_zero(probe.twists[-1][1])


def test_empty_instruction_stops_and_dry_run_never_commands(children, taught_model_dir, probe):
    node = start_node(children, taught_model_dir, dry_run=True)
    probe.wait_for_node(node)
    camera = Camera(probe)
    probe.instruct("move left")
    probe.wait_for(lambda: len(probe.actions) >= 3, 60, "actions in dry run")
    assert probe.actions[-1].tokens.tolist() == [0, 128, 176, 128, 128, 128, 128, 0]
    assert not probe.twists and not probe.grippers  # computed and published, never sent to the arm
    probe.instruct("")
    probe.wait_for(lambda: probe.statuses and probe.statuses[-1].state == "stopped", 10, "stopped status")
    camera.stop()


@pytest.fixture(scope="module")
def tool_points_model_dir(tiny_model_dir, tmp_path_factory):
    """The planner (tiny_fit.fit_planner) with plan_tool_points: it takes the gripper and below points from the arm."""
    from tiny_fit import fit_planner

    from rt2_ros.vla.config import VLAConfig

    folder = fit_planner(tiny_model_dir, tmp_path_factory.mktemp("models") / "tool-points")
    config = VLAConfig.load(folder)
    config.plan_tool_points, config.plan_offsets_by_code = True, True
    config.save(folder)
    return folder


def test_a_calibrated_camera_and_a_fresh_pose_give_the_plan_the_arms_own_points(children, tool_points_model_dir, probe):
    """Looking straight down from 1 m, the tool at (0.1, 0.05, 0.3): its points in the 96x128 image."""
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo, JointState

    from rt2_ros.plan_grammar import plan_points
    from rt2_ros.tool_points import ArmView, CameraCalibration

    down = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # optical frame turned 180 degrees about x: z looks down
    node = start_node(children, tool_points_model_dir, dry_run=True, pose_topic="/ee_pose",
                      camera_pose=str(down), object_height=0.02, gripper_joint="gripper")  # fmt: skip
    k = [100.0, 0.0, 64.0, 0.0, 100.0, 48.0, 0.0, 0.0, 1.0]
    camera_model = CameraCalibration.from_pose(128, 96, k, down)
    lowered = ArmView(camera_model, np.array([0.1, 0.05, 0.3]), 0.02, holding=False).plan_points()
    info_pub = probe.node.create_publisher(CameraInfo, "/camera/color/camera_info", 10)
    pose_pub = probe.node.create_publisher(PoseStamped, "/ee_pose", 10)
    joints_pub = probe.node.create_publisher(JointState, "/joint_states", 10)
    probe.wait_for_node(node)
    camera = Camera(probe)
    state = {"posing": True, "closure": 0.0}

    def publish_state():
        while state["posing"]:
            info_pub.publish(CameraInfo(width=128, height=96, k=k))
            pose = PoseStamped()
            pose.header.frame_id = "base_link"
            pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = 0.1, 0.05, 0.3
            pose_pub.publish(pose)
            joints_pub.publish(JointState(name=["shoulder", "gripper"], position=[0.0, state["closure"]]))
            time.sleep(0.05)

    publisher = threading.Thread(target=publish_state, daemon=True)
    publisher.start()
    probe.instruct("hover over the cube")

    def points_after(count: int) -> dict[str, list[int]]:
        seen = len(probe.actions)
        probe.wait_for(lambda: len(probe.actions) >= seen + count, 60, f"{count} more actions")
        return {key: value.tolist() for key, value in plan_points(probe.actions[-1].plan).items()}

    latest = points_after(3)  # fingers open: the tool lowered to the objects' height
    assert latest["gripper"] == lowered["gripper"].tolist() and latest["below"] == lowered["below"].tolist()
    assert latest["object"] in ([700, 300], [500, 300])  # the model's own: one of the two it was taught
    state["closure"] = 0.5  # fingers stopped half-way: holding, so the object is at the tool
    latest = points_after(3)
    assert latest["below"] == latest["gripper"] == lowered["gripper"].tolist()
    # No pose for longer than the image timeout: stale, so the model writes its own points again.
    state["posing"] = False
    publisher.join()
    time.sleep(IMAGE_TIMEOUT + SLACK)
    assert points_after(2)["gripper"] == [400, 500]
    camera.stop()


def test_a_camera_pose_is_seven_numbers_or_none():
    from rt2_ros.nodes.parameters import PARAMETERS, settings_from_values

    defaults = {name: default for name, (default, _) in PARAMETERS.items()}
    assert settings_from_values(defaults).camera_pose == ()  # [0.0]: not calibrated, the model writes its points
    pose = [1.0, 0.0, 0.8, 0.67, 0.67, -0.22, -0.22]
    assert settings_from_values({**defaults, "camera_pose": pose}).camera_pose == tuple(pose)
    for bad in ([1.0, 2.0, 3.0], [1.0, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0], [float("nan")] * 7):
        with pytest.raises(ValueError, match="camera_pose must be"):
            settings_from_values({**defaults, "camera_pose": bad})


def test_settle_ms_waits_by_default_and_minus_one_turns_it_off():
    from rt2_ros.nodes.parameters import PARAMETERS, settings_from_values

    defaults = {name: default for name, (default, _) in PARAMETERS.items()}
    assert settings_from_values(defaults).supervisor.settle_s == pytest.approx(0.05)
    assert settings_from_values({**defaults, "settle_ms": -1.0}).supervisor.settle_s is None
