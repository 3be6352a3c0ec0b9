"""ActionTokenizer as a user meets it: round trips, clipping, RT-2 text, and errors that never pass silently."""

from __future__ import annotations

import numpy as np
import pytest

from rt2_ros.actions import N_BINS, ActionTextError, ActionTokenizer


@pytest.fixture
def tokenizer() -> ActionTokenizer:
    return ActionTokenizer()


def test_round_trip_errs_by_at_most_half_a_bin(tokenizer):
    rng = np.random.default_rng(0)
    actions = rng.uniform(tokenizer.low, tokenizer.high, size=(2000, 7))
    for action in actions:
        decoded, terminate = tokenizer.decode(tokenizer.encode(action))
        assert not terminate
        assert np.all(np.abs(decoded - action) <= tokenizer.bin_width / 2 + 1e-6)


def test_bounds_and_gripper_extremes_are_exact(tokenizer):
    bins = tokenizer.encode([-0.05, 0.05, 0, 0, 0, 0, 1.0], terminate=True)
    assert bins[0] == 1 and bins[1] == 0 and bins[2] == N_BINS - 1 and bins[7] == N_BINS - 1
    decoded, terminate = tokenizer.decode(bins)
    assert terminate
    assert decoded[0] == pytest.approx(-0.05) and decoded[1] == pytest.approx(0.05)
    assert decoded[6] == 1.0 and tokenizer.decode(tokenizer.encode([0] * 7))[0][6] == 0.0


def test_values_outside_the_bounds_clip(tokenizer):
    bins = tokenizer.encode([10.0, -10.0, 0, 0, 0, 0, 2.0])
    assert bins.tolist()[:3] == [0, 255, 0] and bins[7] == 255


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_raise_naming_the_dimension(tokenizer, bad):
    with pytest.raises(ValueError, match="dyaw"):
        tokenizer.encode([0, 0, 0, 0, 0, bad, 0])


def test_wrong_action_length_raises(tokenizer):
    with pytest.raises(ValueError, match="7 values"):
        tokenizer.encode([0.0] * 6)


def test_text_parses_and_prints_exactly(tokenizer):
    text = "0 128 91 241 5 101 127 255"
    bins = tokenizer.from_text(text)
    assert bins.tolist() == [0, 128, 91, 241, 5, 101, 127, 255]
    assert tokenizer.to_text(bins) == text


@pytest.mark.parametrize(
    "text, message",
    [
        ("0 128 91 241 5 101 127", "8 integers"),
        ("0 128 91 241 5 101 127 255 3", "8 integers"),
        ("0 128 91 241 5 101 127 2.5", "only integers"),
        ("0 128 91 241 5 -1 127 255", "only integers"),
        ("0 128 91 241 5 101 127 256", "out of range"),
        ("2 128 91 241 5 101 127 255", "terminate must be 0 or 1"),
        ("", "8 integers"),
        ("move left please", "8 integers"),
    ],
)
def test_malformed_text_raises_a_clear_error(tokenizer, text, message):
    with pytest.raises(ActionTextError, match=message):
        tokenizer.from_text(text)


def test_decode_rejects_bins_that_are_not_an_action(tokenizer):
    with pytest.raises(ActionTextError, match="out of range"):
        tokenizer.decode([0, 1, 2, 3, 4, 5, 6, 300])
    with pytest.raises(ActionTextError, match="8 bins"):
        tokenizer.decode([0, 1, 2])
    with pytest.raises(ActionTextError, match="integers"):
        tokenizer.decode([0, 1.5, 2, 3, 4, 5, 6, 7])


def test_bounds_from_statistics_percentile_clips_outliers():
    rng = np.random.default_rng(1)
    actions = rng.normal(0, 0.01, size=(5000, 7))
    actions[:, 6] = rng.integers(0, 2, size=5000)
    actions[0, 0] = 5.0  # one wild outlier
    tokenizer = ActionTokenizer.from_statistics(actions, method="percentile")
    assert tokenizer.high[0] < 0.1  # the outlier did not stretch the range
    assert tokenizer.low[6] == 0 and tokenizer.high[6] == 1  # the gripper keeps its fixed range
    assert tokenizer.encode(actions[0])[1] == 255
    minmax = ActionTokenizer.from_statistics(actions, method="minmax")
    assert minmax.high[0] == pytest.approx(5.0)
    assert tokenizer.statistics["count"] == 5000 and tokenizer.source == "percentile 1-99"


def test_a_dimension_that_never_moved_still_quantises():
    actions = np.zeros((10, 7))
    tokenizer = ActionTokenizer.from_statistics(actions, method="minmax")
    decoded, _ = tokenizer.decode(tokenizer.encode(np.zeros(7)))
    assert np.allclose(decoded[:6], 0, atol=1e-5)


def test_config_round_trip_keeps_bounds_and_statistics():
    tokenizer = ActionTokenizer.from_statistics(np.random.default_rng(2).normal(size=(100, 7)))
    again = ActionTokenizer.from_dict(tokenizer.to_dict())
    assert np.array_equal(again.low, tokenizer.low) and np.array_equal(again.high, tokenizer.high)
    assert again.statistics == tokenizer.statistics and again.source == tokenizer.source


def test_bad_bounds_raise():
    with pytest.raises(ValueError, match="low < high"):
        ActionTokenizer(low=[0] * 7, high=[0] * 7)


def test_expected_bins_map_to_values_as_whole_bins_do(tokenizer):
    bins = np.array([0, 3, 128, 255, 0, 17, 200, 255])
    assert np.allclose(tokenizer.expected_values(bins.astype(float)), tokenizer.decode(bins)[0])
    halfway = tokenizer.expected_values(np.array([0, 3.5, 128, 255, 0, 17, 200, 255]))
    low, high = tokenizer.decode(bins)[0][0], tokenizer.decode(bins + np.eye(8, dtype=int)[1])[0][0]
    assert halfway[0] == pytest.approx((low + high) / 2), "between two bins, their values' mean"
