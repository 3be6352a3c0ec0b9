"""Glimpses: a zoomed crop of a sharper image, read to find the goal tile (rt2_ros.glimpse, goal_glimpse_zoom)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import torch
from tiny_fit import CARRY_INSTRUCTION, IMAGE, fit_planner

from rt2_ros.data.vqa import generate_sim_vqa
from rt2_ros.glimpse import NO_TILE, crop_glimpse, distinct_places, find_named, names_a_symbol
from rt2_ros.plan_grammar import loc_to_pixel, plan_points
from rt2_ros.policy import Policy
from rt2_ros.vla.config import VLAConfig
from rt2_ros.vla.decoding import point_answer, ranked_points

torch.set_num_threads(1)
NAMES = ["cup", "plate", "bowl", "box"]


def marked(height: int, width: int, column: int, row: int) -> np.ndarray:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[row - 1 : row + 2, column - 1 : column + 2] = 255
    return image


@pytest.mark.parametrize("column,row", [(200, 50), (5, 282), (150, 150)])
def test_a_glimpse_shows_its_centre_in_the_middle_at_zoom_scale(column, row):
    glimpse = crop_glimpse(marked(288, 288, column, row), np.array([column, row]), zoom=3, size=96)
    assert glimpse.shape == (96, 96, 3)
    bright = np.argwhere(glimpse[..., 0] > 128)
    assert np.abs(bright.mean(axis=0) - 47.5).max() <= 1.5, "the mark is in the middle, even at the border"
    assert len(bright) == 9, "at the image's own scale: 1/3 of 288 px is 96 px"
    # A sharper image is cropped the same share and resized: the mark shrinks, still in the middle.
    big = crop_glimpse(marked(576, 576, 2 * column, 2 * row), np.array([2 * column, 2 * row]), zoom=3, size=96)
    assert big.shape == (96, 96, 3) and np.abs(np.argwhere(big[..., 0] > 60).mean(axis=0) - 47.5).max() <= 1.5


def test_loc_bins_map_to_the_pixel_they_cut_out():
    assert loc_to_pixel(np.array([0, 1023]), 288, 96).tolist() == pytest.approx([95.95, 0.14], abs=0.01)


def test_places_closer_than_the_merge_distance_are_one():
    points = [np.array([500, 500]), None, np.array([520, 490]), np.array([700, 200]), np.array([505, 530])]
    assert [p.tolist() for p in distinct_places(points)] == [[500, 500], [700, 200]]


def read_from(readings: dict[tuple[int, int], str]):
    return lambda place: readings[tuple(int(v) for v in place)]


def test_a_place_that_reads_as_a_word_of_the_name_is_found_and_every_place_is_read():
    readings = {(100, 100): "5", (300, 300): " 3 ", (500, 500): "3"}
    places = [np.array(p) for p in readings]
    found, read = find_named(places, read_from(readings), "tile with number 3")
    assert found.tolist() == [300, 300], "of two tiles read once each, the better ranked"
    assert read == ["5", "3", "3"]
    found, read = find_named(places, lambda p: NO_TILE, "none of these tile")  # "none" is never a symbol
    assert found is None and read == [NO_TILE] * 3


def test_glimpses_of_one_tile_vote_and_the_tile_read_most_often_wins():
    # Glimpses within 80 loc bins of a better-ranked one are of its tile: two of three read 6 here.
    six = {(100, 100): "6", (130, 100): "6", (100, 130): "0"}
    zero = {(500, 500): "0", (520, 500): "0"}
    found, _ = find_named([np.array(p) for p in {**six, **zero}], read_from({**six, **zero}), "tile 0")
    assert found.tolist() == [510, 500], "the 6 tile's misread is outvoted; the place is the mean of the 0 tile's"
    # The wanted symbol leads on two tiles: the one it was read on most often wins, whatever the rank.
    nine = {(100, 100): "9", (140, 100): "2", (60, 100): "2"}
    two = {(500, 500): "2", (540, 500): "2", (500, 540): "2"}
    found, _ = find_named([np.array(p) for p in {**nine, **two}], read_from({**nine, **two}), "number 2 tile")
    assert found.tolist() == [513, 513]
    tie = {(100, 100): "4", (100, 140): "5"}
    found, _ = find_named([np.array(p) for p in tie], read_from(tie), "number 4 tile")
    assert found is None, "a tile read as often as something else is not taken for the wanted one"


def test_a_goal_names_a_symbol_by_a_whole_word():
    symbols = ["3", "moon"]
    assert names_a_symbol("number 3 tile", symbols) and names_a_symbol("the Moon tile", symbols)
    assert not names_a_symbol("number 33 tile", symbols) and not names_a_symbol("red ball", symbols)


def test_glimpse_questions_name_each_tile_and_none_away_from_them():
    from rt2_ros.data.tile_glimpses import glimpse_questions
    from rt2_ros.sim import TabletopSim

    sim = TabletopSim("ur5e", cameras={"scene": (32, 32)}, detail_zoom=3)
    rng = np.random.default_rng(0)
    nones, none_last = 0, 0
    for seed in range(2_000_000, 2_000_006):
        sim.reset("place_on_tile", seed)
        asked = glimpse_questions(sim, rng, zoom=3)
        answers = [answer for _, _, answer in asked]
        assert set(answers) - {NO_TILE} == set(sim.task.layout.tiles), "every tile in view, by its symbol"
        assert all(image.shape == (32, 32, 3) for image, _, _ in asked)
        nones += answers.count(NO_TILE)
        none_last += answers[-1] == NO_TILE
    assert nones >= 3, "most scenes also show an object away from the tiles"
    assert none_last < nones, "in no fixed place, so every 20th example (held out) is not always `none`"
    sim.close()
    kinds = {e.kind for e in generate_sim_vqa(2, size=32, kinds=("tile_glimpse", "colour"))}
    assert kinds == {"tile_glimpse", "colour"}


@pytest.fixture(scope="module")
def glimpse_dir(tiny_model_dir, tmp_path_factory):
    folder = fit_planner(tiny_model_dir, tmp_path_factory.mktemp("models") / "planner")
    config = VLAConfig.load(folder)
    config.plan_locate_goal, config.plan_hold = True, ["goal"]
    config.goal_glimpse_zoom, config.goal_glimpse_symbols = 3, NAMES
    config.save(folder)
    return folder


def test_the_ranked_points_start_with_the_greedy_row_and_are_distinct(glimpse_dir):
    policy = Policy.from_pretrained(glimpse_dir)
    inputs = policy.vla.encode_prompt(IMAGE, policy.vla.vqa_prompt("where is the plate?"))
    greedy = point_answer(policy.vla, inputs).tolist()
    assert [p.tolist() for p in ranked_points(policy.vla, inputs, 1, 1, 40)] == [greedy]
    ranked = ranked_points(policy.vla, inputs, 4, 3, 40)
    assert len(ranked) == 12 and len({tuple(p) for p in ranked}) == 12
    assert greedy[0] in {int(p[0]) for p in ranked}, "the greedy row is among the ranked rows"
    assert all(0 <= v < 1024 for p in ranked for v in p)
    rows = sorted({int(p[0]) for p in ranked})
    assert len(rows) == 4 and np.diff(rows).min() >= 40, "rows at least `merge` bins apart"


class AskingPolicy(Policy):
    """A Policy that records the names it points at (greedily or ranked) and the glimpses it reads."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.asked, self.ranked, self.glimpses = [], [], []

    def point(self, image, name):
        self.asked.append(name)
        return super().point(image, name)

    def ranked_points(self, image, name):
        self.ranked.append(name)
        return super().ranked_points(image, name)

    def answer(self, image, question):
        self.glimpses.append(np.asarray(image))
        return super().answer(image, question)


