"""The plan's gripper and below points from the arm's own state and the camera's calibration.

A plan-trained model writes `<object> gripper<loc><loc> below<loc><loc>` and moves by the offset
between the object and the below point (the tool lowered straight down to the object's height).
It finds the object well when asked (session 16: 0.7 px median on first frames) and the gripper
well, but writes the below point several pixels off, so the arm came down beside the cube and
closed on air. A real arm does not need to guess either point: its driver knows where the tool is
(forward kinematics, the pose topic) and a calibrated camera (intrinsics from CameraInfo, the
camera's pose from hand-eye calibration) says where that is in the image. With these two points
given and the object's point from the model, the shipped weights solved 12 of 24 seen episodes
against 7 of 24 with their own (experiments/oracle_plan_eval.py --object-from-model).

Pure numpy; the node builds the calibration from ROS messages and parameters, the evaluation from the sim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rt2_ros.plan_grammar import pixel_to_loc

# Height of the objects' centres above the base frame's origin when they stand on the table, for the
# sim's table (top at z = 0) and its 3.5-5.5 cm objects; a real cell sets its own (rt2_node's object_height).
SIM_OBJECT_HEIGHT = 0.0225


@dataclass(frozen=True)
class CameraCalibration:
    """A pinhole camera in the arm's base frame: what CameraInfo and a hand-eye calibration give.

    rotation's columns are the optical frame's axes in the base frame (ROS convention: x right,
    y down, z forward out of the lens); position is the optical centre in the base frame.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    rotation: np.ndarray
    position: np.ndarray

    def __post_init__(self) -> None:
        numbers = [self.width, self.height, self.fx, self.fy, self.cx, self.cy]
        if not np.all(np.isfinite(numbers)) or min(numbers[:4]) <= 0:
            raise ValueError(f"camera calibration needs a positive image size and focal length, got {numbers}")
        if not np.all(np.isfinite(self.rotation)) or not np.all(np.isfinite(self.position)):
            raise ValueError("camera pose must be finite")
        rotation = np.asarray(self.rotation, dtype=float)
        if rotation.shape != (3, 3) or not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-6):
            raise ValueError(f"camera rotation must be a 3x3 rotation matrix, got {rotation.tolist()}")
        object.__setattr__(self, "rotation", rotation)
        object.__setattr__(self, "position", np.asarray(self.position, dtype=float).reshape(3))

    @classmethod
    def from_pose(cls, width: int, height: int, k: list[float], pose: list[float]) -> CameraCalibration:
        """From CameraInfo's 3x3 `k` (row-major) and the optical frame's pose [x y z qx qy qz qw] in the base frame."""
        if len(k) != 9:
            raise ValueError(f"k must be CameraInfo's 9 numbers, got {len(k)}")
        if len(pose) != 7:
            raise ValueError(f"camera pose must be [x, y, z, qx, qy, qz, qw], got {len(pose)} numbers")
        return cls(width, height, k[0], k[4], k[2], k[5], quaternion_matrix(pose[3:]), np.array(pose[:3]))

    def pixel(self, point: np.ndarray) -> np.ndarray:
        """(column, row) where base-frame `point` appears; (0, 0) is the top-left corner of the image."""
        local = self.rotation.T @ (np.asarray(point, dtype=float) - self.position)
        if local[2] <= 0:
            raise ValueError(f"point {np.round(point, 3).tolist()} is behind the camera")
        return np.array([self.cx + self.fx * local[0] / local[2], self.cy + self.fy * local[1] / local[2]])

    def loc(self, point: np.ndarray) -> np.ndarray:
        """(row, column) loc bins of base-frame `point`, as a plan writes it; off-image points go to the edge."""
        return pixel_to_loc(self.pixel(point), self.height, self.width)


def quaternion_matrix(quaternion: list[float]) -> np.ndarray:
    """3x3 rotation of a unit quaternion (x, y, z, w), ROS order. Written here so that the node needs
    neither tf_transformations nor scipy for one formula."""
    x, y, z, w = np.asarray(quaternion, dtype=float) / np.linalg.norm(quaternion)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def camera_pose_parameter(values) -> tuple[float, ...]:
    """rt2_node's `camera_pose` parameter as a pose tuple; () for `[0.0]` (not calibrated); ValueError if malformed."""
    pose = tuple(float(v) for v in values)
    if pose == (0.0,):
        return ()
    if len(pose) != 7 or not all(map(math.isfinite, pose)) or math.hypot(*pose[3:]) < 1e-6:
        raise ValueError(f"camera_pose must be [x, y, z, qx, qy, qz, qw] with a non-zero quaternion, got {list(pose)}")
    return pose


def finger_closure(names, positions, joint: str, open_position: float, closed_position: float) -> float | None:
    """How far the fingers closed (0 open .. 1 closed) from a JointState's `joint`; None when the message
    does not carry a finite position for it."""
    names = list(names)
    if not joint or joint not in names or names.index(joint) >= len(positions):
        return None
    position = float(positions[names.index(joint)])
    return (position - open_position) / (closed_position - open_position) if math.isfinite(position) else None


# Finger closure (0 open .. 1 closed) between these: stopped by something between the fingers. Measured
# in the sim: 0.32-0.62 around its 3.5-5.5 cm objects on both arms, 0.98-1.0 closed on air.
HOLDING_CLOSURE = (0.1, 0.85)


def holds_object(closure: float | None) -> bool | None:
    """Whether the fingers hold something, from their measured closure; None when it is not measured."""
    if closure is None or not np.isfinite(closure):
        return None
    return bool(HOLDING_CLOSURE[0] < closure < HOLDING_CLOSURE[1])


@dataclass(frozen=True)
class ArmView:
    """What the robot knows of its tool in the camera's image at one step."""

    camera: CameraCalibration
    tool_position: np.ndarray  # the tool-centre point in the base frame, m
    object_height: float = SIM_OBJECT_HEIGHT  # m, base frame: where "below" lowers the tool to
    holding: bool | None = None  # holds_object(the fingers' closure); None: not measured

    def plan_points(self) -> dict[str, np.ndarray]:
        """{"gripper", "below", "below_goal"}: (row, column) loc bins as `rt2 plans` writes them for the
        expert's episodes.

        While the fingers hold something it is at the tool, so the below point is the tool's own, as
        rt2_ros.data.plan_points.below_text writes it for a carried object; otherwise (open, pushing
        with closed fingers, or closed on air) the tool is lowered to the objects' height.
        below_goal is the below point of plans with offsets "below-goal" when the task has a goal: while
        holding, the tool lowered to the goal's height, taken as the objects' height (the goal is an
        object or a tile on the same table).
        """
        tool = np.asarray(self.tool_position, dtype=float)
        gripper = self.camera.loc(tool)
        lowered = self.camera.loc(np.array([tool[0], tool[1], self.object_height]))
        return {"gripper": gripper, "below": gripper if self.holding else lowered, "below_goal": lowered}
