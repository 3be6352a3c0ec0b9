"""The scripted expert: privileged state in, twist and gripper commands out, one Episode per attempt.

It drives the arm only through what a policy has (a base-frame twist and a 0..1 gripper target at the
control rate), so its actions are valid training targets in the RT-2 layout of docs/conventions.md:
    action = (dx dy dz droll dpitch dyaw) = twist * control period, then gripper; terminate on the last step.
A plan is a list of waypoints, each read from the simulator when it becomes active, so a grasped
object that slipped a little is still put down where it should go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rt2_ros.data.episode import Episode, Step
from rt2_ros.sim.env import TabletopSim, tool_rotation
from rt2_ros.sim.layout import WORKSPACE_X, WORKSPACE_Y
from rt2_ros.sim.servo import orientation_error
from rt2_ros.sim.tasks import PUSH_DIRECTIONS

MAX_LINEAR = 0.15  # m/s
MAX_ANGULAR = 1.0  # rad/s
GAIN = 6.0  # 1/s: each control step removes 60% of the remaining error at 10 Hz
MAX_STEPS = 300
START_HEIGHT = (0.10, 0.25)  # m: a random start's tool height, above every object (settling must not hit one)
START_STREAM = 0x5747  # random_start's own seed stream, apart from the layout's
MISS_STREAM = 0x4D15  # missed_grasp's own seed stream
SHORT_PUSH_STREAM = 0x5B05  # short_push's own seed stream
MISS_ABOVE_TOP = (0.02, 0.06)  # m: a missed grasp closes this far above the object's top (fingertips clear it)
MISS_BESIDE = 0.03  # m: and at most this far beside its centre
MISS_LIFT = (0.02, 0.08)  # m: then lifts the empty gripper this far before the retry
PUSH_RUN_UP = 0.03  # m: a push starts with the tool this far behind the object's near side
PUSH_STROKE = 0.17  # m: and moves it this far along the push, so the object travels the stroke less the run-up
SHORT_PUSH_TRAVEL = (0.03, 0.08)  # m: a deliberately short first stroke moves the object this far (0.10 succeeds)


@dataclass
class Waypoint:
    """Go to `pose(sim)` -> (xyz, yaw) with the gripper at `gripper`, then stay `hold` more steps."""

    pose: Callable[[TabletopSim], tuple[np.ndarray, float]]
    gripper: float
    tolerance: float = 0.006
    hold: int = 0
    speed: float = MAX_LINEAR
    target: bool = True  # False: a deliberate mistake, recorded for its images but never learned as an action


def grasp_yaw(sim: TabletopSim, name: str) -> float:
    """Gripper yaw that puts the fingers on two opposite faces: a cube's yaw folded into [-45, 45] degrees."""
    if sim.object(name).shape != "cube":
        return 0.0
    r = sim.object_rotation(name)
    yaw = np.arctan2(r[1, 0], r[0, 0])
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)


def _grasp_height(sim: TabletopSim, name: str) -> float:
    # At the object's middle, but never so low that the fingertips scrape the table.
    return max(sim.object(name).size / 2, 0.02)


@dataclass(frozen=True)
class MissedGrasp:
    """Where a deliberately missed grasp closes, relative to the object: beside its centre, above its top."""

    beside: tuple[float, float]
    above_top: float
    lift: float

    @staticmethod
    def draw(seed: int) -> MissedGrasp:
        rng = np.random.default_rng([seed, MISS_STREAM, 1])  # apart from the draw that decides whether to miss
        angle, radius = rng.uniform(0, 2 * np.pi), MISS_BESIDE * np.sqrt(rng.uniform())
        return MissedGrasp(
            (radius * np.cos(angle), radius * np.sin(angle)), rng.uniform(*MISS_ABOVE_TOP), rng.uniform(*MISS_LIFT)
        )


def missed_grasp_waypoints(name: str, miss: MissedGrasp) -> list[Waypoint]:
    """Close on air above or beside the object, lift the empty gripper, then reopen: the start of a retry.

    Why: closed loop, the learned policies of sessions 9-10 closed a few cm above or beside the object
    and lifted an empty gripper, a state the expert never reached, so no training step said what to do
    there. The close and the lift are marked target=False (their steps show the states but teach no
    action); the reopen and the whole pick after it are targets.
    """

    def closing_spot(s):
        top = s.object_position(name)[2] + s.object(name).size / 2
        xy = s.object_position(name)[:2] + miss.beside
        return np.array([*xy, top + miss.above_top]), grasp_yaw(s, name)

    return [
        Waypoint(closing_spot, 0.0, tolerance=0.006, speed=0.1, target=False),
        Waypoint(closing_spot, 1.0, tolerance=1.0, hold=6, target=False),
        Waypoint(lambda s: (s.tcp_pose()[0] + [0, 0, miss.lift], None), 1.0, tolerance=0.01, target=False),
        Waypoint(lambda s: (s.tcp_pose()[0], None), 0.0, tolerance=1.0, hold=5),
    ]


