"""The goal an instruction names, read as a pointing question would ask for it, for every sim phrasing."""

import numpy as np

from rt2_ros.data.pointing import tile_name
from rt2_ros.instruction_phrases import goal_name, object_name
from rt2_ros.sim.tasks import TEMPLATES, sample_task, tile_phrase


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


def test_every_sim_phrasing_names_its_object_as_the_scene_does():
    """The object phrase ends before a goal, a direction or a second clause ("... up off the table")."""
    fields = {"target": "purple cylinder", "reference": "blue cube", "tile": "the number 3 tile"}
    for task, templates in TEMPLATES.items():
        for template in templates if task != "pick_attribute" else ():
            for direction in ("left", "right", "front", "back"):
                instruction = template.format(direction=direction, **fields)
                assert object_name(instruction) == "purple cylinder", instruction
    for seed in range(100):
        for task in ("pick", "move_near", "place_on", "place_on_tile", "push"):
            instance = sample_task(task, seed)
            assert object_name(instance.instruction) == instance.target, instance.instruction
    assert object_name("Push the purple cylinder rightwards.") == "purple cylinder"
    assert object_name("grab the tiniest object") == "tiniest object"
    assert object_name("take the red cup from the shelf and put it in the bin") == "red cup"
    assert object_name("") is None and object_name("move left") is None
