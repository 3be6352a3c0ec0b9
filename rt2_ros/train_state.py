"""Training checkpoints for exact resume: model, optimizer, scheduler, every RNG, and the data position.

A checkpoint is one file, written to a temporary name and renamed into place, so a run killed at
any moment leaves either the previous checkpoint or the new one, never half of one. The data
position is the number of micro-batches drawn: the mixture schedule is a function of it.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

KEEP = 2  # checkpoints kept; older ones are removed once a newer one is safely on disk


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def checkpoint_path(run: Path, step: int) -> Path:
    return run / "checkpoints" / f"step-{step:08d}.pt"


def save_checkpoint(run: Path, step: int, model, optimizer, scheduler, extra: dict[str, Any]) -> Path:
    path = checkpoint_path(run, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "step": step,
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
        **extra,
    }
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in sorted(path.parent.glob("step-*.pt"))[:-KEEP]:
        old.unlink()
    return path


def latest_checkpoint(run: Path) -> Path | None:
    found = sorted((run / "checkpoints").glob("step-*.pt"))
    return found[-1] if found else None


def load_checkpoint(path: Path) -> dict[str, Any]:
    # Our own files: optimizer and RNG states hold numpy objects, which weights_only refuses.
    return torch.load(path, map_location="cpu", weights_only=False)
