"""Plans of points: where the gripper, the object and its goal are, written before each robot action.

A small VLA trained from scratch learns to act from the image only slowly: the action loss says
*that* the arm should move left, never *which* pixels showed why. Embodied chain of thought
(Zawalski et al., 2024) has the policy first write what it sees (the gripper's position, the
boxes of the objects involved) and then the action; the intermediate text is a dense grounding
target on every robot frame, and at inference the action is conditioned on it. Here a step's plan
is PaliGemma location tokens (the same `<locY><locX>` points as the sim's pointing questions):

    red cylinder<loc0700><loc0655> gripper<loc0412><loc0510> to<loc0650><loc0300>

`to` is where a carried object goes (the reference object or tile) or where a push leaves it, absent for
pick. Points follow their word without a space: the tokenizer would spend a token on each space.

Existing episode datasets get plans by replaying the expert without rendering (the sim is
deterministic, and each episode stores its task, seed and DART noise); the replayed actions must
equal the stored ones, so a plan never describes a different episode than the images show. The
plans go beside the steps in `meta/plans-<camera>.parquet` (episode_index, step_index, plan, below,
below_goal).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from rt2_ros.data.dataset import DatasetError, read_episode_table, read_info
from rt2_ros.data.pointing import loc_text

# Re-exported: the training data and the experiments read plans through this module.
from rt2_ros.plan_grammar import BELOW_COLUMNS, OFFSET_WORDS, plan_points, with_offsets  # noqa: F401

REPLAY_TOLERANCE = 1e-5  # stored actions are float32; a replay that differs by more is another episode
HOLDING_DISTANCE = 0.04  # m: a closed gripper this near the object's centre is carrying it


def plans_path(dataset: str | Path, camera: str) -> Path:
    return Path(dataset) / "meta" / f"plans-{camera}.parquet"


def _point(sim, position: np.ndarray, camera: str) -> str:
    height, width = sim.cameras.sizes[camera]
    pixel = np.clip(sim.project(position, camera), 0, [width - 1, height - 1])  # off-image: the nearest edge
    return loc_text(pixel, height, width)


def plan_text(sim, camera: str = "scene") -> str:
    """The plan for what `sim` shows now: task target, gripper and (for tasks that take it somewhere) goal."""
    task = sim.task
    # The object comes first: after the gripper's point, "the object is where the gripper is" would
    # be right on most frames (grasping, carrying) and the model learnt that instead of finding it.
    words = [f"{task.target}{_point(sim, sim.object_position(task.target), camera)}"]
    words.append(f"gripper{_point(sim, sim.tcp_pose()[0], camera)}")
    goal = goal_position(sim)
    if goal is not None:
        words.append(f"to{_point(sim, goal, camera)}")
    return " ".join(words)


def goal_position(sim) -> np.ndarray | None:
    """Where the task takes its object (the plan's `to` point): the reference object or tile, or where the
    expert's push leaves it; None for pick.

    Why push has one: nothing in a mid-push image says where the object started, and success is measured
    from there. Without a goal, session 21's model moved a cube 5 cm of the 10 needed and lifted away (push
    seed 1000024), and its 3 push failures on fresh seeds all started within 2 cm of the table's middle. The
    goal, written in the first plan and held (plan_hold "goal"), carries the start through the episode."""
    from rt2_ros.sim.expert import PUSH_RUN_UP, PUSH_STROKE
    from rt2_ros.sim.tasks import PUSH_DIRECTIONS

    task = sim.task
    if task.name in ("place_on", "move_near"):
        return sim.object_position(task.reference)
    if task.name == "place_on_tile":
        return np.array([*task.layout.tiles[task.reference], 0.0])
    if task.name == "push":
        direction = np.array([0.0, PUSH_DIRECTIONS[task.reference], 0.0])
        return task.start_positions[task.target] + direction * (PUSH_STROKE - PUSH_RUN_UP)
    return None


def holds_target(sim) -> bool:
    """The gripper was last told to close and its tool is at the task's object: it is carrying it."""
    tool = sim.tcp_pose()[0]
    return sim.gripper_command > 0.5 and np.linalg.norm(tool - sim.object_position(sim.task.target)) < HOLDING_DISTANCE


def below_text(sim, camera: str = "scene", goal_height: bool = False) -> str:
    """`below<loc><loc>`: where the tool would be if lowered straight down to the named object's height.

    Why: one camera sees the tool 6 cm above and 3 cm in front of an object at the same pixel as
    the object itself (session 8: a model fed the true plan closed the gripper there, in mid-air).
    Against this point the object's offset is zero only when the tool is truly over it.

    goal_height: while the object is carried to a goal, lower to the goal's height instead. Why:
    the carried object is at the tool, so "below at the object's height" is the tool's own point and
    the plan says nothing of how high the tool is; session 12's traces show a model fed such true
    plans lifting a grasped cube for ever instead of carrying it over its goal.
    """
    tool = sim.tcp_pose()[0]
    goal = goal_position(sim) if goal_height else None
    height = goal[2] if goal is not None and holds_target(sim) else sim.object_position(sim.task.target)[2]
    return f"below{_point(sim, np.array([tool[0], tool[1], height]), camera)}"


