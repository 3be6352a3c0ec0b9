"""The launch decisions for every robot / sim combination, and the launch file agreeing with them."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from rt2_ros.launch_plan import ROBOTS, SERVO_TWIST, SIMS, plan_launch

REPO = Path(__file__).resolve().parents[1]


def executables(plan) -> set[str]:
    return {f"{n.package}/{n.executable}" for n in plan.nodes}


@pytest.mark.parametrize("robot", ROBOTS)
@pytest.mark.parametrize("sim", SIMS)
def test_every_combination_starts_the_policy_node_with_the_robot_config(robot, sim):
    plan = plan_launch(robot=robot, sim=sim, model="/models/m", robot_ip="192.0.2.10")
    rt2_node = next(n for n in plan.nodes if n.executable == "rt2_node")
    assert rt2_node.parameters[0] == f"config/{robot}.yaml"
    assert (REPO / rt2_node.parameters[0]).is_file()
    assert {"model_path": "/models/m"} in rt2_node.parameters
    # Only the sim's camera is calibrated here; a real cell's calibration is its own (README).
    assert ("config/rt2_in_sim.yaml" in rt2_node.parameters) == (sim == "mujoco")


@pytest.mark.parametrize("robot", ROBOTS)
def test_mujoco_runs_the_sim_node_and_no_servo_or_driver(robot):
    plan = plan_launch(robot=robot, sim="mujoco")
    assert "rt2_ros/sim_node" in executables(plan)
    assert "moveit_servo/servo_node" not in executables(plan)
    assert not plan.includes and not plan.service_calls and not plan.servo


@pytest.mark.parametrize("robot", ROBOTS)
@pytest.mark.parametrize("sim", ["gazebo", "none"])
def test_gazebo_and_real_arm_go_through_servo_switched_to_twist(robot, sim):
    plan = plan_launch(robot=robot, sim=sim, robot_ip="192.0.2.10")
    servo = next(n for n in plan.nodes if n.executable == "servo_node")
    assert servo.parameters == (f"config/servo_{robot}.yaml",)
    assert (REPO / servo.parameters[0]).is_file()
    assert servo.moveit_config
    assert "rt2_ros/sim_node" not in executables(plan)
    (call,) = plan.service_calls
    assert call.service == "/servo_node/switch_command_type" and call.request == {"command_type": SERVO_TWIST}
    (driver,) = plan.includes
    expected = {
        ("ur5", "gazebo"): "ur_simulation_gz",
        ("ur5", "none"): "ur_robot_driver",
        ("franka", "gazebo"): "franka_gazebo_bringup",
        ("franka", "none"): "franka_bringup",
    }
    assert driver.package == expected[robot, sim]
    if sim == "none":
        assert driver.arguments["robot_ip"] == "192.0.2.10"


def test_real_arm_needs_its_address():
    with pytest.raises(ValueError, match="robot_ip"):
        plan_launch(robot="ur5", sim="none")


@pytest.mark.parametrize(
    ("arguments", "message"), [({"robot": "kuka"}, "robot:=kuka"), ({"sim": "isaac"}, "sim:=isaac")]
)
def test_unknown_choices_are_refused_with_the_options(arguments, message):
    with pytest.raises(ValueError, match=message):
        plan_launch(**arguments)


def test_instruction_and_viewers_are_optional_extras():
    plain = plan_launch()
    extras = plan_launch(instruction="pick up the red block", rviz=True, rqt=True)
    assert executables(extras) - executables(plain) == {
        "rt2_ros/rt2",
        "rviz2/rviz2",
        "rqt_image_view/rqt_image_view",
        "rqt_plot/rqt_plot",
    }
    instruct = next(n for n in extras.nodes if n.executable == "rt2")
    assert instruct.arguments == ("instruct", "pick up the red block")


def test_dry_run_reaches_the_node():
    node = plan_launch(dry_run=True).nodes[0]
    assert {"dry_run": True} in node.parameters


def test_launch_file_declares_exactly_the_plan_arguments():
    tree = ast.parse((REPO / "launch" / "rt2_arm.launch.py").read_text())
    arguments = next(
        node.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "ARGUMENTS"
    )
    declared = {key.value for key in arguments.keys}
    assert declared == set(inspect.signature(plan_launch).parameters)
