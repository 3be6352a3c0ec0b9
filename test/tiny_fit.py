"""Fit a tiny VLA to a handful of examples and save it: the tests' models with predictable answers."""

from __future__ import annotations

from pathlib import Path

import torch

from rt2_ros.vla.training import collate


def fit_and_save(vla, examples: list[dict[str, torch.Tensor]], folder: Path, steps: int = 150) -> Path:
    """Full-batch AdamW (lr 3e-3) on `examples` for `steps` steps, then vla.save_pretrained(folder)."""
    batch = collate(examples, pad_id=vla.tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(vla.model.parameters(), lr=3e-3, weight_decay=0.0)
    vla.model.train()
    for _ in range(steps):
        loss = vla.model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    vla.model.eval()
    vla.save_pretrained(folder)
    return folder
