"""The goal an instruction names, read as a pointing question would ask for it, for every sim phrasing."""

import numpy as np

from rt2_ros.data.pointing import tile_name
from rt2_ros.instruction_phrases import goal_name
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
    for seed in range(20):  # "push the cube to the left": a direction, not a thing a pointing question can find
        assert goal_name(sample_task("push", seed).instruction) is None


def test_an_object_named_by_attribute_is_read_as_pick_attribute_names_it():
    from rt2_ros.instruction_phrases import attribute_name
    from rt2_ros.sim.tasks import ATTRIBUTE_PHRASES

    kinds = set()
    for seed in range(60):
        instance = sample_task("pick_attribute", seed)
        colour = next(o.colour for o in instance.layout.objects if o.name == instance.target)
        phrases = {p.format(colour=colour): kind for kind, ps in ATTRIBUTE_PHRASES.items() for p in ps}
        kinds.add(phrases[attribute_name(instance.instruction)])  # a KeyError names the instruction misread
        for task in ("pick", "place_on", "move_near", "place_on_tile", "push"):  # named by shape: no attribute
            assert attribute_name(sample_task(task, seed).instruction) is None, sample_task(task, seed).instruction
    assert kinds == set(ATTRIBUTE_PHRASES)
    assert attribute_name("Grab the BIGGEST thing on the table!") == "biggest thing on the table"
    assert attribute_name("pick up the red one") == "red one" and attribute_name("") is None
