"""Tasks and the expert: it solves every task on fixed seeds, its episodes follow the conventions,
and the success checks reject near misses (state is set directly, or the expert is sent astray)."""

from __future__ import annotations

import numpy as np
import pytest

from rt2_ros.data.episode import Episode
from rt2_ros.sim import TabletopSim, task_names
from rt2_ros.sim.expert import pick_waypoints, run_expert
from rt2_ros.sim.scene import TILE_HALF
from rt2_ros.sim.tasks import PUSH_DIRECTIONS

FIXED_SEEDS = (0, 1)


@pytest.fixture(scope="module", params=["ur5e", "panda"])
def sim(request):
    sim = TabletopSim(request.param, cameras={})
    yield sim
    sim.close()


@pytest.mark.parametrize("task", task_names())
def test_expert_solves_each_task_on_fixed_seeds(sim, task):
    for seed in FIXED_SEEDS:
        episode = run_expert(sim, task, seed, render=False)
        assert episode.success, f"{sim.robot} {task} seed {seed}: {episode.instruction!r}"
        assert sim.success()


def test_expert_episode_follows_the_conventions():
    sim = TabletopSim("ur5e", cameras={"scene": (64, 64), "wrist": (48, 48)})
    episode = run_expert(sim, "place_on", 5)
    assert isinstance(episode, Episode)
    assert (episode.robot, episode.task, episode.seed, episode.success) == ("ur5e", "place_on", 5, True)
    assert episode.control_rate_hz == 10.0
    assert [s.terminate for s in episode.steps] == [False] * (len(episode.steps) - 1) + [True]
    assert all(s.instruction == episode.instruction for s in episode.steps)
    assert all(s.images["scene"].shape == (64, 64, 3) and s.images["wrist"].shape == (48, 48, 3) for s in episode.steps)
    actions = np.stack([s.action for s in episode.steps])
    assert actions.shape[1] == 7
    # Deltas per 0.1 s step in metres and radians, the gripper a 0..1 target that closes then opens.
    assert np.abs(actions[:, :3]).max() <= 0.015 + 1e-6
    assert np.abs(actions[:, 3:6]).max() <= 0.1 + 1e-6
    assert set(np.unique(actions[:, 6])) == {0.0, 1.0}
    assert actions[0, 6] == 0.0 and actions[len(actions) // 2, 6] == 1.0 and actions[-1, 6] == 0.0
    assert np.all(actions[-1, :6] == 0)
    # Replaying the recorded deltas as twists reproduces the episode: the actions are the whole story.
    sim.reset("place_on", 5)
    for step in episode.steps:
        sim.command_twist(step.action[:6] * episode.control_rate_hz)
        sim.command_gripper(step.action[6])
        sim.step_control()
    assert sim.success()
    sim.close()


def test_dart_noise_moves_the_arm_off_path_but_records_the_clean_correcting_action():
    sim = TabletopSim("ur5e", cameras={})
    clean = run_expert(sim, "pick", 3, render=False)
    noisy = run_expert(sim, "pick", 3, render=False, noise=0.02)
    assert clean.success and noisy.success and noisy.metadata["noise"] == 0.02
    # The executed motion was perturbed: the same plan took a different number of steps.
    assert len(noisy.steps) != len(clean.steps)
    noisy_again = run_expert(sim, "pick", 3, render=False, noise=0.02)
    assert len(noisy_again.steps) == len(noisy.steps)  # seeded: the same noise every time
    # The recorded actions are the expert's (its speed cap holds), not the perturbed motion.
    actions = np.stack([s.action for s in noisy.steps])
    assert np.linalg.norm(actions[:, :3], axis=1).max() <= 0.015 + 1e-6
    sim.close()


def test_pick_rejects_a_lift_that_is_too_low_and_an_object_that_is_not_held(sim):
    sim.reset("pick", 3)
    target = sim.task.target
    low = pick_waypoints(sim, target, lift_to=sim.object_position(target)[2] + 0.04)
    drive(sim, low)
    assert sim.touching_gripper(target) and not sim.success(), "held but lifted only 4 cm"
    sim.reset("pick", 3)
    sim.set_object_pose(target, sim.task.start_positions[target] + [0, 0, 0.08])
    assert not sim.success(), "high enough, but not held"


def test_pick_attribute_rejects_the_wrong_object(sim):
    sim.reset("pick_attribute", 2)
    wrong = next(o.name for o in sim.task.layout.objects if o.name != sim.task.target)
    drive(sim, pick_waypoints(sim, wrong, lift_to=sim.object_position(wrong)[2] + 0.1))
    assert sim.touching_gripper(wrong) and not sim.success()


def test_move_near_rejects_a_near_miss(sim):
    sim.reset("move_near", 0)
    target, reference = sim.task.target, sim.task.reference
    other = sim.object_position(reference)
    height = sim.object(target).size / 2
    sim.set_object_pose(target, other + [0.0, 0.12, 0.0] * np.array([1, 1, 0]) + [0, 0, height])
    assert not sim.success()
    sim.set_object_pose(target, other * [1, 1, 0] + [0.0, 0.08, height])
    assert sim.success()


def test_place_on_rejects_an_object_beside_or_hanging_off_the_other(sim):
    sim.reset("place_on", 1)
    top, bottom = sim.object(sim.task.target), sim.object(sim.task.reference)
    base = sim.object_position(sim.task.reference)
    stacked_z = base[2] + bottom.size / 2 + top.size / 2
    sim.set_object_pose(sim.task.target, [base[0], base[1] + bottom.size / 2 + 0.004, stacked_z])
    assert not sim.success(), "hanging over the edge"
    sim.set_object_pose(sim.task.target, [base[0], base[1] + bottom.size + 0.01, top.size / 2])
    assert not sim.success(), "beside it on the table"
    sim.set_object_pose(sim.task.target, [base[0], base[1], stacked_z])
    assert sim.success()


def test_place_on_tile_rejects_a_near_miss(sim):
    sim.reset("place_on_tile", 2)
    tile = np.array([*sim.task.layout.tiles[sim.task.reference], 0.0])
    height = sim.object(sim.task.target).size / 2
    sim.set_object_pose(sim.task.target, tile + [TILE_HALF + 0.005, 0, height])
    assert not sim.success()
    wrong_tile = next(xy for s, xy in sim.task.layout.tiles.items() if s != sim.task.reference)
    sim.set_object_pose(sim.task.target, [*wrong_tile, height])
    assert not sim.success()
    sim.set_object_pose(sim.task.target, tile + [0.01, -0.01, height])
    assert sim.success()


def test_push_rejects_too_short_or_the_wrong_way(sim):
    sim.reset("push", 4)
    start = sim.task.start_positions[sim.task.target]
    sign = PUSH_DIRECTIONS[sim.task.reference]
    for distance, expected in ((0.09, False), (-0.13, False), (0.13, True)):
        sim.set_object_pose(sim.task.target, start + [0, sign * distance, 0])
        assert sim.success() is expected, distance


def drive(sim: TabletopSim, waypoints) -> None:
    """Follow the expert's waypoints without recording (a custom plan: to miss on purpose)."""
    from rt2_ros.sim.expert import twist_towards

    for waypoint in waypoints:
        goal, yaw = waypoint.pose(sim)
        yaw = 0.0 if yaw is None else yaw
        for _ in range(60):
            sim.command_twist(twist_towards(sim, goal, yaw, waypoint.speed))
            sim.command_gripper(waypoint.gripper)
            sim.step_control()
            if np.linalg.norm(sim.tcp_pose()[0] - goal) < min(waypoint.tolerance, 0.01) and _ >= waypoint.hold:
                break
