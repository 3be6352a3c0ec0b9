"""rt2 collect --missed-grasps, --short-pushes: the expert errs, then recovers; only the recovery is learned."""

import re

import numpy as np
import pytest

from rt2_ros.data.collect import collect
from rt2_ros.data.dataset import iter_episodes, read_episode_table
from rt2_ros.data.plan_points import main as plans
from rt2_ros.data.plan_points import read_plans
from rt2_ros.train_data import load_robot_steps

LOC_PER_PIXEL = 1024 / 32  # loc bins per pixel of the 32 px images


def locs(plan: str) -> list[np.ndarray]:
    """The plan's points in order (object, gripper, ...), each as (y, x) loc bins."""
    values = [int(v) for v in re.findall(r"<loc(\d{4})>", plan)]
    return [np.array(values[i : i + 2]) for i in range(0, len(values), 2)]


def test_a_missed_grasp_is_retried_and_only_the_retry_is_trained_on(tmp_path):
    out = tmp_path / "robot"
    collect(out, ["pick", "place_on"], 1, size=32, noise=0.02, missed_grasps=1.0, progress=False)
    assert plans([str(out)]) == 0, "the replay that writes plans makes the same mistakes"
    episodes = list(iter_episodes(out))
    for index, episode in enumerate(episodes):
        assert episode.success, "the retry still solves the task"
        mistake = episode.metadata["not_targets"]
        assert mistake == list(range(mistake[0], mistake[-1] + 1)) and len(mistake) > 5
        gripper = np.array([step.action[6] for step in episode.steps])
        assert gripper[mistake[0]] == 0 and gripper[mistake].max() == 1, "it closed during the mistake"
        assert gripper[mistake[-1]] == 1 and gripper[mistake[-1] + 1] == 0, "the first step after it reopens"
        assert gripper[mistake[-1] + 1 :].max() == 1, "and grasps again"
        # From the close to the reopen, the plans show the object staying put while the empty gripper rose.
        rows = np.array([mistake[int(np.argmax(gripper[mistake]))], mistake[-1]])
        first, last = (locs(plan) for plan in read_plans(out, "scene", np.full(2, index), rows))
        assert np.abs(first[0] - last[0]).max() < LOC_PER_PIXEL, "the object did not move"
        assert last[1][0] < first[1][0] - LOC_PER_PIXEL, "the gripper rose (up in the image)"
    marked = {(e["episode_index"], i) for e in read_episode_table(out) for i in e["metadata"]["not_targets"]}
    steps = load_robot_steps([out])  # two episodes: one trains, one validates
    pairs = {
        (e, i)
        for split in (steps.train, steps.val)
        for e, i in zip(split["episode_index"], split["step_index"], strict=True)
    }
    assert not pairs & marked, "no mistake is a training or validation target"
    assert len(pairs) == sum(len(e.steps) for e in episodes) - len(marked), "every other step is"


def test_a_rate_outside_0_to_1_is_refused(tmp_path):
    with pytest.raises(ValueError, match="0..1"):
        collect(tmp_path / "robot", ["pick"], 1, size=32, missed_grasps=1.5, progress=False)
    assert not (tmp_path / "robot" / "info.json").exists()


def test_without_missed_grasps_every_step_is_a_target(tmp_path):
    out = tmp_path / "robot"
    collect(out, ["pick"], 1, size=32, progress=False)
    (episode,) = iter_episodes(out)
    assert episode.metadata["not_targets"] == [] and episode.metadata["missed_grasps"] == 0
    assert len(load_robot_steps([out], val_every=0).train) == len(episode.steps)


def test_a_short_push_is_taken_up_again_and_only_the_second_stroke_is_trained_on(tmp_path):
    out = tmp_path / "robot"
    collect(out, ["push"], 2, size=32, noise=0.02, short_pushes=1.0, progress=False)
    assert plans([str(out)]) == 0, "the replay that writes plans stops short the same way"
    for index, episode in enumerate(iter_episodes(out)):
        assert episode.success, "the second stroke still pushes the object far enough"
        mistake = episode.metadata["not_targets"]
        assert mistake == list(range(mistake[0], mistake[-1] + 1)) and len(mistake) > 5
        # The object moved during the short stroke but stopped short of the 10 cm the task asks, and
        # the full push's 14 cm goal (the plan's `to` point) stayed where it was.
        rows = np.array([mistake[0], mistake[-1] + 1, len(episode.steps) - 1])
        before, after, end = (locs(plan) for plan in read_plans(out, "scene", np.full(3, index), rows))
        moved_short = np.abs(after[0] - before[0]).max()
        assert LOC_PER_PIXEL < moved_short, "the first stroke moved the object"
        assert moved_short < np.abs(end[0] - before[0]).max(), "the second stroke moved it further"
        assert np.array_equal(before[2], after[2]), "the goal is the full push's, before and after the stop"
    marked = {(e["episode_index"], i) for e in read_episode_table(out) for i in e["metadata"]["not_targets"]}
    steps = load_robot_steps([out])
    pairs = {
        (e, i)
        for split in (steps.train, steps.val)
        for e, i in zip(split["episode_index"], split["step_index"], strict=True)
    }
    assert marked and not pairs & marked, "the stop and the lift are never targets"


def test_short_pushes_leave_other_tasks_alone(tmp_path):
    out = tmp_path / "robot"
    collect(out, ["pick"], 1, size=32, short_pushes=1.0, progress=False)
    (episode,) = iter_episodes(out)
    assert episode.metadata["not_targets"] == [] and episode.metadata["short_pushes"] == 1.0
