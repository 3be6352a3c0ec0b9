"""The policy node's state machine: which twist goes out at every servo tick, and when to run the model.

ROS-free and clock-free (every call takes `now` in seconds), so each safety rule is a plain test:
stale images, stop, instruction timeout, terminate and model faults all end in a zero twist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rt2_ros.safety import SafetyLimits, limit_twist

IDLE, RUNNING, STOPPED, TERMINATED, FAULT = "idle", "running", "stopped", "terminated", "fault"
ZERO = np.zeros(3)


@dataclass(frozen=True)
class SupervisorConfig:
    control_period_s: float = 0.1  # one model action per period
    image_timeout_s: float = 0.5  # no new frame for this long -> zero twist (stale-image watchdog)
    instruction_timeout_s: float = 120.0  # an episode longer than this is stopped
    command_max_age_s: float = 0.1  # an action's twist is published this long (one period: its delta, once)
    # A frame shows an action's result only if captured this long after its twist stopped; None: any new
    # frame will do. Why: the model was trained and is evaluated on the frame after each action.
    settle_s: float | None = 0.05
    action_scale: tuple[float, ...] = (1.0,) * 6  # per-dimension factor on the decoded deltas
    limits: SafetyLimits = field(default_factory=SafetyLimits)


@dataclass
class Command:
    linear: np.ndarray  # m/s, servo frame
    angular: np.ndarray  # rad/s
    gripper: float | None  # 0 open .. 1 closed, None: leave the gripper alone


class Supervisor:
    def __init__(self, config: SupervisorConfig) -> None:
        self.config = config
        self.state = IDLE
        self.instruction = ""
        self.step = 0
        self.episode = 0
        self.last_fault = ""
        self._episode_start = 0.0
        self._last_frame: float | None = None
        self._action_time: float | None = None
        self._linear, self._angular = ZERO, ZERO
        self._gripper: float | None = None

    # --- events -------------------------------------------------------------------------------

    def on_instruction(self, text: str, now: float) -> None:
        """A new instruction starts a new episode; an empty one stops."""
        text = text.strip()
        if not text:
            self.stop(now)
            return
        self.instruction = text
        self.episode += 1
        self.step = 0
        self.last_fault = ""
        self._episode_start = now
        self._clear_command()
        self.state = RUNNING

    def on_frame(self, now: float) -> None:
        self._last_frame = now

    def on_action(self, delta: np.ndarray, gripper: float, terminate: bool, now: float) -> Command:
        """A decoded action (deltas per control step) becomes the command re-published until the next one."""
        if self.state != RUNNING:
            return self.command(now, None)
        delta = np.asarray(delta, dtype=float)
        if delta.shape != (6,) or not np.all(np.isfinite(delta)) or not np.isfinite(gripper):
            self.on_fault(f"invalid action from the model: delta={delta.tolist()} gripper={gripper}", now)
            return self.command(now, None)
        self.step += 1
        if terminate:
            self.state = TERMINATED
            self._clear_command()
            self._gripper = float(np.clip(gripper, 0.0, 1.0))
            return Command(ZERO, ZERO, self._gripper)
        velocity = delta * np.asarray(self.config.action_scale) / self.config.control_period_s
        self._linear, self._angular = velocity[:3], velocity[3:]
        self._gripper = float(np.clip(gripper, 0.0, 1.0))
        self._action_time = now
        return self.command(now, None)

    def on_fault(self, reason: str, now: float) -> None:
        """A model error, NaN or invalid token: stop moving, keep the node alive, wait for an instruction."""
        self.state = FAULT
        self.last_fault = reason
        self._clear_command()

    def stop(self, now: float) -> None:
        if self.state in (RUNNING, TERMINATED, FAULT, IDLE):
            self.state = STOPPED
        self._clear_command()

    def start(self, now: float) -> bool:
        """Resume the current instruction as a new episode; False when there is none."""
        if not self.instruction:
            return False
        self.on_instruction(self.instruction, now)
        return True

    # --- decisions ----------------------------------------------------------------------------

    def frame_is_fresh(self, now: float) -> bool:
        return self._last_frame is not None and now - self._last_frame <= self.config.image_timeout_s

    def action_ends_at(self) -> float | None:
        """When the last action's twist stops (its delta moved once); None without one in force."""
        return None if self._action_time is None else self._action_time + self.config.command_max_age_s

    def frame_follows_action(self, captured: float) -> bool:
        """Whether a frame captured at `captured` shows the arm after the last action's motion ended.

        The model was trained and is evaluated lockstep: each frame comes after the previous action has
        moved the arm. Live, a model slower than the camera would otherwise act on a frame taken while
        (or before) its last action moved the arm, and its next step would answer a scene already gone.
        """
        ends = self.action_ends_at()
        return self.config.settle_s is None or ends is None or captured >= ends + self.config.settle_s

    def should_infer(self, now: float) -> bool:
        self._check_instruction_timeout(now)
        return self.state == RUNNING and self.frame_is_fresh(now)

    def command(self, now: float, ee_position: np.ndarray | None) -> Command:
        """The twist to publish at this servo tick: zero unless running on fresh images and a recent action."""
        self._check_instruction_timeout(now)
        fresh_action = self._action_time is not None and now - self._action_time < self.config.command_max_age_s
        if self.state != RUNNING or not self.frame_is_fresh(now) or not fresh_action:
            return Command(ZERO, ZERO, self._gripper)
        linear, angular = limit_twist(
            self._linear, self._angular, self.config.limits, ee_position, self.config.control_period_s
        )
        return Command(linear, angular, self._gripper)

    def _check_instruction_timeout(self, now: float) -> None:
        if self.state == RUNNING and now - self._episode_start > self.config.instruction_timeout_s:
            self.state = STOPPED
            self.last_fault = f"instruction timeout after {self.config.instruction_timeout_s:g} s"
            self._clear_command()

    def _clear_command(self) -> None:
        self._linear, self._angular, self._action_time = ZERO, ZERO, None
