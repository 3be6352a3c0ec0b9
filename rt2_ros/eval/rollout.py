"""One closed-loop episode in the sim: render, act, turn the delta into a twist as the node does, step.

The action goes through rt2_ros.supervisor.Supervisor, the node's own state machine, so evaluation
sees what the robot would: twist = delta * action_scale / control period, the same speed and
workspace limits, and terminate ending the episode. Everything runs in simulation time (no ROS,
no waiting), so an episode is as fast as rendering and the model allow, and repeats exactly for a
given (task, seed) with a greedy policy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rt2_ros.debug_overlay import annotate
from rt2_ros.eval.outcome import OutcomeTracker
from rt2_ros.policy import Action, Policy
from rt2_ros.sim.env import TabletopSim, tool_rotation
from rt2_ros.sim.expert import plan, twist_towards
from rt2_ros.sim.servo import orientation_error
from rt2_ros.supervisor import FAULT, Supervisor, SupervisorConfig
from rt2_ros.tool_points import SIM_OBJECT_HEIGHT, ArmView, holds_object


class Agent(Protocol):
    """What the loop drives: a Policy, or the scripted expert reading the sim's privileged state."""

    name: str

    def reset(self, sim: TabletopSim) -> None: ...

    def act(self, image: np.ndarray, instruction: str) -> Action: ...


# Evaluation sims can render the camera at up to this many times its size: the sharper view a model with
# goal_glimpse_zoom reads its glimpses from, as rt2_node gives it the camera's own full-resolution image.
DETAIL_ZOOM = 6


class PolicyAgent:
    """A model folder's Policy; reset() restarts its sampling so each episode replays identically.

    The policy is told where the tool is as rt2_node tells it on a robot: the tool-centre point from
    the arm's kinematics, the camera's calibration, the table's object height (not the object's true
    one) and the fingers' measured closure. Only models with plan_tool_points use it.
    """

    def __init__(self, policy: Policy, camera: str = "scene") -> None:
        zoom = policy.vla.config.goal_glimpse_zoom
        if zoom > DETAIL_ZOOM:
            raise ValueError(f"{policy.name}: goal_glimpse_zoom {zoom} is more than rt2 eval renders ({DETAIL_ZOOM})")
        self.policy, self.camera = policy, camera
        self.name = policy.name
        self.sim: TabletopSim | None = None

    def reset(self, sim: TabletopSim) -> None:
        self.sim = sim
        self.calibration = sim.camera_calibration(self.camera)
        self.policy.reset()

    def act(self, image: np.ndarray, instruction: str) -> Action:
        holding = holds_object(self.sim.gripper_position())  # the fingers' closure, as /joint_states gives it
        arm = ArmView(self.calibration, self.sim.tcp_pose()[0], SIM_OBJECT_HEIGHT, holding)
        detail = None
        if self.policy.wants_detail():
            zoom = self.policy.vla.config.goal_glimpse_zoom
            detail = self.sim.render(self.camera, size=(image.shape[0] * zoom, image.shape[1] * zoom))
        return self.policy.act(image, instruction, arm, detail)


class ExpertAgent:
    """The scripted expert (rt2_ros.sim.expert) as an agent, to validate the harness: same plan, same
    twists and waypoint switching as run_expert, but its actions pass through this loop's conversion.
    """

    name = "scripted expert"

    def __init__(self) -> None:
        self.sim: TabletopSim | None = None

    def reset(self, sim: TabletopSim) -> None:
        self.sim = sim
        self.waypoints = plan(sim)
        self.index, self.held, self.yaw, self.goal = 0, 0, 0.0, None
        self.period = 1.0 / sim.control_rate_hz

    def _advance(self) -> None:
        # run_expert checks the goal right after stepping; here that is the start of the next act().
        position, rotation = self.sim.tcp_pose()
        turned = np.linalg.norm(orientation_error(tool_rotation(self.yaw), rotation)) < 0.03
        if np.linalg.norm(position - self.goal) < self.waypoints[self.index].tolerance and turned:
            self.held += 1
            if self.held > self.waypoints[self.index].hold:
                self.index, self.held, self.goal = self.index + 1, 0, None

    def act(self, image: np.ndarray, instruction: str) -> Action:
        if self.goal is not None:
            self._advance()
        if self.index >= len(self.waypoints):
            return Action(True, np.zeros(6, np.float32), self.sim.gripper_command, tokens=[], plan="done")
        waypoint = self.waypoints[self.index]
        if self.goal is None:
            self.goal, new_yaw = waypoint.pose(self.sim)
            self.yaw = self.yaw if new_yaw is None else new_yaw
        twist = twist_towards(self.sim, self.goal, self.yaw, waypoint.speed)
        return Action(
            False,
            (twist * self.period).astype(np.float32),
            waypoint.gripper,
            tokens=[],
            plan=f"waypoint {self.index + 1}/{len(self.waypoints)}",
        )


