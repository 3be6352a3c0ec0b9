"""Sim VQA: answers true of the rendered scene, several phrasings, held-out things included; any HF
(image, question, answer) dataset loads too."""

import re

import datasets
import numpy as np
import pytest

from rt2_ros.data import splits
from rt2_ros.data.vqa import DEFAULT_KINDS, KINDS, PHRASES, generate_sim_vqa, load_vqa, write_vqa


@pytest.fixture(scope="module")
def examples():
    return list(generate_sim_vqa(60, size=32))


def test_every_kind_with_several_phrasings_and_held_out_things(examples):
    kinds = {e.kind for e in examples}
    # Tiles, and objects by attribute, are pointed at only when asked for.
    assert kinds == set(DEFAULT_KINDS) == set(KINDS) - {"point_tile", "point_attribute", "tile_glimpse"}
    for kind in DEFAULT_KINDS:
        assert len(PHRASES[kind]) >= 3
        patterns = [re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(t)) + "$") for t in PHRASES[kind]]
        used = {next(i for i, p in enumerate(patterns) if p.match(e.question)) for e in examples if e.kind == kind}
        assert len(used) >= 2, kind
    text = " ".join(e.question + " " + e.answer for e in examples)
    assert any(c in text for c in splits.HELD_OUT_COLOURS)
    assert any(e.answer in splits.HELD_OUT_TABLES for e in examples if e.kind == "table")
    assert all(e.image.shape == (32, 32, 3) for e in examples)


def test_answers_match_the_scene():
    from rt2_ros.data.vqa import questions_for_scene
    from rt2_ros.sim import TabletopSim

    sim = TabletopSim("ur5e", cameras={"scene": (32, 32)})
    rng = np.random.default_rng(0)
    for seed in range(10):
        sim.reset("pick", 2_000_000 + seed)
        objects = sim.task.layout.objects
        for kind, question, answer in questions_for_scene(sim, rng, None):
            if kind == "shape":
                assert answer == next(o.shape for o in objects if o.colour in question)
            if kind == "count" and "objects" in question:
                assert answer == ("zero one two three four five".split())[len(objects)]
            if kind == "extreme":
                sizes = sorted(objects, key=lambda o: o.size)
                assert answer == (sizes[-1] if "largest" in question else sizes[0]).name
            if kind == "table":
                assert answer == sim.task.layout.table
    sim.close()


def test_point_only_data_asks_with_the_arm_at_home_too():
    from rt2_ros.data.pointing import loc_text
    from rt2_ros.sim import TabletopSim
    from rt2_ros.sim.tasks import task_names

    point_only = list(generate_sim_vqa(4, size=32, kinds=("point",), home_pointing=True))
    assert point_only and {e.kind for e in point_only} == {"point"}
    # The first questions of each scene are asked on its reset image: the arm at home, where every
    # robot episode starts, and the answer is where the sim puts the named object in that image.
    sim = TabletopSim("ur5e", cameras={"scene": (32, 32)})
    sim.reset(task_names()[2_000_000 % len(task_names())], 2_000_000)  # the first scene, as generate_sim_vqa lays it
    home = sim.render("scene")
    at_home = [e for e in point_only if np.array_equal(e.image, home)]
    objects = [e for e in at_home if "gripper" not in e.question]
    assert objects, "no object was pointed at with the arm at home"
    for example in objects:
        name = next(o.name for o in sim.task.layout.objects if o.name in example.question)
        assert example.answer == loc_text(sim.project(sim.object_position(name), "scene"), 32, 32)
    sim.close()
    with pytest.raises(ValueError, match="unknown question kinds"):
        next(generate_sim_vqa(1, size=32, kinds=("colour", "smell")))


def test_tile_pointing_is_asked_for_by_name_on_tiled_layouts():
    from rt2_ros.sim.tasks import sample_task

    tiles = list(generate_sim_vqa(3, size=32, kinds=("point_tile",), tasks=("place_on_tile",)))
    assert {e.kind for e in tiles} == {"point_tile"}
    # Every tile of every scene, once on the arm-at-home image (an episode's first frame) and once with the arm moved.
    assert len(tiles) == 2 * sum(len(sample_task("place_on_tile", 2_000_000 + k).layout.tiles) for k in range(3))
    assert len({e.image.tobytes() for e in tiles}) == 6
    with pytest.raises(ValueError, match="unknown tasks"):
        next(generate_sim_vqa(1, size=32, tasks=("juggle",)))


def test_write_load_round_trip_and_any_hf_dataset(tmp_path, examples):
    data = load_vqa(write_vqa(iter(examples[:20]), tmp_path / "vqa"))
    assert len(data) == 20 and data[3]["question"] == examples[3].question and data[3]["answer"] == examples[3].answer
    assert np.array_equal(np.asarray(data[3]["image"]), examples[3].image)
    # Another dataset's layout: other column names, a list of answers, loaded by path.
    other = datasets.Dataset.from_dict(
        {"picture": [{"bytes": None, "path": None}] * 0 or [e.image for e in examples[:4]],
         "q": [e.question for e in examples[:4]], "answers": [[e.answer, "x"] for e in examples[:4]]},
        features=datasets.Features(picture=datasets.Image(), q=datasets.Value("string"),
                                   answers=datasets.Sequence(datasets.Value("string"))),
    )  # fmt: skip
    (tmp_path / "other/data").mkdir(parents=True)
    other.to_parquet(str(tmp_path / "other/data/train-00000-of-00001.parquet"))
    loaded = load_vqa(tmp_path / "other", image_column="picture", question_column="q", answer_column="answers")
    assert loaded[1]["answer"] == examples[1].answer and loaded[1]["question"] == examples[1].question
    with pytest.raises(ValueError, match="lacks columns"):
        load_vqa(tmp_path / "other")


def test_attribute_pointing_is_asked_for_by_name_of_the_right_object():
    from rt2_ros.data.pointing import loc_text
    from rt2_ros.sim import TabletopSim
    from rt2_ros.sim.tasks import ATTRIBUTE_PHRASES

    examples = list(generate_sim_vqa(4, size=32, kinds=("point_attribute",), tasks=("pick_attribute",)))
    assert {e.kind for e in examples} == {"point_attribute"}
    assert len({e.image.tobytes() for e in examples}) == 8  # the first frame and the arm moved, per scene
    sim = TabletopSim("ur5e", cameras={"scene": (32, 32)})
    asked = set()
    for scene in range(4):
        sim.reset("pick_attribute", 2_000_000 + scene)
        objects = sorted(sim.task.layout.objects, key=lambda o: o.size)
        truth = {p: objects[-1].name for p in ATTRIBUTE_PHRASES["largest"]}
        truth |= {p: objects[0].name for p in ATTRIBUTE_PHRASES["smallest"]}
        truth |= {p.format(colour=o.colour): o.name for o in objects for p in ATTRIBUTE_PHRASES["colour"]}
        first_frame = [e for e in examples if np.array_equal(e.image, sim.render("scene"))]
        assert first_frame
        for example in first_frame:
            phrase = next(p for p in sorted(truth, key=len, reverse=True) if f" {p} " in f" {example.question[:-1]} ")
            asked.add(phrase.split()[0])
            assert example.answer == loc_text(sim.project(sim.object_position(truth[phrase]), "scene"), 32, 32)
    sim.close()
    assert {"largest", "smallest", "biggest", "tiniest"} & asked