def pick_waypoints(sim: TabletopSim, name: str, lift_to: float, miss: MissedGrasp | None = None) -> list[Waypoint]:
    def above(s):
        return s.object_position(name) * [1, 1, 0] + [0, 0, 0.13], grasp_yaw(s, name)

    def at(s):
        return s.object_position(name) * [1, 1, 0] + [0, 0, _grasp_height(s, name)], grasp_yaw(s, name)

    def lifted(s):
        return s.tcp_pose()[0] * [1, 1, 0] + [0, 0, lift_to], None

    retry = [*missed_grasp_waypoints(name, miss), Waypoint(above, 0.0, tolerance=0.01)] if miss else []
    return [
        Waypoint(above, 0.0, tolerance=0.01),
        *retry,
        Waypoint(at, 0.0, tolerance=0.004, speed=0.1),
        Waypoint(at, 1.0, tolerance=1.0, hold=6),
        Waypoint(lifted, 1.0, tolerance=0.01),
    ]


def place_waypoints(sim: TabletopSim, name: str, destination: Callable[[TabletopSim], np.ndarray]) -> list[Waypoint]:
    """Carry the held object `name` so its bottom lands on destination(s) = (x, y, surface z)."""

    def offset(s):  # where the tool is relative to the object's bottom centre, right now
        return s.tcp_pose()[0] - s.object_position(name) + [0, 0, s.object(name).size / 2]

    def over(s):
        goal = destination(s)
        return goal + offset(s) * [1, 1, 0] + [0, 0, max(0.16, goal[2] + 0.12) - goal[2]], None

    def down(s):
        return destination(s) + offset(s) + [0, 0, 0.006], None

    def up(s):
        return s.tcp_pose()[0] + [0, 0, 0.08], None

    return [
        Waypoint(over, 1.0, tolerance=0.006),
        Waypoint(down, 1.0, tolerance=0.003, speed=0.08),
        Waypoint(lambda s: (s.tcp_pose()[0], None), 0.0, tolerance=1.0, hold=5),
        Waypoint(up, 0.0, tolerance=0.02),
    ]


def push_waypoints(sim: TabletopSim, name: str, direction: np.ndarray, short_travel: float | None) -> list[Waypoint]:
    """Push `name` from behind so it travels PUSH_STROKE - PUSH_RUN_UP along `direction`.

    With `short_travel`, the first stroke stops after the object has moved that far and the tool lifts
    away, as the learned policies of sessions 20-22 did (pushed_short); those two waypoints are marked
    target=False. Then, as a target, the tool goes back behind where the object *is* and strokes again
    to where the full push would have ended: the end is fixed from the start, so the second stroke
    finishes the same push instead of starting a new one.
    """
    size = sim.object(name).size

    def behind(s):  # the stroke's start: the run-up behind the object's near side, just above the table
        return s.object_position(name) * [1, 1, 0] - direction * (size / 2 + PUSH_RUN_UP) + [0, 0, 0.02]

    start = behind(sim)
    end = start + direction * PUSH_STROKE

    def lift(s):
        return s.tcp_pose()[0] + [0, 0, 0.08] - direction * 0.02, None

    approach = [
        Waypoint(lambda s: (start + [0, 0, 0.1], 0.0), 1.0, tolerance=0.01),
        Waypoint(lambda s: (start, 0.0), 1.0, tolerance=0.004, speed=0.1),
    ]
    finish = [Waypoint(lambda s: (end, 0.0), 1.0, tolerance=0.006, speed=0.08), Waypoint(lift, 1.0, tolerance=0.02)]
    if short_travel is None:
        return approach + finish
    cut = start + direction * (PUSH_RUN_UP + short_travel)
    again = [  # read when active: the object's place after the short stroke
        Waypoint(lambda s: (behind(s) + [0, 0, 0.1], 0.0), 1.0, tolerance=0.01),
        Waypoint(lambda s: (behind(s), 0.0), 1.0, tolerance=0.004, speed=0.1),
    ]
    mistake = [
        Waypoint(lambda s: (cut, 0.0), 1.0, tolerance=0.006, speed=0.08, target=False),
        Waypoint(lift, 1.0, tolerance=0.02, target=False),
    ]
    return approach + mistake + again + finish