EXPERT = "expert"  # the source name of the scripted expert, as `rt2 eval --expert` labels it


def make_agent(source: str, decoding: str = "kv", dtype: str = "float32", camera: str = "scene") -> Agent:
    """The agent for a source: EXPERT, or a model folder loaded as a Policy that sees `camera`."""
    if source == EXPERT:
        return ExpertAgent()
    return PolicyAgent(Policy.from_pretrained(source, decoding=decoding, dtype=dtype), camera)


@dataclass(frozen=True)
class RolloutOptions:
    camera: str = "scene"  # the camera the model was trained on
    max_steps: int = 200  # control steps (20 s at 10 Hz)
    success_hold: int = 3  # success must hold this many control steps in a row to end the episode early
    action_scale: tuple[float, ...] = (1.0,) * 6  # as SupervisorConfig.action_scale (the node's parameter)


@dataclass
class EpisodeResult:
    task: str
    seed: int
    instruction: str
    success: bool
    end: str  # "success" (held), "terminate", "step_limit" or "fault"
    steps: int  # actions taken
    seconds: float = 0.0  # wall clock for the episode (timing only; never part of a comparison)
    model_ms: float = 0.0  # mean Policy.act time per step
    category: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)  # OutcomeTracker.summary: why it failed, grasp facts
    frames: list[np.ndarray] = field(default_factory=list, repr=False)  # annotated, when recorded

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "task": self.task,
            "seed": self.seed,
            "instruction": self.instruction,
            "success": self.success,
            "end": self.end,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            "model_ms": round(self.model_ms, 3),
            **self.outcome,
        }


def run_episode(
    sim: TabletopSim, agent: Agent, task: str, seed: int, options: RolloutOptions, record: bool = False
) -> EpisodeResult:
    """Reset the sim to (task, seed) and let the agent act until success holds, it terminates, or the step limit."""
    start = time.perf_counter()
    instance = sim.reset(task, seed)
    agent.reset(sim)
    period = 1.0 / sim.control_rate_hz
    config = SupervisorConfig(
        control_period_s=period,
        action_scale=tuple(options.action_scale),
        instruction_timeout_s=options.max_steps * period + 1.0,  # the step limit is this loop's timeout
    )
    supervisor = Supervisor(config)
    supervisor.on_instruction(instance.instruction, sim.time)
    tracker = OutcomeTracker(sim)
    frames: list[np.ndarray] = []
    held, steps, end, act_ms = 0, 0, "step_limit", 0.0
    while steps < options.max_steps:
        image = sim.render(options.camera)
        supervisor.on_frame(sim.time)
        action = agent.act(image, instance.instruction)
        act_ms += action.timing_ms.get("total", 0.0)
        steps += 1
        if record:
            frames.append(
                annotate(image, instance.instruction, action.delta, action.gripper, action.plan, f"step {steps}")
            )
        command = supervisor.on_action(action.delta, action.gripper, action.terminate, sim.time)
        if supervisor.state == FAULT:
            end = "fault"
            break
        if action.terminate:
            sim.command_twist(np.zeros(6))
            sim.command_gripper(command.gripper)
            end = "terminate"
            break
        # The node re-reads the command at every servo tick with the arm's pose (workspace limit).
        command = supervisor.command(sim.time, sim.tcp_pose()[0])
        sim.command_twist(np.concatenate([command.linear, command.angular]))
        if command.gripper is not None:
            sim.command_gripper(command.gripper)
        sim.step_control()
        tracker.observe()
        held = held + 1 if sim.success() else 0
        if held >= options.success_hold:
            end = "success"
            break
    success = end == "success" or sim.success()
    if record:  # a last frame showing the outcome
        frames.append(
            annotate(sim.render(options.camera), instance.instruction, state="SUCCESS" if success else "FAIL")
        )
    return EpisodeResult(
        task=task,
        seed=seed,
        instruction=instance.instruction,
        success=bool(success),
        end=end,
        steps=steps,
        seconds=time.perf_counter() - start,
        model_ms=act_ms / max(steps, 1),
        outcome=tracker.summary(bool(success)),
        frames=frames,
    )
