"""The training loss: next-token cross-entropy, optionally with ordinal targets for action tokens.

RT-2 trains action bins with plain cross-entropy, which treats bin 127 and bin 129 as unrelated
classes as much as bin 127 and bin 0. With little data that wastes most of each label: a model
that is two bins off learns nothing from being close. `action_sigma` > 0 replaces the one-hot
target of every action token by a Gaussian over the neighbouring bins (the "HL-Gauss" target of
Imani & White, 2018; Farebrother et al., 2024), so near misses cost less than far ones. Decoding
is unchanged: the most likely bin is still the centre of the target. Other tokens (prompt text,
VQA answers) keep plain cross-entropy. Written here because transformers' loss has no such option.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100


def action_targets(n_bins: int, sigma: float) -> torch.Tensor:
    """(n_bins, n_bins): row b is the target distribution over bins for label bin b."""
    bins = torch.arange(n_bins, dtype=torch.float32)
    weights = torch.exp(-0.5 * ((bins[None, :] - bins[:, None]) / sigma) ** 2)
    return weights / weights.sum(dim=1, keepdim=True)


def token_bins(tokens: torch.Tensor, action_ids: torch.Tensor) -> torch.Tensor:
    """The bin of each token id among `action_ids` (or any ordered ids), -1 for every other token."""
    top = int(action_ids.max())
    lookup = torch.full((top + 1,), -1, dtype=torch.long, device=tokens.device)
    lookup[action_ids.to(tokens.device)] = torch.arange(len(action_ids), device=tokens.device)
    bins = torch.full_like(tokens, -1)
    inside = (tokens >= 0) & (tokens <= top)
    bins[inside] = lookup[tokens[inside]]
    return bins


def next_token_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    action_ids: torch.Tensor,
    action_sigma: float = 0.0,
    loc_ids: torch.Tensor | None = None,
    loc_sigma: float = 0.0,
) -> torch.Tensor:
    """Mean loss over the labelled positions, with labels shifted by one as the model's own loss does.

    action_sigma / loc_sigma: widths, in bins, of the Gaussian targets of action / location tokens (0 = one-hot).
    """
    logits = logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != IGNORE
    logits, target = logits[mask], target[mask]  # (N, vocab), (N,)
    log_probs = F.log_softmax(logits, dim=-1)
    losses = -log_probs.gather(1, target[:, None])[:, 0]
    for ids, sigma in ((action_ids, action_sigma), (loc_ids, loc_sigma)):
        if ids is not None and sigma > 0:
            _ordinal(losses, log_probs, target, ids, sigma)
    return losses.mean()


def _ordinal(losses: torch.Tensor, log_probs: torch.Tensor, target: torch.Tensor, ids: torch.Tensor, sigma: float):
    """Replace, in place, the loss of every target that is one of `ids` by the cross-entropy to its Gaussian."""
    bins = token_bins(target, ids)
    inside = bins >= 0
    if inside.any():
        soft = action_targets(len(ids), sigma).to(log_probs.device)[bins[inside]]
        losses[inside] = -(soft * log_probs[inside][:, ids]).sum(-1)
