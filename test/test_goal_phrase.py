"""The goal an instruction names, read as a pointing question would ask for it, for every sim phrasing."""

import numpy as np

from rt2_ros.data.pointing import tile_name
from rt2_ros.goal_phrase import goal_name
from rt2_ros.sim.tasks import sample_task, tile_phrase


def test_every_sim_phrasing_of_a_goal_is_read_as_its_name():
    for seed in range(60):
        for task in ("place_on", "move_near"):
            instance = sample_task(task, seed)
            assert goal_name(instance.instruction) == instance.reference, instance.instruction
        instance = sample_task("place_on_tile", seed)
        name = goal_name(instance.instruction)
        # The tile as a pointing question names it (rt2_ros.data.pointing.tile_point_questions).
        assert name in {tile_name(tile_phrase(instance.reference, np.random.default_rng(k))) for k in range(20)}, (
            instance.instruction
        )


def test_instructions_without_a_goal_name_none():
    for seed in range(20):
        assert goal_name(sample_task("pick", seed).instruction) is None
    assert goal_name("pick up the cube") is None
    assert goal_name("  Put the red cube ON the blue cylinder. ") == "blue cylinder"
    assert goal_name("") is None
