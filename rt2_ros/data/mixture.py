"""The co-fine-tuning mixture: which example (robot step or VQA) is the i-th one the trainer sees.

The schedule is a pure function of (seed, i), so a resumed run continues exactly where it stopped
by knowing only how many examples it has used, and every process of a multi-process run can
compute its share without talking to the others.

In each block of BLOCK examples exactly round(robot_fraction * BLOCK) are robot examples, at
shuffled places, so the ratio holds at every scale above a block rather than only on average.
Each source is read in a fresh permutation per epoch of that source.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

ROBOT, VQA = "robot", "vqa"
BLOCK = 1000


class MixtureSchedule:
    """Maps a global example index to (source, index into that source)."""

    def __init__(self, n_robot: int, n_vqa: int, robot_fraction: float = 0.5, seed: int = 0, block: int = BLOCK):
        if not 0.0 <= robot_fraction <= 1.0:
            raise ValueError(f"robot_fraction must be in [0, 1], got {robot_fraction}")
        if robot_fraction > 0 and n_robot == 0:
            raise ValueError("robot_fraction > 0 but there are no robot examples")
        if robot_fraction < 1 and n_vqa == 0:
            raise ValueError("robot_fraction < 1 but there are no VQA examples (use robot_fraction=1.0)")
        self.n = {ROBOT: n_robot, VQA: n_vqa}
        self.robot_fraction = robot_fraction
        self.seed = seed
        self.block = block
        self.robot_per_block = round(robot_fraction * block)
        # Cached so that sequential reads cost a lookup; each entry is one small int array.
        self._block_layout = lru_cache(maxsize=4)(self._layout)
        self._permutation = lru_cache(maxsize=8)(self._permute)

    def _layout(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        is_robot = np.zeros(self.block, dtype=bool)
        is_robot[: self.robot_per_block] = True
        is_robot = np.random.default_rng([self.seed, 0, b]).permutation(is_robot)
        # Position of each example within its own source's stream, inside the block.
        rank = np.where(is_robot, np.cumsum(is_robot) - 1, np.cumsum(~is_robot) - 1)
        return is_robot, rank

    def _permute(self, source: str, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, 1 if source == ROBOT else 2, epoch]).permutation(self.n[source])

    def __getitem__(self, i: int) -> tuple[str, int]:
        b, offset = divmod(int(i), self.block)
        is_robot, rank = self._block_layout(b)
        source = ROBOT if is_robot[offset] else VQA
        per_block = self.robot_per_block if source == ROBOT else self.block - self.robot_per_block
        k = b * per_block + int(rank[offset])  # how many of this source came before
        epoch, j = divmod(k, self.n[source])
        return source, int(self._permutation(source, epoch)[j])

    def iterate(self, start: int = 0) -> Iterator[tuple[str, int]]:
        i = start
        while True:
            yield self[i]
            i += 1
