"""What `ros2 launch rt2_ros rt2_arm.launch.py` starts, decided without ROS so tests cover every combination.

launch/rt2_arm.launch.py turns this plan into launch_ros actions; all choices live here.
Robot drivers and MoveIt configs are those of ur_robot_driver / ur_moveit_config / ur_simulation_gz
and franka_ros2 (franka_bringup, franka_fr3_moveit_config, franka_gazebo_bringup).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROBOTS = ("ur5", "franka")
SIMS = ("mujoco", "gazebo", "none")
SERVO_TWIST = 1  # moveit_msgs/srv/ServoCommandType: JOINT_JOG=0, TWIST=1, POSE=2


@dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    name: str
    parameters: tuple = ()  # paths of YAML files (relative to share/rt2_ros when not absolute) and dicts
    arguments: tuple[str, ...] = ()
    moveit_config: str = ""  # add this MoveIt config package's robot description parameters (Servo needs them)


@dataclass(frozen=True)
class IncludeSpec:
    package: str
    launch_file: str  # relative to the package's share directory
    arguments: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceCallSpec:
    service: str
    service_type: str
    request: dict


@dataclass(frozen=True)
class LaunchPlan:
    nodes: tuple[NodeSpec, ...]
    includes: tuple[IncludeSpec, ...]
    service_calls: tuple[ServiceCallSpec, ...]
    servo: bool  # MoveIt Servo takes the twists (real arm, Gazebo); False: the MuJoCo sim takes them directly


# Per robot: the driver and MoveIt packages of its ecosystem, and how they name things.
_ROBOT = {
    "ur5": {
        "driver": IncludeSpec("ur_robot_driver", "launch/ur_control.launch.py", {"ur_type": "ur5e"}),
        "gazebo": IncludeSpec("ur_simulation_gz", "launch/ur_sim_control.launch.py", {"ur_type": "ur5e"}),
        "moveit_config": "ur_moveit_config",
        "robot_ip_argument": "robot_ip",
    },
    "franka": {
        "driver": IncludeSpec("franka_bringup", "launch/franka.launch.py", {"arm_id": "fr3"}),
        "gazebo": IncludeSpec("franka_gazebo_bringup", "launch/gazebo_fr3_moveit.launch.py", {}),
        "moveit_config": "franka_fr3_moveit_config",
        "robot_ip_argument": "robot_ip",
    },
}


def plan_launch(
    robot: str = "ur5",
    sim: str = "mujoco",
    model: str = "",
    instruction: str = "",
    robot_ip: str = "",
    rviz: bool = False,
    rqt: bool = False,
    dry_run: bool = False,
) -> LaunchPlan:
    if robot not in ROBOTS:
        raise ValueError(f"robot:={robot} is not supported; choose one of {', '.join(ROBOTS)}")
    if sim not in SIMS:
        raise ValueError(f"sim:={sim} is not supported; choose one of {', '.join(SIMS)}")
    if sim == "none" and not robot_ip:
        raise ValueError("sim:=none drives the real arm: give robot_ip:=<address of the robot controller>")

    node_parameters: list = [f"config/{robot}.yaml", {"dry_run": dry_run}]
    if sim == "mujoco":  # the sim's camera calibration, which a real cell measures itself
        node_parameters.append("config/rt2_in_sim.yaml")
    if model:
        node_parameters.append({"model_path": model})
    nodes = [NodeSpec("rt2_ros", "rt2_node", "rt2_node", tuple(node_parameters))]
    includes: list[IncludeSpec] = []
    calls: list[ServiceCallSpec] = []

    if sim == "mujoco":
        nodes.append(NodeSpec("rt2_ros", "sim_node", "sim", (f"config/sim_{robot}.yaml",)))
    else:
        spec = _ROBOT[robot]
        if sim == "gazebo":
            includes.append(spec["gazebo"])
        else:
            driver = spec["driver"]
            includes.append(
                IncludeSpec(
                    driver.package, driver.launch_file, {**driver.arguments, spec["robot_ip_argument"]: robot_ip}
                )
            )
        nodes.append(
            NodeSpec(
                "moveit_servo",
                "servo_node",
                "servo_node",
                (f"config/servo_{robot}.yaml",),
                moveit_config=spec["moveit_config"],
            )
        )
        calls.append(
            ServiceCallSpec(
                "/servo_node/switch_command_type", "moveit_msgs/srv/ServoCommandType", {"command_type": SERVO_TWIST}
            )
        )
    if instruction:  # `rt2 instruct` waits for rt2_node to listen, so the instruction is not lost at start-up
        nodes.append(NodeSpec("rt2_ros", "rt2", "instruct", arguments=("instruct", instruction)))
    if rviz:
        nodes.append(NodeSpec("rviz2", "rviz2", "rviz2", arguments=("-d", "config/rt2.rviz")))
    if rqt:
        nodes.append(
            NodeSpec("rqt_image_view", "rqt_image_view", "rqt_image_view", arguments=("/rt2_node/debug_image",))
        )
        nodes.append(
            NodeSpec(
                "rqt_plot", "rqt_plot", "rqt_plot", arguments=tuple(f"/rt2_node/action/action[{i}]" for i in range(7))
            )
        )
    return LaunchPlan(tuple(nodes), tuple(includes), tuple(calls), servo=sim != "mujoco")