def short_push_travel(seed: int) -> float:
    """How far episode `seed`'s deliberately short first push moves the object (its own seed stream)."""
    return float(np.random.default_rng([seed, SHORT_PUSH_STREAM, 1]).uniform(*SHORT_PUSH_TRAVEL))


def plan(sim: TabletopSim, miss: MissedGrasp | None = None, short_push: float | None = None) -> list[Waypoint]:
    """The task's waypoints; with `miss`, its grasp first misses as `miss` says and is retried; with
    `short_push` (m), a push first stops after moving the object that far and is taken up again."""
    task = sim.task
    target = task.target
    size = sim.object(target).size
    if task.name in ("pick", "pick_attribute"):
        return pick_waypoints(sim, target, lift_to=sim.object_position(target)[2] + 0.1, miss=miss)
    carry = pick_waypoints(sim, target, lift_to=0.16, miss=miss)
    if task.name == "place_on_tile":
        tile = np.array([*task.layout.tiles[task.reference], 0.0])
        return carry + place_waypoints(sim, target, lambda s: tile)
    if task.name == "place_on":
        reference = sim.object(task.reference)
        return carry + place_waypoints(
            sim, target, lambda s: s.object_position(task.reference) + [0, 0, reference.size / 2]
        )
    if task.name == "move_near":
        start, other = sim.object_position(target), sim.object_position(task.reference)
        away = (start - other) * [1, 1, 0]
        gap = max(0.07, 0.71 * (size + sim.object(task.reference).size) + 0.01)
        spot = other * [1, 1, 0] + gap * away / np.linalg.norm(away)
        return carry + place_waypoints(sim, target, lambda s: spot)
    if task.name == "push":
        direction = np.array([0.0, PUSH_DIRECTIONS[task.reference], 0.0])
        return push_waypoints(sim, target, direction, short_push)
    raise ValueError(f"the expert has no plan for task {task.name!r}")


def twist_towards(sim: TabletopSim, position: np.ndarray, yaw: float, speed: float) -> np.ndarray:
    """Proportional twist toward the pose (tool down, turned by yaw about the base z axis), capped in speed."""
    p, r = sim.tcp_pose()
    linear = GAIN * (position - p)
    linear *= min(1.0, speed / max(np.linalg.norm(linear), 1e-9))
    angular = GAIN * orientation_error(tool_rotation(yaw), r)
    angular *= min(1.0, MAX_ANGULAR / max(np.linalg.norm(angular), 1e-9))
    return np.concatenate([linear, angular])


class MotionNoise:
    """Slowly varying noise added to the twist the expert *executes*, never to the action it records.

    This is DART (Laskey et al., 2017): the recorded episodes then include states a little off the
    expert's path together with the correcting action, which is what a learned policy needs when its
    own small errors take it there. First-order low-pass of white noise, so it pushes for several
    steps (white noise at 10 Hz would average out before it moved the arm anywhere).
    """

    def __init__(self, std: float, seed: int, correlation: float = 0.8) -> None:
        self.std, self.correlation = std, correlation
        self.rng = np.random.default_rng([seed, 0xDA27])
        self.value = np.zeros(3)

    def __call__(self) -> np.ndarray:
        innovation = self.rng.normal(0.0, self.std * np.sqrt(1 - self.correlation**2), 3)
        self.value = self.correlation * self.value + innovation
        return self.value


def random_start(seed: int) -> tuple[np.ndarray, float]:
    """A start pose for episode `seed`: the tool over a random point of the workspace, above the objects.

    Episodes that all start at home teach a policy that a gripper away from home has its object
    just below it (the expert goes straight there), and a closed-loop policy then descends wherever
    it is. Starting some episodes elsewhere shows the gripper in every place with the object elsewhere.
    """
    rng = np.random.default_rng([seed, START_STREAM])
    position = np.array([rng.uniform(*WORKSPACE_X), rng.uniform(*WORKSPACE_Y), rng.uniform(*START_HEIGHT)])
    return position, float(rng.uniform(-np.pi / 4, np.pi / 4))


