"""Safety limits on twists: what reaches the arm never exceeds them, whatever the model says."""

from __future__ import annotations

import numpy as np
import pytest

from rt2_ros.safety import SafetyLimits, limit_twist

LIMITS = SafetyLimits(
    max_linear_speed=0.1, max_angular_speed=0.5, workspace_min=(0, -0.5, 0.05), workspace_max=(0.8, 0.5, 0.6)
)


def test_speeds_are_clamped_keeping_direction():
    linear, angular = limit_twist(np.array([0.3, 0.4, 0.0]), np.array([0, 0, -2.0]), LIMITS, None, 0.1)
    assert np.linalg.norm(linear) == pytest.approx(0.1)
    assert linear == pytest.approx([0.06, 0.08, 0.0])
    assert angular == pytest.approx([0, 0, -0.5])


def test_twists_within_limits_pass_unchanged():
    linear, angular = limit_twist(np.array([0.01, -0.02, 0.03]), np.array([0.1, 0, 0]), LIMITS, None, 0.1)
    assert linear == pytest.approx([0.01, -0.02, 0.03])
    assert angular == pytest.approx([0.1, 0, 0])


def test_motion_out_of_the_workspace_is_stopped_per_axis():
    at_the_floor = np.array([0.4, 0.0, 0.055])
    linear, _ = limit_twist(np.array([0.05, 0.0, -0.08]), np.zeros(3), LIMITS, at_the_floor, 0.1)
    assert linear == pytest.approx([0.05, 0.0, 0.0])  # sideways still allowed, down is not


def test_outside_the_box_only_motion_back_is_allowed():
    too_high = np.array([0.4, 0.0, 0.7])
    down, _ = limit_twist(np.array([0, 0, -0.05]), np.zeros(3), LIMITS, too_high, 0.1)
    up, _ = limit_twist(np.array([0, 0, 0.05]), np.zeros(3), LIMITS, too_high, 0.1)
    assert down == pytest.approx([0, 0, -0.05])
    assert up == pytest.approx([0, 0, 0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_give_a_zero_twist(bad):
    linear, angular = limit_twist(np.array([0.01, bad, 0]), np.array([0.1, 0, 0]), LIMITS, None, 0.1)
    assert not linear.any() and not angular.any()


def test_random_twists_never_exceed_the_limits():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        position = rng.uniform(-0.2, 1.0, 3)
        linear, angular = limit_twist(rng.normal(0, 1, 3), rng.normal(0, 3, 3), LIMITS, position, 0.1)
        assert np.linalg.norm(linear) <= 0.1 + 1e-9 and np.linalg.norm(angular) <= 0.5 + 1e-9
        inside = (position >= LIMITS.workspace_min) & (position <= LIMITS.workspace_max)
        after = position + linear * 0.1
        stays = (after >= np.array(LIMITS.workspace_min) - 1e-9) & (after <= np.array(LIMITS.workspace_max) + 1e-9)
        assert np.all(stays[inside])


def test_inverted_workspace_is_refused():
    with pytest.raises(ValueError, match="workspace_min"):
        SafetyLimits(workspace_min=(1, 0, 0), workspace_max=(0, 1, 1))
