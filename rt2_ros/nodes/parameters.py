"""rt2_node's ROS parameters: declared with defaults and descriptions, read once into plain settings.

Defaults follow common camera drivers and MoveIt Servo; config/<robot>.yaml overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from rt2_ros.safety import SafetyLimits
from rt2_ros.supervisor import SupervisorConfig
from rt2_ros.tool_points import SIM_OBJECT_HEIGHT, camera_pose_parameter

# name -> (default, description)
PARAMETERS: dict[str, tuple[object, str]] = {
    "model_path": ("", "model folder (save_pretrained layout with the action-token config) or hub id"),
    "decoding": ("kv", "kv (KV-cached, default), generate, or parallel (models trained for it)"),
    "chain_of_thought": (False, "ask for 'Plan: ...' before the action (models trained with plans always write one)"),
    "dtype": ("float32", "float32, bfloat16 or int8 (dynamic quantisation, CPU)"),
    "compile": (False, "torch.compile the vision encoder (slow first action, faster after)"),
    "torch_threads": (1, "CPU threads for the model; more help only on an otherwise idle machine (0 = torch default)"),
    "control_rate": (10.0, "model actions per second (Hz); the actions are deltas per control step"),
    "servo_rate": (50.0, "twist publish rate (Hz); keep above 1/incoming_command_timeout of Servo"),
    "servo_frame": ("base_link", "frame_id of the published twists (the frame the deltas are in)"),
    "image_topic": ("/camera/color/image_raw", "camera topic; compressed frames come on <topic>/compressed"),
    "image_transports": (["raw"], "which camera streams to use: raw, compressed or both"),
    "instruction_topic": ("/instruction", "std_msgs/String: a new instruction starts an episode, empty stops"),
    "pose_topic": ("/ee_pose", "geometry_msgs/PoseStamped of the end effector in servo_frame ('' = none)"),
    "camera_info_topic": ("/camera/color/camera_info", "sensor_msgs/CameraInfo of image_topic, for camera_pose"),
    # The plan's gripper and below points from the arm's pose instead of the model, for models with
    # plan_tool_points (rt2_ros.tool_points): needs pose_topic, camera_info_topic and this calibration.
    "camera_pose": ([0.0], "camera optical frame in servo_frame, [x y z qx qy qz qw] ([0.0] = not calibrated)"),
    "object_height": (SIM_OBJECT_HEIGHT, "m in servo_frame: height of the objects' centres standing on the table"),
    "gripper_joint": ("", "joint in joint_states_topic whose position tells how far the fingers closed ('' = none)"),
    "gripper_joint_open": (0.0, "that joint's position with the gripper open"),
    "gripper_joint_closed": (1.0, "that joint's position with the gripper closed on nothing"),
    "joint_states_topic": ("/joint_states", "sensor_msgs/JointState, for diagnostics ('' = none)"),
    "twist_topic": ("/servo_node/delta_twist_cmds", "MoveIt Servo's twist input"),
    "gripper_topic": ("/gripper/command", "std_msgs/Float64 gripper position, 0 open .. 1 closed"),
    "gripper_action": ("", "control_msgs/action/GripperCommand server name ('' = not used)"),
    "gripper_open_position": (0.0, "GripperCommand position for open (robot units)"),
    "gripper_closed_position": (0.8, "GripperCommand position for closed (robot units)"),
    "gripper_max_effort": (50.0, "GripperCommand max_effort"),
    "action_scale": ([1.0] * 6, "factor per dimension on the decoded dx dy dz droll dpitch dyaw"),
    "max_linear_speed": (0.15, "m/s, clamp on the linear twist norm"),
    "max_angular_speed": (0.8, "rad/s, clamp on the angular twist norm"),
    "workspace_min": ([-0.9, -0.9, 0.0], "m, lower corner of the box the end effector may not leave"),
    "workspace_max": ([0.9, 0.9, 1.0], "m, upper corner of that box"),
    "image_timeout_ms": (500.0, "no new frame for this long: zero twist (stale-image watchdog)"),
    "instruction_timeout_s": (120.0, "an episode running longer than this is stopped"),
    # One control period: each action's twist is published for as long as the action stands for, so it
    # moves the arm by its delta once even when the model runs slower than control_rate (the demo at
    # ~6 Hz moved the tool x1.12 the actions' path with 500 ms, x0.98 with 100 ms; session 13).
    "command_max_age_ms": (100.0, "an action's twist is published this long after it arrives, then zero"),
    # Lockstep as in training and `rt2 eval`: the next action answers a frame taken after the last one's
    # motion. Without it the demo acted on frames up to 0.25 s old and closed its gripper above the cube.
    "settle_ms": (50.0, "act only on a frame taken this long after the last action's twist ended (-1 = any new frame)"),
    "max_instruction_bytes": (2048, "longer instructions are refused"),
    "dry_run": (False, "compute and publish actions, never command the arm or gripper"),
    "home_joint_positions": ([0.0], "joint positions of the home pose for moveit_py ([0.0] = use named state)"),
    "home_named_state": ("home", "SRDF named state for ~/go_home through moveit_py"),
    "planning_group": ("manipulator", "MoveIt planning group for ~/go_home"),
    "sim_reset_service": ("/sim/reset", "std_srvs/Trigger of the simulation, used by ~/go_home in sim"),
}


@dataclass(frozen=True)
class NodeParams:
    model_path: str
    decoding: str
    chain_of_thought: bool
    dtype: str
    compile: bool
    torch_threads: int
    control_rate: float
    servo_rate: float
    servo_frame: str
    image_topic: str
    image_transports: tuple[str, ...]
    instruction_topic: str
    pose_topic: str
    camera_info_topic: str
    camera_pose: tuple[float, ...]  # () when not calibrated
    object_height: float
    gripper_joint: str
    gripper_joint_open: float
    gripper_joint_closed: float
    joint_states_topic: str
    twist_topic: str
    gripper_topic: str
    gripper_action: str
    gripper_open_position: float
    gripper_closed_position: float
    gripper_max_effort: float
    max_instruction_bytes: int
    dry_run: bool
    home_joint_positions: tuple[float, ...]
    home_named_state: str
    planning_group: str
    sim_reset_service: str
    supervisor: SupervisorConfig


def declare_node_parameters(node: Node) -> NodeParams:
    values = {}
    for name, (default, description) in PARAMETERS.items():
        node.declare_parameter(name, default, ParameterDescriptor(description=description))
        values[name] = node.get_parameter(name).value
    return settings_from_values(values)


def settings_from_values(values: dict) -> NodeParams:
    """Check and convert raw parameter values; a wrong one fails at start-up with its name."""
    if values["control_rate"] <= 0 or values["servo_rate"] <= 0:
        raise ValueError("control_rate and servo_rate must be > 0")
    if len(values["action_scale"]) != 6:
        raise ValueError("action_scale needs 6 values: dx dy dz droll dpitch dyaw")
    transports = tuple(values["image_transports"])
    if not transports or not set(transports) <= {"raw", "compressed"}:
        raise ValueError(f"image_transports must be raw and/or compressed, got {list(transports)}")
    supervisor = SupervisorConfig(
        control_period_s=1.0 / values["control_rate"],
        image_timeout_s=values["image_timeout_ms"] / 1000.0,
        instruction_timeout_s=values["instruction_timeout_s"],
        command_max_age_s=values["command_max_age_ms"] / 1000.0,
        settle_s=values["settle_ms"] / 1000.0 if values["settle_ms"] >= 0 else None,
        action_scale=tuple(float(v) for v in values["action_scale"]),
        limits=SafetyLimits(
            max_linear_speed=values["max_linear_speed"],
            max_angular_speed=values["max_angular_speed"],
            workspace_min=tuple(values["workspace_min"]),
            workspace_max=tuple(values["workspace_max"]),
        ),
    )
    plain = {k: v for k, v in values.items() if k in NodeParams.__dataclass_fields__}
    plain["image_transports"] = transports
    plain["home_joint_positions"] = tuple(values["home_joint_positions"])
    plain["camera_pose"] = camera_pose_parameter(values["camera_pose"])
    if values["gripper_joint"] and values["gripper_joint_open"] == values["gripper_joint_closed"]:
        raise ValueError("gripper_joint_open and gripper_joint_closed must differ")
    return NodeParams(**plain, supervisor=supervisor)
