"""rt2 collect --steps-per-episode: many scenes' first frames, each kept unfinished and trained on."""

import numpy as np
import pytest

from rt2_ros.data.collect import collect
from rt2_ros.data.dataset import iter_episodes
from rt2_ros.data.plan_points import main as plans
from rt2_ros.data.plan_points import read_plans
from rt2_ros.sim import TabletopSim
from rt2_ros.sim.expert import run_expert
from rt2_ros.train_data import load_robot_steps


def test_first_steps_are_the_full_episodes_first_steps_and_are_trained_on(tmp_path):
    out = tmp_path / "first"
    collect(out, ["pick", "push"], 3, size=32, random_starts=True, steps_per_episode=1, progress=False)
    episodes = list(iter_episodes(out))
    assert len(episodes) == 6 and all(len(e.steps) == 1 and e.metadata["truncated"] == 1 for e in episodes)
    assert not any(e.success or e.steps[0].terminate for e in episodes), "unfinished, and not claimed to succeed"
    sim = TabletopSim("ur5e", cameras={"scene": (32, 32)})
    for episode in episodes[:: len(episodes) - 1]:  # one pick, one push
        full = run_expert(sim, episode.task, episode.seed, from_random_start=True)
        np.testing.assert_array_equal(episode.steps[0].action, full.steps[0].action)
        np.testing.assert_array_equal(episode.steps[0].images["scene"], full.steps[0].images["scene"])
    sim.close()

    assert plans([str(out)]) == 0, "the replay stops where the collection did"
    written = read_plans(out, "scene", np.arange(6), np.zeros(6, dtype=int))
    # Object and gripper points, and for push where it leaves the object.
    assert [plan.count("<loc") for plan in written] == [4, 4, 4, 6, 6, 6]
    # Push's first step closes the gripper: a "gripper change" that --gripper-change-repeat would
    # otherwise repeat in every one-step push episode.
    steps = load_robot_steps([out], val_every=3, plans=True, gripper_change_repeat=8)
    assert sorted(steps.train["episode_index"]) == [0, 1, 3, 4] and sorted(steps.val["episode_index"]) == [2, 5]


def test_steps_per_episode_below_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        collect(tmp_path / "first", ["pick"], 1, size=32, steps_per_episode=0, progress=False)
    assert not (tmp_path / "first" / "info.json").exists()
