"""The sim world's train/eval split: robot seeds never show a held-out thing; eval seeds fit their category."""

import pytest

from rt2_ros.data import splits
from rt2_ros.sim.tasks import sample_task, task_names


@pytest.mark.parametrize("task", task_names())
def test_robot_seeds_show_nothing_held_out(task):
    seeds = splits.robot_seeds(task, 20)
    assert seeds == splits.robot_seeds(task, 20)  # deterministic
    assert len(set(seeds)) == 20 and max(seeds) < splits.EVAL_SEED_START
    for seed in seeds:
        layout = sample_task(task, seed).layout
        assert not {o.colour for o in layout.objects} & set(splits.HELD_OUT_COLOURS)
        assert layout.table not in splits.HELD_OUT_TABLES
        assert not set(layout.tiles) & set(splits.HELD_OUT_SYMBOLS)


@pytest.mark.parametrize("category", splits.CATEGORIES)
def test_eval_seeds_fit_their_category(category):
    for task in splits.CATEGORY_TASKS[category]:
        seeds = splits.eval_seeds(category, task, 5)
        assert seeds == splits.eval_seeds(category, task, 5)
        assert min(seeds) >= splits.EVAL_SEED_START
        for seed in seeds:
            instance = sample_task(task, seed)
            assert splits.fits(category, instance)
            if category == "unseen_objects":
                assert instance.layout.find(instance.target).colour in splits.HELD_OUT_COLOURS
            if category == "unseen_backgrounds":
                assert instance.layout.table in splits.HELD_OUT_TABLES
            if category == "symbols":
                assert instance.reference in splits.HELD_OUT_SYMBOLS
            if category == "reasoning":
                assert instance.reference in ("largest", "smallest")


def test_held_out_things_exist_and_unknown_names_are_refused():
    assert splits.SEEN_COLOURS and splits.SEEN_TABLES and splits.SEEN_SYMBOLS
    with pytest.raises(ValueError, match="unknown category"):
        splits.eval_seeds("nope", "pick", 1)
    with pytest.raises(ValueError, match="no 'pick' episodes"):
        splits.eval_seeds("symbols", "pick", 1)


def test_skipped_eval_seeds_are_the_next_ones_never_the_first():
    # rt2 eval --skip: fresh episodes for a model chosen on the first ones.
    first, fresh = splits.eval_seeds("seen", "pick", 4), splits.eval_seeds("seen", "pick", 3, skip=4)
    assert fresh == splits.eval_seeds("seen", "pick", 7)[4:]
    assert not set(first) & set(fresh)
    with pytest.raises(ValueError, match="skip must be at least 0"):
        splits.eval_seeds("seen", "pick", 1, skip=-1)
