"""The two arms the simulation offers, built from mujoco-menagerie models, and what differs between them.

Everything robot-specific lives here (joint and actuator names, the gripper's control range, where the
tool-centre point is), so the controller, the tasks and the expert are written once for both arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import mujoco_menagerie

ROBOTS = ("ur5e", "panda")
ALIASES = {"ur5": "ur5e", "franka": "panda"}  # the names the launch files and rt2_node configs use
TCP_SITE = "tcp"  # the tool-centre point; its z axis points out of the gripper, fingers close along its y axis


@dataclass(frozen=True)
class RobotConfig:
    """Names and numbers that the generic code needs to drive one arm + gripper."""

    name: str
    arm_joints: tuple[str, ...]
    arm_actuators: tuple[str, ...]
    gripper_actuator: str
    gripper_ctrl_open: float  # actuator control value for an open gripper
    gripper_ctrl_closed: float
    finger_joint: str  # one finger joint, to report the opening
    finger_joint_open: float
    finger_joint_closed: float
    tcp_site: str
    gripper_body: str  # where the wrist camera is mounted
    wrist_camera_pos: tuple[float, float, float]  # in the gripper body's frame
    wrist_camera_target: tuple[float, float, float]  # the point it looks at, same frame
    ik_seed: tuple[float, ...]  # arm joints near the home pose, so the solver lands in the usual elbow-up branch


# The menagerie's ranges are opposite: Panda 255 = open, Robotiq 2F-85 255 = closed. Callers only see 0..1.
CONFIGS = {
    "ur5e": RobotConfig(
        name="ur5e",
        arm_joints=(
            "shoulder_pan_joint",
            "shoulder_lift_joint",
            "elbow_joint",
            "wrist_1_joint",
            "wrist_2_joint",
            "wrist_3_joint",
        ),
        arm_actuators=("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"),
        gripper_actuator="gripper/fingers_actuator",
        gripper_ctrl_open=0.0,
        gripper_ctrl_closed=255.0,
        finger_joint="gripper/right_driver_joint",
        finger_joint_open=0.0,
        finger_joint_closed=0.8,
        tcp_site="gripper/tcp",
        gripper_body="gripper/base",
        wrist_camera_pos=(0.07, 0.0, 0.04),
        wrist_camera_target=(0.0, 0.0, 0.22),
        ik_seed=(-3.1416, -1.5708, 1.5708, -1.5708, -1.5708, 0.0),
    ),
    "panda": RobotConfig(
        name="panda",
        arm_joints=tuple(f"joint{i}" for i in range(1, 8)),
        arm_actuators=tuple(f"actuator{i}" for i in range(1, 8)),
        gripper_actuator="actuator8",
        gripper_ctrl_open=255.0,
        gripper_ctrl_closed=0.0,
        finger_joint="finger_joint1",
        finger_joint_open=0.04,
        finger_joint_closed=0.0,
        tcp_site=TCP_SITE,
        gripper_body="hand",
        wrist_camera_pos=(0.07, 0.0, 0.02),
        wrist_camera_target=(0.0, 0.0, 0.18),
        ik_seed=(0.0, 0.0, 0.0, -1.5708, 0.0, 1.5708, -0.7853),
    ),
}


def robot_config(name: str) -> RobotConfig:
    name = ALIASES.get(name, name)
    if name not in CONFIGS:
        raise ValueError(f"unknown robot {name!r}; choose one of {', '.join(ROBOTS)}")
    return CONFIGS[name]


def robot_spec(name: str) -> mujoco.MjSpec:
    """The arm with its gripper and a `tcp` site, as an editable spec (models come from mujoco-menagerie)."""
    name = robot_config(name).name
    if name == "panda":
        spec = mujoco_menagerie.get("franka_emika_panda").spec("panda")
        # The Panda model has no tool-centre site: 0.1034 m below the hand flange is between the finger pads.
        spec.body("hand").add_site(name=TCP_SITE, pos=[0, 0, 0.1034], group=4)
        # The stock finger servo (kp 100) lets objects slip out while lifting; 10x holds them.
        gripper = spec.actuator("actuator8")
        gripper.gainprm[0] *= 10
        gripper.biasprm[1] *= 10
        gripper.biasprm[2] *= 10
        return spec
    spec = mujoco_menagerie.get("universal_robots_ur5e").spec("ur5e")
    # The Robotiq model wants an elliptic friction cone and a high impratio to hold objects; the attach
    # keeps the parent's options, so set them on the arm first.
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10
    gripper = mujoco_menagerie.get("robotiq_2f85").spec("2f85")
    gripper.body("base").add_site(name=TCP_SITE, pos=[0, 0, 0.145], group=4)  # at the model's "pinch" point
    spec.attach(gripper, prefix="gripper/", site=spec.site("attachment_site"))
    return spec
