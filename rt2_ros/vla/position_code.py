"""A fixed 2D sin-cos position code for the vision tower's patches, at the scale of the patch embeddings.

Why: a SigLIP tower built from scratch starts with learned position embeddings of norm ~1 beside
patch embeddings of norm 10-40, so its output tokens say what is in a patch but hardly where the
patch is. Measured on the session-2 default model: a linear probe of a patch's column from its
output token was at chance (1.9 patches of error, chance 2). The decoder then cannot tell left
from right or point at anything, whatever it is trained on. A pretrained SigLIP (real PaliGemma)
carries position strongly; this gives a tiny tower the same start. It initialises the learned
embedding, which training may still change.

Written by hand: transformers has no public 2D sin-cos helper (MAE's is private to its model) and
this is a dozen lines.
"""

from __future__ import annotations

import math

import torch


def sincos_2d(grid: int, dim: int, base: float = 100.0) -> torch.Tensor:
    """(grid*grid, dim) code, rows in raster order (as SigLIP numbers patches); unit-norm rows."""
    if dim % 4:
        raise ValueError(f"a 2D sin-cos code needs a width divisible by 4, got {dim}")
    quarter = dim // 4
    frequencies = base ** (-torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, columns = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    parts = []
    for coordinate in (rows.flatten(), columns.flatten()):
        angles = coordinate[:, None].double() * frequencies[None, :]
        parts += [angles.sin(), angles.cos()]
    code = torch.cat(parts, dim=1)
    return (code / code.norm(dim=1, keepdim=True)).float()


def set_position_code(tower, scale: float | None = None) -> float:
    """Overwrite a SigLIP tower's position embeddings with the 2D code; returns the scale used.

    The default scale is sqrt(width): the norm of a patch embedding whose entries have unit variance,
    which is where a from-scratch patch embedding of image-normalised pixels lands within a factor of two.
    """
    embedding = tower.embeddings.position_embedding
    tokens, width = embedding.weight.shape
    grid = math.isqrt(tokens)
    if grid * grid != tokens:
        raise ValueError(f"the tower has {tokens} position embeddings, not a square grid")
    scale = math.sqrt(width) if scale is None else float(scale)
    with torch.no_grad():
        embedding.weight.copy_(sincos_2d(grid, width) * scale)
    return scale
