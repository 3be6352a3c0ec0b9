"""The gripper's last command and how long it has held, written into the action prompt of models trained with it.

Why: at 96x96 px the scene camera barely shows whether the fingers have closed, and RT-2's prompt
holds only the instruction. In session 8 a model fed the true plan hovered at the object and
toggled the gripper open and shut without ever lifting: "open, close now" and "closed, lift now"
looked the same to it. The expert holds a grasp for 7 control steps and a release for 6 before
moving on, so the last command and the steps it has held tell every such frame apart. Both come
from the policy's own history (rt2_ros.policy.Policy keeps it), so the node needs no extra topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HELD_CAP = 9  # counts stop here: past the expert's longest hold (7 steps), longer says nothing new
CLOSED_ABOVE = 0.5  # gripper commands are 0 (open) .. 1 (closed)


@dataclass(frozen=True)
class GripperState:
    closed: bool = False
    held: int = HELD_CAP  # control steps the current command has been in force, at most HELD_CAP

    def text(self) -> str:
        return f"gripper {'closed' if self.closed else 'open'} {self.held}"

    def after(self, command: float) -> GripperState:
        """The state once `command` has been sent for one control step."""
        closed = command > CLOSED_ABOVE
        return GripperState(closed, min(self.held + 1, HELD_CAP) if closed == self.closed else 1)


def episode_states(commands: Iterable[float]) -> list[GripperState]:
    """The state before each step of an episode (it starts open) whose gripper commands are `commands`."""
    states = [GripperState()]
    for command in commands:
        states.append(states[-1].after(command))
    return states[:-1]
