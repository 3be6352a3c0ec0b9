"""The plan's gripper and below points from the arm's pose and the camera's calibration, against the real sim."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import yaml

from rt2_ros.data.plan_points import below_text, plan_text
from rt2_ros.paths import share_path
from rt2_ros.plan_grammar import plan_points
from rt2_ros.sim import TabletopSim
from rt2_ros.sim.expert import run_expert
from rt2_ros.tool_points import ArmView, CameraCalibration, holds_object, quaternion_matrix


@pytest.fixture(scope="module", params=["ur5e", "panda"])
def sim(request):
    sim = TabletopSim(request.param, cameras={"scene": (96, 96)})
    yield sim
    sim.close()


def test_the_calibrated_camera_sees_points_where_the_sim_renders_them(sim):
    sim.reset("pick", 3)
    camera = sim.camera_calibration("scene")
    points = np.random.default_rng(0).uniform([0.2, -0.4, 0.0], [0.8, 0.4, 0.4], size=(50, 3))
    for point in points:
        np.testing.assert_allclose(camera.pixel(point), sim.project(point, "scene"), atol=1e-6)


def test_the_sims_calibration_file_is_the_sims_camera(sim):
    """config/rt2_in_sim.yaml is what rt2_node gets beside the sim: it must be the sim's camera, for both arms."""
    parameters = yaml.safe_load(share_path("config/rt2_in_sim.yaml").read_text())["rt2_node"]["ros__parameters"]
    camera = sim.camera_calibration("scene")
    k = [camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0]
    from_file = CameraCalibration.from_pose(96, 96, k, parameters["camera_pose"])
    np.testing.assert_allclose(from_file.position, camera.position, atol=1e-9)
    np.testing.assert_allclose(from_file.rotation, camera.rotation, atol=1e-6)


def test_the_points_are_those_rt2_plans_wrote_for_the_training_episodes():
    """Along an expert episode, the arm's points match the training plans' to a loc bin (the object's
    true height against the table's fixed one is the only difference allowed) until the grasp."""
    sim = TabletopSim("ur5e", cameras={"scene": (96, 96)})
    episode = run_expert(sim, "pick", seed=2)
    sim.reset("pick", 2)
    camera = sim.camera_calibration("scene")
    compared = 0
    for step in episode.steps:
        if sim.gripper_command >= 0.5:
            break
        true = plan_points(plan_text(sim) + " " + below_text(sim))
        exact = ArmView(camera, sim.tcp_pose()[0], sim.object_position(sim.task.target)[2]).plan_points()
        fixed = ArmView(camera, sim.tcp_pose()[0]).plan_points()
        assert exact["gripper"].tolist() == true["gripper"].tolist()
        assert exact["below"].tolist() == true["below"].tolist()
        assert np.abs(fixed["below"] - true["below"]).max() <= 12  # ~1 px at 96 px: the objects differ by 1 cm
        sim.command_twist(step.action[:6] * sim.control_rate_hz)
        sim.command_gripper(step.action[6])
        sim.step_control()
        compared += 1
    assert compared > 10
    sim.close()


def test_while_an_object_is_carried_below_goal_is_the_training_plans_point_at_the_goals_height():
    """Offsets "below-goal": along an expert place_on episode, grasp and carry included, the arm's below_goal
    point (holding read from the fingers' closure) is the training plans' to about a pixel, until the release
    (from there the training plans lower the tool to the stacked object's height, the arm to the table's)."""
    sim = TabletopSim("ur5e", cameras={"scene": (96, 96)})
    episode = run_expert(sim, "place_on", seed=3)
    assert episode.success
    sim.reset("place_on", 3)
    camera = sim.camera_calibration("scene")
    carried = 0
    for step in episode.steps:
        if sim.gripper_command > 0.5 > step.action[6]:
            break  # the release
        true = plan_points(plan_text(sim) + " " + below_text(sim, goal_height=True))
        arm = ArmView(camera, sim.tcp_pose()[0], holding=holds_object(sim.gripper_position())).plan_points()
        assert np.abs(arm["below_goal"] - true["below"]).max() <= 12  # ~1 px at 96 px: heights differ by 1 cm
        carried += bool(arm["below_goal"].tolist() != arm["below"].tolist())
        sim.command_twist(step.action[:6] * sim.control_rate_hz)
        sim.command_gripper(step.action[6])
        sim.step_control()
    assert carried > 10  # the carry was compared, where "below" would be the tool's own point
    sim.close()


