"""Success rates with 95% Wilson score intervals (sound at 0/n and n/n, unlike the normal approximation)."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: int, episodes: int, z: float = Z95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval for `successes` out of `episodes`; (0, 1) when there are none."""
    if not 0 <= successes <= episodes:
        raise ValueError(f"successes must be within 0..episodes, got {successes}/{episodes}")
    if episodes == 0:
        return 0.0, 1.0
    p = successes / episodes
    z2n = z * z / episodes
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / episodes + z2n / (4 * episodes))
    # At 0/n and n/n the closed end is exactly 0 or 1; floats would leave 1e-17 or 0.9999999999999999.
    low = 0.0 if successes == 0 else centre - half
    high = 1.0 if successes == episodes else centre + half
    return low, high


def rate_summary(successes: int, episodes: int) -> dict[str, float | int]:
    """JSON-ready: successes, episodes, rate and its 95% interval."""
    low, high = wilson_interval(successes, episodes)
    return {
        "successes": successes,
        "episodes": episodes,
        "rate": successes / episodes if episodes else 0.0,
        "low": low,
        "high": high,
    }