def test_a_sharper_view_is_read_at_the_ranked_places_on_the_first_step_only(glimpse_dir):
    policy = AskingPolicy.from_pretrained(glimpse_dir)
    size = policy.vla.model.config.vision_config.image_size
    detail = IMAGE.repeat(3, axis=0).repeat(3, axis=1)  # the same view, three times the pixels
    places = distinct_places(policy.ranked_points(IMAGE, "plate"))
    pointed = policy.point(IMAGE, "plate")
    policy.asked.clear(), policy.ranked.clear()
    assert policy.wants_detail()
    plan = policy.act(IMAGE, CARRY_INSTRUCTION, detail=detail).plan
    assert policy.ranked == ["plate"], "only the named goal is asked for, not every symbol"
    readings = policy.glimpse_readings
    assert len(policy.glimpses) == len(readings) == len(places), "every place is read"
    for glimpse, place in zip(policy.glimpses, places, strict=True):  # in rank order, each centred on its place
        assert np.array_equal(glimpse, crop_glimpse(detail, loc_to_pixel(place, *detail.shape[:2]), 3, size))
    by_place = {tuple(int(v) for v in place): reading for place, reading in zip(places, readings, strict=True)}
    voted, _ = find_named(places, read_from(by_place), "plate")
    goal = plan_points(plan)["goal"].tolist()
    if voted is not None:
        assert goal == voted.tolist() and policy.asked == []
    else:  # no tile read as the plate: the model's own point
        assert goal == pointed.tolist() and policy.asked == ["plate"]
    assert not policy.wants_detail(), "read once, then held"
    asked, read = len(policy.ranked), len(policy.glimpses)
    policy.act(IMAGE, CARRY_INSTRUCTION, detail=detail)
    assert (len(policy.ranked), len(policy.glimpses)) == (asked, read)


