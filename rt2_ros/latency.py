"""Rolling latency statistics (median, p99) for the node's diagnostics and the benchmarks."""

from __future__ import annotations

from collections import deque

import numpy as np


class LatencyStats:
    """The last `window` samples of each named latency, in milliseconds."""

    def __init__(self, window: int = 1000) -> None:
        self._samples: dict[str, deque[float]] = {}
        self._window = window

    def add(self, name: str, milliseconds: float) -> None:
        self._samples.setdefault(name, deque(maxlen=self._window)).append(float(milliseconds))

    def summary(self) -> dict[str, dict[str, float]]:
        """name -> {median, p99, count}."""
        return {
            name: {
                "median": float(np.median(values)),
                "p99": float(np.percentile(values, 99)),
                "count": len(values),
            }
            for name, values in self._samples.items()
            if values
        }
