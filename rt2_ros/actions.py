"""ActionTokenizer: continuous robot actions <-> 256-bin integers <-> RT-2 action text.

RT-2 layout (docs/conventions.md): 8 integers `terminate dx dy dz droll dpitch dyaw gripper`.
Terminate is 0 or 1; each of the 7 continuous values is quantised onto 256 evenly spaced
values between per-dimension bounds, bin 0 at `low` and bin 255 at `high`. Spacing the bins
end to end (rather than using bin centres) makes the extremes exact: gripper 0 = open and
255 = closed decode to exactly 0.0 and 1.0. Which vocabulary ids carry the bins is the model's
business (rt2_ros.vla.vocab); this module knows nothing of tokenizers or torch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

N_BINS = 256
ACTION_DIM = 7  # dx dy dz droll dpitch dyaw gripper
N_TOKENS = 1 + ACTION_DIM  # terminate first, as RT-2 writes it
TOKEN_NAMES = ("terminate", "dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
VALUE_NAMES = TOKEN_NAMES[1:]

# Defaults for a 10 Hz arm: 5 cm and ~14 degrees per step cover teleoperated datasets; real
# bounds should come from the dataset (ActionTokenizer.from_statistics).
DEFAULT_LOW = (-0.05, -0.05, -0.05, -0.25, -0.25, -0.25, 0.0)
DEFAULT_HIGH = (0.05, 0.05, 0.05, 0.25, 0.25, 0.25, 1.0)

_INTEGER = re.compile(r"\d+")


class ActionTextError(ValueError):
    """Action text or bins that do not form a valid RT-2 action."""


@dataclass
class ActionTokenizer:
    """Maps 7 continuous action values (+ terminate) to 8 bins and back, and bins to RT-2 text."""

    low: np.ndarray = field(default_factory=lambda: np.array(DEFAULT_LOW, dtype=np.float64))
    high: np.ndarray = field(default_factory=lambda: np.array(DEFAULT_HIGH, dtype=np.float64))
    source: str = "config"  # where the bounds came from, kept for the model card
    statistics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.low = np.asarray(self.low, dtype=np.float64).reshape(-1)
        self.high = np.asarray(self.high, dtype=np.float64).reshape(-1)
        if self.low.shape != (ACTION_DIM,) or self.high.shape != (ACTION_DIM,):
            raise ValueError(f"action bounds need {ACTION_DIM} values each ({' '.join(VALUE_NAMES)})")
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))):
            raise ValueError("action bounds must be finite")
        bad = [name for name, lo, hi in zip(VALUE_NAMES, self.low, self.high, strict=True) if not lo < hi]
        if bad:
            raise ValueError(f"action bounds need low < high; not so for {', '.join(bad)}")

    @property
    def bin_width(self) -> np.ndarray:
        """Distance between neighbouring bin values; the round trip errs by at most half of it."""
        return (self.high - self.low) / (N_BINS - 1)

    @classmethod
    def from_statistics(
        cls, actions: np.ndarray, *, method: str = "percentile", percentiles: tuple[float, float] = (1.0, 99.0)
    ) -> ActionTokenizer:
        """Bounds from a dataset's (N, 7) actions: `minmax`, or `percentile` (OpenVLA's 1st/99th, clipping outliers).

        The gripper keeps its fixed 0..1 range: it is a target position, not a statistic.
        """
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or actions.shape[1] != ACTION_DIM or len(actions) == 0:
            raise ValueError(f"statistics need an (N, {ACTION_DIM}) array of actions with N > 0, got {actions.shape}")
        if not np.all(np.isfinite(actions)):
            raise ValueError("statistics need finite actions (found NaN or inf)")
        if method == "minmax":
            low, high = actions.min(axis=0), actions.max(axis=0)
        elif method == "percentile":
            low, high = np.percentile(actions, percentiles, axis=0)
        else:
            raise ValueError(f"unknown bounds method {method!r}; use 'minmax' or 'percentile'")
        low[6], high[6] = DEFAULT_LOW[6], DEFAULT_HIGH[6]
        # A dimension that never moved in the data still needs a non-empty range to quantise into.
        flat = high - low < 1e-8
        low[flat], high[flat] = low[flat] - 1e-3, high[flat] + 1e-3
        stats = {
            "count": int(len(actions)),
            "mean": actions.mean(axis=0).tolist(),
            "std": actions.std(axis=0).tolist(),
            "min": actions.min(axis=0).tolist(),
            "max": actions.max(axis=0).tolist(),
        }
        source = "minmax" if method == "minmax" else f"percentile {percentiles[0]:g}-{percentiles[1]:g}"
        return cls(low=low, high=high, source=source, statistics=stats)

    def encode(self, action: Sequence[float] | np.ndarray, terminate: bool = False) -> np.ndarray:
        """(7,) continuous action -> (8,) int64 bins in RT-2 order; values outside the bounds clip."""
        values = np.asarray(action, dtype=np.float64).reshape(-1)
        if values.shape != (ACTION_DIM,):
            raise ValueError(f"an action has {ACTION_DIM} values ({' '.join(VALUE_NAMES)}), got {values.size}")
        bad = [name for name, v in zip(VALUE_NAMES, values, strict=True) if not np.isfinite(v)]
        if bad:
            raise ValueError(f"action values must be finite; got NaN or inf in {', '.join(bad)}")
        scaled = (np.clip(values, self.low, self.high) - self.low) / self.bin_width
        bins = np.clip(np.rint(scaled), 0, N_BINS - 1).astype(np.int64)
        return np.concatenate([[1 if terminate else 0], bins])

    def decode(self, bins: Sequence[int] | np.ndarray) -> tuple[np.ndarray, bool]:
        """(8,) bins -> ((7,) float32 action, terminate). Raises ActionTextError on any invalid bin."""
        checked = self.validate(bins)
        values = self.low + checked[1:] * self.bin_width
        return values.astype(np.float32), bool(checked[0])

    def expected_values(self, expected: np.ndarray) -> np.ndarray:
        """(8,) expected bins (Decoded.expected) -> the (7,) values they stand for, as decode maps whole bins."""
        return (self.low + np.asarray(expected, dtype=np.float64)[1:] * self.bin_width).astype(np.float32)

    def validate(self, bins: Sequence[int] | np.ndarray) -> np.ndarray:
        """The bins as int64 if they form a valid action, else ActionTextError saying what is wrong."""
        array = np.asarray(bins)
        if array.shape != (N_TOKENS,):
            raise ActionTextError(f"an action is {N_TOKENS} bins ({' '.join(TOKEN_NAMES)}), got shape {array.shape}")
        if array.dtype.kind not in "iu":
            if array.dtype.kind != "f" or not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
                raise ActionTextError(f"action bins must be integers, got {array.tolist()}")
        array = array.astype(np.int64)
        if array[0] not in (0, 1):
            raise ActionTextError(f"terminate must be 0 or 1, got {array[0]}")
        out = [f"{name}={v}" for name, v in zip(TOKEN_NAMES, array, strict=True) if not 0 <= v < N_BINS]
        if out:
            raise ActionTextError(f"action bins must be in 0..{N_BINS - 1}; out of range: {', '.join(out)}")
        return array

    def to_text(self, bins: Sequence[int] | np.ndarray) -> str:
        """RT-2's text form, e.g. `0 128 91 241 5 101 127 255`."""
        return " ".join(str(int(b)) for b in self.validate(bins))

    def from_text(self, text: str) -> np.ndarray:
        """Parse RT-2 action text strictly: 8 non-negative integers separated by whitespace, each in range."""
        if not isinstance(text, str):
            raise ActionTextError(f"action text must be a string, got {type(text).__name__}")
        parts = text.split()
        if len(parts) != N_TOKENS:
            raise ActionTextError(f"action text needs {N_TOKENS} integers, got {len(parts)} in {text!r}")
        bad = [p for p in parts if not _INTEGER.fullmatch(p)]
        if bad:
            raise ActionTextError(f"action text must hold only integers; not integers: {bad} in {text!r}")
        return self.validate(np.array([int(p) for p in parts], dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_bins": N_BINS,
            "order": list(TOKEN_NAMES),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "source": self.source,
            "statistics": self.statistics,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionTokenizer:
        if data.get("n_bins", N_BINS) != N_BINS or list(data.get("order", TOKEN_NAMES)) != list(TOKEN_NAMES):
            raise ValueError(f"action config is for another layout; this code reads {N_BINS} bins in RT-2 order")
        for key in ("low", "high"):
            if key not in data:
                raise ValueError(f"action config has no {key!r} bounds")
        return cls(
            low=data["low"],
            high=data["high"],
            source=data.get("source", "config"),
            statistics=data.get("statistics", {}),
        )