def test_while_holding_the_below_point_is_the_tool_as_for_a_carried_object():
    camera = CameraCalibration(64, 64, 64.0, 64.0, 32.0, 32.0, np.diag([1.0, -1.0, -1.0]), np.array([0.0, 0.0, 1.0]))
    tool = np.array([0.1, 0.05, 0.3])
    open_points = ArmView(camera, tool, object_height=0.02, holding=False).plan_points()
    holding = ArmView(camera, tool, object_height=0.02, holding=True).plan_points()
    assert holding["below"].tolist() == holding["gripper"].tolist() == open_points["gripper"].tolist()
    assert open_points["below"].tolist() != open_points["gripper"].tolist()
    # Looking straight down, lowering the tool moves its image towards the centre: (0.1, 0.05) m off-axis.
    assert 512 < open_points["below"][1] < open_points["gripper"][1]


@pytest.mark.parametrize("robot", ["ur5e", "panda"])
def test_the_fingers_closure_tells_a_held_object_from_fingers_closed_on_air(robot):
    sim = TabletopSim(robot, cameras={"scene": (32, 32)})
    assert holds_object(sim.gripper_position()) is False  # open at the start
    for seed in (0, 1, 3):  # medium, large and small objects
        run_expert(sim, "pick", seed=seed)
        assert sim.success() and holds_object(sim.gripper_position()) is True
    sim.reset("pick", 0)
    sim.command_gripper(1.0)  # nothing between the fingers (as when pushing, or after a missed grasp)
    for _ in range(20):
        sim.step_control()
    assert holds_object(sim.gripper_position()) is False
    assert holds_object(None) is None and holds_object(float("nan")) is None
    sim.close()


def matrix_quaternion(rotation: np.ndarray) -> np.ndarray:
    """(x, y, z, w) of a rotation matrix, by MuJoCo's own conversion (which orders w first)."""
    wxyz = np.zeros(4)
    mujoco.mju_mat2Quat(wxyz, np.ascontiguousarray(rotation).reshape(-1))
    return np.roll(wxyz, -1)


def test_quaternions_round_trip_and_bad_calibrations_are_refused():
    for seed in range(5):
        q = np.random.default_rng(seed).normal(size=4)
        rotation = quaternion_matrix(q)
        np.testing.assert_allclose(quaternion_matrix(matrix_quaternion(rotation)), rotation, atol=1e-9)
    k = [60.0, 0, 32, 0, 60.0, 32, 0, 0, 1]
    with pytest.raises(ValueError, match="must be CameraInfo's 9 numbers"):
        CameraCalibration.from_pose(64, 64, k[:4], [0, 0, 1, 0, 0, 0, 1])
    with pytest.raises(ValueError, match=r"\[x, y, z, qx, qy, qz, qw\]"):
        CameraCalibration.from_pose(64, 64, k, [0, 0, 1])
    with pytest.raises(ValueError, match="positive image size and focal length"):
        CameraCalibration.from_pose(64, 64, [0.0] * 9, [0, 0, 1, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="positive image size and focal length"):  # a corrupt CameraInfo
        CameraCalibration.from_pose(64, 64, [float("nan")] * 9, [0, 0, 1, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="camera pose must be finite"):
        CameraCalibration.from_pose(64, 64, k, [0, 0, float("inf"), 0, 0, 0, 1])
    camera = CameraCalibration.from_pose(64, 64, k, [0, 0, 1, 1, 0, 0, 0])  # turned to look down
    with pytest.raises(ValueError, match="behind the camera"):
        camera.pixel(np.array([0.0, 0.0, 2.0]))
