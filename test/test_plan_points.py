"""rt2 plans: point plans for every stored step, by a replay that must match the stored episode."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rt2_ros.data.collect import collect
from rt2_ros.data.dataset import DatasetError, iter_episodes, read_info
from rt2_ros.data.plan_points import below_text, main, plan_points, plan_text, plans_path, read_plans, with_offsets
from rt2_ros.data.pointing import loc_text
from rt2_ros.sim import TabletopSim
from rt2_ros.sim.expert import run_expert


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("plans") / "robot"
    collect(out, ["pick", "place_on_tile"], 1, size=32, noise=0.02, progress=False)
    return out


def test_every_step_gets_the_points_its_image_shows(dataset):
    assert main([str(dataset)]) == 0
    episodes = list(iter_episodes(dataset))
    table = pq.read_table(plans_path(dataset, "scene")).to_pydict()
    assert len(table["plan"]) == read_info(dataset)["num_steps"] == sum(len(e.steps) for e in episodes)
    for index, episode in enumerate(episodes):
        plans = read_plans(dataset, "scene", np.full(len(episode.steps), index), np.arange(len(episode.steps)))
        target = episode.metadata["task"]["target"]
        assert all(p.startswith(f"{target}<loc") and " gripper<loc" in p for p in plans)
        assert all((" to<loc" in p) == (episode.task == "place_on_tile") for p in plans)
        # The first step shows the scene as reset: its points are the projections of the gripper and target.
        sim = TabletopSim("ur5e", cameras={"scene": (32, 32)})
        sim.reset(episode.task, episode.seed)
        gripper = loc_text(sim.project(sim.tcp_pose()[0]), 32, 32)
        assert plans[0].startswith(
            f"{target}{loc_text(sim.project(sim.object_position(target)), 32, 32)} gripper{gripper}"
        )
        assert plans[0] != plans[-1], "the points must follow the arm through the episode"


def test_offsets_say_where_the_object_is_from_the_gripper_and_the_goal_from_the_object(dataset):
    if not plans_path(dataset, "scene").exists():
        assert main([str(dataset)]) == 0
    for index, episode in enumerate(iter_episodes(dataset)):
        plans = read_plans(dataset, "scene", np.full(len(episode.steps), index), np.arange(len(episode.steps)))
        for plan in plans:
            extended = with_offsets(plan)
            assert extended.startswith(plan + " reach<loc")
            points = plan_points(extended)
            assert np.array_equal(points["reach"], points["object"] - points["gripper"] + 512)
            if episode.task == "place_on_tile":
                assert np.array_equal(points["move"], points["goal"] - points["object"] + 512)
            else:
                assert "move" not in points
    belows = read_plans(dataset, "scene", np.zeros(3, int), np.arange(3), column="below")
    assert all(b.startswith("below<loc") for b in belows)
    # Far apart: the offset stops at the image's edge instead of wrapping or writing <loc-040>.
    far = plan_points(with_offsets("red cube<loc1000><loc0010> gripper<loc0100><loc1000>"))
    assert far["reach"].tolist() == [1023, 0]


def test_below_offsets_are_centred_only_when_the_tool_is_over_the_object():
    sim = TabletopSim("ur5e", cameras={"scene": (96, 96)})
    target = sim.reset("pick", 1000001).target
    above = sim.object_position(target) + [0, 0, 0.10]
    sim.pose_arm(above)
    below = plan_points(with_offsets(plan_text(sim), "below", below_text(sim)))
    image_only = plan_points(with_offsets(plan_text(sim), "gripper"))
    assert np.abs(below["reach"] - 512).max() <= 4, "10 cm straight above: no sideways offset"
    assert np.abs(image_only["reach"] - 512).max() > 50, "the gripper's own image point is far from the object's"
    assert below["drop"][0] > 512 + 50, "the point below is lower in the image than the gripper"
    sim.pose_arm(above + [0.03, 0, -0.06])  # in front and lower: nearer the object's pixel, not over it
    assert np.abs(plan_points(with_offsets(plan_text(sim), "below", below_text(sim)))["reach"] - 512).max() > 20


def test_a_replay_that_differs_from_the_stored_episode_writes_no_plans(dataset, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    plans_path(copy, "scene").unlink(missing_ok=True)
    episodes = pq.read_table(copy / "meta/episodes.parquet").to_pydict()
    episodes["seed"] = [s + 1 for s in episodes["seed"]]  # claims another seed than its images show
    pq.write_table(pa.table(episodes), copy / "meta/episodes.parquet")
    assert main([str(copy)]) == 2
    assert "does not give its stored actions" in capsys.readouterr().err
    assert not plans_path(copy, "scene").exists()
    with pytest.raises(DatasetError, match="rt2 plans"):
        read_plans(copy, "scene", np.array([0]), np.array([0]))


def test_random_start_episodes_begin_over_the_table_and_replay_into_plans(tmp_path):
    from rt2_ros.sim.expert import random_start

    out = tmp_path / "robot"
    collect(out, ["pick"], 2, size=32, noise=0.02, random_starts=True, progress=False)
    assert main([str(out)]) == 0
    sim = TabletopSim("ur5e", cameras={"scene": (32, 32)})
    sim.reset("pick", 0)
    home = loc_text(sim.project(sim.tcp_pose()[0]), 32, 32)
    starts = set()
    for index, episode in enumerate(iter_episodes(out)):
        assert episode.success and episode.metadata["random_start"]
        plan = read_plans(out, "scene", np.array([index]), np.array([0]))[0]
        sim.reset(episode.task, episode.seed, arm_start=random_start(episode.seed))
        start = loc_text(sim.project(sim.tcp_pose()[0]), 32, 32)
        # The plan's gripper point is the random start's, not home's: the replay started where the images did.
        assert plan.endswith(f"gripper{start}")
        starts.add(start)
    assert home not in starts and len(starts) == 2


def test_below_goal_offsets_reach_zero_when_the_carried_object_is_over_its_goal():
    sim = TabletopSim("ur5e", cameras={"scene": (96, 96)})
    offsets = []

    def record(s):
        plan = plan_text(s)
        offsets.append(
            (
                plan_points(with_offsets(plan, "below", below_text(s))),
                plan_points(with_offsets(plan, "below-goal", below_text(s, goal_height=True))),
            )
        )

    episode = run_expert(sim, "place_on", 7, render=False, on_step=record)
    assert episode.success
    gripper = np.array([step.action[6] for step in episode.steps])
    close = int(np.argmax(gripper > 0.5))
    release = close + int(np.argmax(gripper[close:] < 0.5))  # its image shows the cube set down on its goal
    for below, below_goal in offsets[: close + 1]:
        assert np.array_equal(below["below"], below_goal["below"]), "before the grasp both styles agree"
    below, below_goal = offsets[release]
    assert np.abs(below_goal["move"] - 512).max() <= 4, "set down on its goal: no offset left to move"
    assert np.abs(below["move"] - 512).max() > 30, "from the raised cube's point the goal still looks far"
    carried = offsets[close + 5 : release - 5]
    assert max(abs(b["drop"][0] - 512) for b, _ in carried) < 16, "'below' says nothing of the carrying height"
    assert max(g["drop"][0] - 512 for _, g in carried) > 100, "'below-goal' says how high above the goal it is"


def test_a_push_plan_holds_where_the_push_leaves_its_object_from_start_to_end():
    """The one point a mid-push image cannot show: how far the object still has to go."""
    sim = TabletopSim("ur5e", cameras={"scene": (96, 96)})
    goals = []
    episode = run_expert(sim, "push", 1000024, render=False, on_step=lambda s: goals.append(plan_points(plan_text(s))))
    assert episode.success
    assert len({tuple(points["goal"]) for points in goals}) == 1, "the same goal on every step, moved object or not"
    first, last = goals[0], goals[-1]
    assert np.abs(first["goal"] - first["object"]).max() > 60, "at the start the goal is well ahead of the object"
    assert np.abs(last["goal"] - last["object"]).max() <= 16, "the pushed object ends on its goal"
    sim.close()


def test_training_plans_of_the_below_goal_style_read_the_below_goal_column(dataset):
    from rt2_ros.train_data import load_robot_steps

    if not plans_path(dataset, "scene").exists():
        assert main([str(dataset)]) == 0
    steps = load_robot_steps([dataset], plans=True, plan_offsets="below-goal", val_every=0)
    columns = ["episode_index", "step_index", "plan"]
    rows = steps.train.select_columns(columns).to_list() + steps.val.select_columns(columns).to_list()
    episodes, indices = [r["episode_index"] for r in rows], [r["step_index"] for r in rows]
    wanted = read_plans(dataset, "scene", episodes, indices, "below_goal")
    assert all(f" {below} " in row["plan"] for row, below in zip(rows, wanted, strict=True))
    assert any(" move<loc" in row["plan"] for row in rows), "place_on_tile's plans measure the goal"
    assert wanted != read_plans(dataset, "scene", episodes, indices, "below"), "carrying to the tile, they differ"