def test_without_a_sharper_view_the_goal_is_the_models_point(glimpse_dir, tmp_path):
    policy = AskingPolicy.from_pretrained(glimpse_dir)
    pointed = policy.point(IMAGE, "plate").tolist()
    policy.asked.clear()
    with pytest.warns(UserWarning, match="at least"):  # the image itself is no sharper than the model's input
        plan = policy.act(IMAGE, CARRY_INSTRUCTION).plan
    assert policy.asked == ["plate"] and policy.glimpses == [] and policy.glimpse_readings == []
    assert plan_points(plan)["goal"].tolist() == pointed


def test_a_goal_named_by_no_symbol_is_the_models_point_without_glimpses(glimpse_dir, tmp_path):
    folder = tmp_path / "no-plate"
    shutil.copytree(glimpse_dir, folder)
    config = VLAConfig.load(folder)
    config.goal_glimpse_symbols = [n for n in NAMES if n != "plate"]
    config.save(folder)
    policy = AskingPolicy.from_pretrained(folder)
    pointed = policy.point(IMAGE, "plate").tolist()
    policy.asked.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no glimpse is wanted, so a small image is no fault
        plan = policy.act(IMAGE, CARRY_INSTRUCTION).plan
    assert policy.asked == ["plate"] and policy.ranked == [] and policy.glimpses == []
    assert plan_points(plan)["goal"].tolist() == pointed


def test_a_glimpse_zoom_without_located_goals_is_refused(glimpse_dir):
    config = VLAConfig.load(glimpse_dir)
    config.plan_locate_goal = False
    with pytest.raises(ValueError, match="goal_glimpse_zoom must be 0"):
        VLAConfig.from_dict(config.to_dict())


def test_a_config_with_the_retired_glimpse_names_says_what_replaced_them(glimpse_dir):
    data = VLAConfig.load(glimpse_dir).to_dict()
    data["goal_glimpse_names"] = ["number 3 tile"]
    with pytest.raises(ValueError, match="goal_glimpse_symbols"):
        VLAConfig.from_dict(data)


@pytest.mark.parametrize("zoom", [0, 3])
def test_goal_finding_asks_for_every_tile_and_counts_those_found(glimpse_dir, zoom):
    from rt2_ros.eval.goal_finding import goal_finding
    from rt2_ros.sim import TabletopSim

    policy = Policy.from_pretrained(glimpse_dir)
    size = policy.vla.model.config.vision_config.image_size
    sim = TabletopSim("ur5e", cameras={"scene": (size, size)}, detail_zoom=3)
    result = goal_finding(policy, sim, "scene", scenes=2, zoom=zoom, progress=False)
    tiles = sum(len(sim.reset("place_on_tile", result["first_seed"] + i).layout.tiles) for i in range(2))
    sim.close()
    assert result["tiles"] == tiles >= 2, "every tile of both layouts is asked for"
    assert 0 <= result["found"] <= tiles and 0 <= result["pointed"] <= tiles
    assert len(result["missed"]) == tiles - result["found"] and len(result["per_tile"]) == tiles
    if zoom == 0:  # no glimpses: the locator is the model's own point
        assert result["found"] == result["pointed"] and all(t["readings"] == [] for t in result["per_tile"])
    else:  # every tile's glimpses are read: the 12 ranked places, or fewer once merged
        assert all(1 <= len(t["readings"]) <= 12 for t in result["per_tile"])
