"""Robot episodes in memory: the unit that the expert records, datasets store and training reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ACTION_DIM = 7  # dx dy dz droll dpitch dyaw gripper; see docs/conventions.md


@dataclass
class Step:
    """One control step: what the cameras saw, what was asked, and what was done."""

    images: dict[str, np.ndarray]  # camera name -> HxWx3 uint8
    instruction: str
    action: np.ndarray  # (7,) float32: metres / radians per control step in the base frame, gripper 0..1
    terminate: bool = False

    def __post_init__(self) -> None:
        self.action = np.asarray(self.action, dtype=np.float32).reshape(-1)
        if self.action.shape != (ACTION_DIM,):
            raise ValueError(
                f"a step's action has {ACTION_DIM} values (dx dy dz droll dpitch dyaw gripper), "
                f"got {self.action.shape[0]}"
            )
        if not np.all(np.isfinite(self.action)):
            raise ValueError(f"a step's action must be finite, got {self.action.tolist()}")
        for name, image in self.images.items():
            if not (
                isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            ):
                raise ValueError(f"image {name!r} must be an HxWx3 uint8 array")


@dataclass
class Episode:
    """A whole attempt at one instruction, with where it came from and whether it succeeded."""

    steps: list[Step]
    robot: str
    task: str
    seed: int
    success: bool
    instruction: str
    control_rate_hz: float = 10.0
    metadata: dict[str, Any] = field(default_factory=dict)