def run_expert(
    sim: TabletopSim,
    task: str,
    seed: int,
    render: bool = True,
    noise: float = 0.0,
    on_step: Callable[[TabletopSim], None] | None = None,
    from_random_start: bool = False,
    missed_grasps: float = 0.0,
    short_pushes: float = 0.0,
    max_steps: int | None = None,
) -> Episode:
    """Reset to (task, seed) and solve it; images are rendered for every step unless render=False.

    noise: standard deviation (m/s) of the DART perturbation of the executed linear twist; 0 = none.
    from_random_start: start with the tool over a random point of the table (random_start(seed))
    instead of at home.
    missed_grasps: the chance (drawn from the seed) that the first grasp closes on air and is retried
    (missed_grasp_waypoints); the mistake's step indices are in metadata["not_targets"].
    short_pushes: the chance (drawn from the seed) that a push's first stroke stops short and is taken
    up again (push_waypoints); its stop and lift are in metadata["not_targets"]. Other tasks ignore it.
    on_step: called with the sim at every recorded step, before its action is applied (what the
    step's image shows); rt2_ros.data.plan_points reads the scene there when replaying episodes.
    max_steps: record only the first max_steps steps and stop there, unfinished (no terminate step,
    success False, metadata["truncated"] = max_steps): many scenes' first frames at one step's cost each.
    """
    for name, rate in (("missed_grasps", missed_grasps), ("short_pushes", short_pushes)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} is a fraction of episodes, 0..1; got {rate}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1; got {max_steps}")
    instance = sim.reset(task, seed, arm_start=random_start(seed) if from_random_start else None)
    missed = np.random.default_rng([seed, MISS_STREAM]).uniform() < missed_grasps
    short = np.random.default_rng([seed, SHORT_PUSH_STREAM]).uniform() < short_pushes
    waypoints = plan(sim, MissedGrasp.draw(seed) if missed else None, short_push_travel(seed) if short else None)
    period = 1.0 / sim.control_rate_hz
    perturb = MotionNoise(noise, seed) if noise > 0 else None
    steps: list[Step] = []
    not_targets: list[int] = []
    index, held, yaw, goal = 0, 0, 0.0, None
    limit = MAX_STEPS - 1 if max_steps is None else min(max_steps, MAX_STEPS - 1)
    while index < len(waypoints) and len(steps) < limit:
        waypoint = waypoints[index]
        if goal is None:  # read a waypoint's goal once, when it becomes active
            goal, new_yaw = waypoint.pose(sim)
            yaw = yaw if new_yaw is None else new_yaw  # None: keep the orientation it has
        twist = twist_towards(sim, goal, yaw, waypoint.speed)
        if on_step is not None:
            on_step(sim)
        images = sim.images() if render else {}
        if not waypoint.target:
            not_targets.append(len(steps))
        steps.append(
            Step(images=images, instruction=instance.instruction, action=np.append(twist * period, waypoint.gripper))
        )
        if max_steps is not None and len(steps) == limit:
            break  # nothing after the last recorded step is ever seen
        if perturb is not None:
            twist = twist + np.concatenate([perturb(), np.zeros(3)])
        sim.command_twist(twist)
        sim.command_gripper(waypoint.gripper)
        sim.step_control()
        position, rotation = sim.tcp_pose()
        turned = np.linalg.norm(orientation_error(tool_rotation(yaw), rotation)) < 0.03
        if np.linalg.norm(position - goal) < waypoint.tolerance and turned:
            held += 1
            if held > waypoint.hold:
                index, held, goal = index + 1, 0, None
    truncated = max_steps is not None and len(steps) == limit
    if not truncated:
        if on_step is not None:
            on_step(sim)
        steps.append(
            Step(
                images=sim.images() if render else {},
                instruction=instance.instruction,
                action=np.append(np.zeros(6), sim.gripper_command),
                terminate=True,
            )
        )
    return Episode(
        steps=steps,
        robot=sim.robot,
        task=task,
        seed=seed,
        success=False if truncated else sim.success(),
        instruction=instance.instruction,
        control_rate_hz=sim.control_rate_hz,
        metadata={
            "expert": "scripted",
            "task": instance.describe(),
            "noise": noise,
            "random_start": from_random_start,
            "missed_grasps": missed_grasps,
            "short_pushes": short_pushes,
            "not_targets": not_targets,
        }
        | ({"truncated": max_steps} if truncated else {}),
    )
