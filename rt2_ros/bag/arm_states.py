"""The arm's state along a bag, so that offline replay gives a tool-points model what rt2_node gives it live.

rt2_node reads the tool's pose (`pose_topic`), the camera's intrinsics (`camera_info_topic`) and the
fingers' joint (`joint_states_topic`), and with its `camera_pose` calibration tells the policy where
the tool is in the image (rt2_ros.tool_points.ArmView). Here the same messages come from the bag,
each step taking the newest of each logged before it, and the same parameters from the node's
parameter files, so a replayed step is decoded as the node decoded it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rt2_ros.bag.reader import BagError, BagReader
from rt2_ros.tool_points import (
    SIM_OBJECT_HEIGHT,
    ArmView,
    CameraCalibration,
    camera_pose_parameter,
    finger_closure,
    holds_object,
)


@dataclass(frozen=True)
class ArmSettings:
    """rt2_node's parameters of the same names (rt2_ros/nodes/parameters.py)."""

    camera_pose: tuple[float, ...] = ()  # [x y z qx qy qz qw] of the optical frame in the base frame
    object_height: float = SIM_OBJECT_HEIGHT
    gripper_joint: str = ""
    gripper_joint_open: float = 0.0
    gripper_joint_closed: float = 1.0
    pose_topic: str = "/ee_pose"
    camera_info_topic: str = "/camera/color/camera_info"
    joint_states_topic: str = "/joint_states"
    image_timeout_ms: float = 500.0  # a pose or joint state older than this is not used, as live

    @classmethod
    def from_params_files(cls, paths: list[str | Path]) -> ArmSettings:
        """The rt2_node section of ROS 2 parameter files, later files overriding earlier ones, as --params-file."""
        values: dict[str, Any] = {}
        for path in paths:
            try:
                document = yaml.safe_load(Path(path).read_text()) or {}
            except (OSError, yaml.YAMLError) as error:
                raise ValueError(f"cannot read parameter file {path}: {error}") from error
            for node in ("rt2_node", "/rt2_node", "/**"):
                values.update((document.get(node) or {}).get("ros__parameters") or {})
        known = {f.name for f in fields(cls)}
        settings = {name: value for name, value in values.items() if name in known}
        settings["camera_pose"] = camera_pose_parameter(settings.get("camera_pose", [0.0]))
        if not settings["camera_pose"]:
            raise ValueError(f"no camera_pose in the rt2_node parameters of {', '.join(map(str, paths))}")
        arm = cls(**settings)
        if arm.gripper_joint and arm.gripper_joint_open == arm.gripper_joint_closed:
            raise ValueError("gripper_joint_open and gripper_joint_closed must differ")
        return arm


class ArmStates:
    """The pose, CameraInfo and finger closure logged in a bag, looked up by time."""

    def __init__(self, reader: BagReader, settings: ArmSettings) -> None:
        self.settings = settings
        missing = [t for t in (settings.pose_topic, settings.camera_info_topic) if t not in reader.topics]
        if missing:
            raise BagError(f"{reader.path}: tool points need {' and '.join(missing)}, which the bag lacks")
        self._times: dict[str, list[int]] = {}
        self._values: dict[str, list[Any]] = {}
        topics = [settings.pose_topic, settings.camera_info_topic, settings.joint_states_topic]
        for message in reader.messages([t for t in topics if t in reader.topics]):
            value = self._read(message.topic, reader.deserialize(message))
            if value is not None:
                self._times.setdefault(message.topic, []).append(message.log_time_ns)
                self._values.setdefault(message.topic, []).append(value)

    def _read(self, topic: str, message: Any) -> Any:
        s = self.settings
        if topic == s.pose_topic:
            p = message.pose.position
            position = np.array([p.x, p.y, p.z], dtype=float)
            return position if np.all(np.isfinite(position)) else None
        if topic == s.camera_info_topic:
            try:
                return CameraCalibration.from_pose(message.width, message.height, list(message.k), list(s.camera_pose))
            except ValueError:
                return None  # as live: a bad CameraInfo is ignored
        # None without the finger joint's position: holding unknown, as live
        joint = (s.gripper_joint, s.gripper_joint_open, s.gripper_joint_closed)
        return finger_closure(message.name, message.position, *joint)

    def _latest(self, topic: str, time_ns: int, max_age_ns: int | None) -> Any:
        times = self._times.get(topic, [])
        index = bisect_right(times, time_ns) - 1
        if index < 0 or (max_age_ns is not None and time_ns - times[index] > max_age_ns):
            return None
        return self._values[topic][index]

    def view(self, time_ns: int, image_shape: tuple[int, ...]) -> ArmView | None:
        """What rt2_node would give the policy at `time_ns` for an image of `image_shape`; None when it would
        give nothing (no CameraInfo yet, another image size, or no pose within image_timeout_ms)."""
        max_age = int(self.settings.image_timeout_ms * 1e6)
        calibration = self._latest(self.settings.camera_info_topic, time_ns, None)
        position = self._latest(self.settings.pose_topic, time_ns, max_age)
        if calibration is None or position is None or (calibration.height, calibration.width) != image_shape[:2]:
            return None
        closure = self._latest(self.settings.joint_states_topic, time_ns, max_age)
        return ArmView(calibration, position, self.settings.object_height, holds_object(closure))