def _stored_actions(dataset: Path) -> dict[int, np.ndarray]:
    chunks = [
        pq.read_table(dataset / name, columns=["episode_index", "step_index", "action"])
        for name in read_info(dataset)["data_files"]
    ]
    table = pa.concat_tables(chunks).to_pydict()
    order = np.lexsort((table["step_index"], table["episode_index"]))
    episodes = np.asarray(table["episode_index"])[order]
    actions = np.asarray(table["action"], dtype=np.float32)[order]
    return {int(e): actions[episodes == e] for e in np.unique(episodes)}


def annotate(dataset: str | Path, camera: str = "scene", progress: bool = True) -> Path:
    """Replay every episode of `dataset` and write its plans; returns the plans file."""
    from rt2_ros.sim import TabletopSim
    from rt2_ros.sim.expert import run_expert

    dataset = Path(dataset)
    info = read_info(dataset)
    if camera not in info["image_shapes"]:
        raise DatasetError(f"{dataset} has cameras {sorted(info['image_shapes'])}, not {camera!r}")
    height, width = info["image_shapes"][camera][:2]
    stored = _stored_actions(dataset)
    sims: dict[str, TabletopSim] = {}
    rows: dict[str, list] = {"episode_index": [], "step_index": [], "plan": [], "below": [], "below_goal": []}
    # In a log file (nohup), a bar redrawn every episode would bury everything else.
    interval = 0.1 if sys.stderr.isatty() else 30
    episodes = read_episode_table(dataset)
    for episode in tqdm(episodes, desc="plans", unit="ep", disable=not progress, mininterval=interval):
        robot = episode["robot"]
        if robot not in sims:
            sims[robot] = TabletopSim(robot, cameras={camera: (height, width)})
        plans: list[str] = []
        belows: list[str] = []
        goal_belows: list[str] = []

        def record(sim, plans=plans, belows=belows, goal_belows=goal_belows) -> None:
            plans.append(plan_text(sim, camera))
            belows.append(below_text(sim, camera))
            goal_belows.append(below_text(sim, camera, goal_height=True))

        replayed = run_expert(
            sims[robot],
            episode["task"],
            int(episode["seed"]),
            render=False,
            noise=float(episode["metadata"].get("noise", 0.0)),
            from_random_start=bool(episode["metadata"].get("random_start", False)),
            missed_grasps=float(episode["metadata"].get("missed_grasps", 0.0)),
            short_pushes=float(episode["metadata"].get("short_pushes", 0.0)),
            max_steps=episode["metadata"].get("truncated"),
            on_step=lambda sim, record=record: record(sim),
        )
        actions = np.stack([step.action for step in replayed.steps])
        expected = stored.get(int(episode["episode_index"]))
        if expected is None or expected.shape != actions.shape or np.abs(expected - actions).max() > REPLAY_TOLERANCE:
            raise DatasetError(
                f"replaying episode {episode['episode_index']} ({episode['task']}, seed {episode['seed']}) of "
                f"{dataset} does not give its stored actions; it was collected with another sim or expert, so "
                f"plans cannot be made for it"
            )
        rows["episode_index"] += [int(episode["episode_index"])] * len(plans)
        rows["step_index"] += list(range(len(plans)))
        rows["plan"] += plans
        rows["below"] += belows
        rows["below_goal"] += goal_belows
    out = plans_path(dataset, camera)
    pq.write_table(pa.table(rows), out)
    return out


def read_plans(
    dataset: str | Path, camera: str, episode_index: np.ndarray, step_index: np.ndarray, column: str = "plan"
) -> list[str]:
    """The plan (or `below` point) of each (episode, step) given, in that order; a clear error if missing."""
    path = plans_path(dataset, camera)
    if not path.is_file():
        raise DatasetError(f"{dataset} has no plans for camera {camera!r}; make them with `rt2 plans {dataset}`")
    table = pq.read_table(path).to_pydict()
    if column not in table:
        raise DatasetError(f"{path} has no {column!r} column (older rt2 plans); make it again: `rt2 plans {dataset}`")
    lookup = {(e, s): p for e, s, p in zip(table["episode_index"], table["step_index"], table[column], strict=True)}
    missing = [(int(e), int(s)) for e, s in zip(episode_index, step_index, strict=True) if (e, s) not in lookup]
    if missing:
        raise DatasetError(f"{path} lacks plans for {len(missing)} steps, e.g. (episode, step) {missing[0]}")
    return [lookup[(int(e), int(s))] for e, s in zip(episode_index, step_index, strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rt2 plans", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("datasets", nargs="+", help="episode dataset folders (rt2 collect)")
    parser.add_argument("--camera", default="scene", help="the camera whose pixels the points are in")
    args = parser.parse_args(argv)
    try:
        for dataset in args.datasets:
            print(f"wrote {annotate(dataset, args.camera)}")
    except DatasetError as error:
        print(f"rt2 plans: {error}", file=sys.stderr)
        return 2
    return 0
