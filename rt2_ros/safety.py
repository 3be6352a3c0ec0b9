"""Limits every twist must pass before it reaches the arm: speed clamps and a workspace box.

Pure functions on numpy vectors in the servo frame, so they are tested without ROS and the node
cannot forget one on some code path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SafetyLimits:
    max_linear_speed: float = 0.15  # m/s, norm of the linear part
    max_angular_speed: float = 0.8  # rad/s, norm of the angular part
    workspace_min: tuple[float, float, float] = (-0.9, -0.9, 0.0)  # m, base frame
    workspace_max: tuple[float, float, float] = (0.9, 0.9, 1.0)

    def __post_init__(self) -> None:
        if self.max_linear_speed < 0 or self.max_angular_speed < 0:
            raise ValueError("speed limits must be >= 0")
        if not np.all(np.asarray(self.workspace_min) < np.asarray(self.workspace_max)):
            raise ValueError(f"workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max}")


def clamp_speed(vector: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale the vector down to max_norm, keeping its direction (clamping axes one by one would bend it)."""
    norm = float(np.linalg.norm(vector))
    return vector * (max_norm / norm) if norm > max_norm else vector


def keep_in_workspace(linear: np.ndarray, position: np.ndarray, period_s: float, limits: SafetyLimits) -> np.ndarray:
    """Zero each axis of the linear velocity that would carry the end effector out of the box within one period.

    Outside the box already (e.g. after a manual move), motion back towards the box is still allowed.
    """
    low, high = np.asarray(limits.workspace_min), np.asarray(limits.workspace_max)
    next_position = position + linear * period_s
    leaving_low = (next_position < low) & (linear < 0)
    leaving_high = (next_position > high) & (linear > 0)
    return np.where(leaving_low | leaving_high, 0.0, linear)


def limit_twist(
    linear: np.ndarray,
    angular: np.ndarray,
    limits: SafetyLimits,
    position: np.ndarray | None,
    period_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """All limits at once. A non-finite value anywhere yields a zero twist: never move on invalid data."""
    linear, angular = np.asarray(linear, dtype=float), np.asarray(angular, dtype=float)
    if not (np.all(np.isfinite(linear)) and np.all(np.isfinite(angular))):
        return np.zeros(3), np.zeros(3)
    linear = clamp_speed(linear, limits.max_linear_speed)
    angular = clamp_speed(angular, limits.max_angular_speed)
    if position is not None and np.all(np.isfinite(position)):
        linear = keep_in_workspace(linear, np.asarray(position, dtype=float), period_s, limits)
    return linear, angular
