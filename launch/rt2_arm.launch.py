"""ros2 launch rt2_ros rt2_arm.launch.py robot:=ur5|franka sim:=mujoco|gazebo|none model:=<folder> instruction:=<text>

A thin wrapper: rt2_ros.launch_plan.plan_launch decides what starts (and is tested without ROS);
this file turns its plan into launch_ros actions. It needs a ROS 2 install (launch, launch_ros),
plus MoveIt 2 and the robot's driver for sim:=gazebo or sim:=none.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription, OpaqueFunction, TimerAction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from rt2_ros.launch_plan import plan_launch

ARGUMENTS = {
    "robot": ("ur5", "ur5 (UR5e + Robotiq 2F-85) or franka (Panda / FR3 with its hand)"),
    "sim": ("mujoco", "mujoco (rt2_ros sim_node), gazebo (the driver's Gazebo bringup + Servo) or none (real arm)"),
    "model": ("", "model folder for rt2_node (empty: config/<robot>.yaml's model_path)"),
    "instruction": ("", "an instruction to send once rt2_node listens (empty: none)"),
    "robot_ip": ("", "the robot controller's address, for sim:=none"),
    "rviz": ("false", "start rviz2"),
    "rqt": ("false", "start rqt_image_view on the debug image and rqt_plot on the actions"),
    "dry_run": ("false", "compute and publish actions without commanding the arm"),
}
SERVO_START_DELAY_S = 5.0  # Servo must be up before it can be switched to TWIST commands


def _as_bool(text: str) -> bool:
    return text.lower() in ("1", "true", "yes", "on")


def _resolve(parameters, share):
    return [p if isinstance(p, dict) or os.path.isabs(p) else os.path.join(share, p) for p in parameters]


def _moveit_parameters(config_package: str) -> dict:
    try:
        from moveit_configs_utils import MoveItConfigsBuilder
    except ImportError as error:
        raise RuntimeError(f"MoveIt Servo needs MoveIt 2 (moveit_configs_utils): {error}") from None
    return MoveItConfigsBuilder(config_package.split("_")[0], package_name=config_package).to_dict()


def _actions(context):
    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    plan = plan_launch(
        robot=values["robot"],
        sim=values["sim"],
        model=values["model"],
        instruction=values["instruction"],
        robot_ip=values["robot_ip"],
        rviz=_as_bool(values["rviz"]),
        rqt=_as_bool(values["rqt"]),
        dry_run=_as_bool(values["dry_run"]),
    )
    share = get_package_share_directory("rt2_ros")
    actions = []
    for include in plan.includes:
        source = os.path.join(get_package_share_directory(include.package), include.launch_file)
        actions.append(
            IncludeLaunchDescription(PythonLaunchDescriptionSource(source), launch_arguments=include.arguments.items())
        )
    for spec in plan.nodes:
        parameters = _resolve(spec.parameters, share)
        if spec.moveit_config:
            parameters.append(_moveit_parameters(spec.moveit_config))
        arguments = [os.path.join(share, a) if a.startswith("config/") else a for a in spec.arguments]
        actions.append(
            Node(
                package=spec.package,
                executable=spec.executable,
                name=spec.name,
                parameters=parameters,
                arguments=arguments,
                output="screen",
            )
        )
    for call in plan.service_calls:
        request = "{" + ", ".join(f"{k}: {v}" for k, v in call.request.items()) + "}"
        actions.append(
            TimerAction(
                period=SERVO_START_DELAY_S,
                actions=[ExecuteProcess(cmd=["ros2", "service", "call", call.service, call.service_type, request])],
            )
        )
    return actions


def generate_launch_description():
    declared = [DeclareLaunchArgument(name, default_value=d, description=h) for name, (d, h) in ARGUMENTS.items()]
    return LaunchDescription([*declared, OpaqueFunction(function=_actions)])
