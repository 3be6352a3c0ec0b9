"""Gripper commands through control_msgs/action/GripperCommand, where control_msgs is installed.

Real grippers (Robotiq 2F-85 on a UR5, the Franka hand) take positions in their own units through
this action; the node maps 0 open .. 1 closed onto the configured open/closed positions.
control_msgs has no PyPI wheel, so it is imported only when the parameter gripper_action is set.
"""

from __future__ import annotations

from rclpy.node import Node


class GripperActionClient:
    def __init__(self, node: Node, params) -> None:
        try:
            from control_msgs.action import GripperCommand
            from rclpy.action import ActionClient
        except ImportError as error:
            raise SystemExit(
                f"rt2_node: gripper_action is set to {params.gripper_action!r} but control_msgs is not installed "
                f"({error}). Install ros-$ROS_DISTRO-control-msgs, or leave gripper_action empty to use only "
                f"the Float64 topic {params.gripper_topic}."
            ) from None
        self._goal_type = GripperCommand.Goal
        self._client = ActionClient(node, GripperCommand, params.gripper_action)
        self._params = params
        self._last_sent: float | None = None

    def send(self, closed_fraction: float) -> None:
        """Send a goal when the target changes; goals are fire-and-forget, the next action corrects."""
        if self._last_sent is not None and abs(closed_fraction - self._last_sent) < 0.02:
            return
        if not self._client.server_is_ready():
            return
        goal = self._goal_type()
        p = self._params
        goal.command.position = p.gripper_open_position + closed_fraction * (
            p.gripper_closed_position - p.gripper_open_position
        )
        goal.command.max_effort = p.gripper_max_effort
        self._client.send_goal_async(goal)
        self._last_sent = closed_fraction
