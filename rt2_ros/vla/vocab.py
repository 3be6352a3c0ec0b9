"""Which 256 vocabulary ids carry the action bins: the three strategies of RT-2, PaLI-X and OpenVLA / PaLM-E.

- `added`: 256 new tokens `<act_0>`..`<act_255>` appended to the tokenizer; embeddings grow.
- `integers`: the tokenizer's own tokens for "0".."255" (PaLI-X style); each must be one token.
- `last`: the last 256 ids of the tokenizer are given over to actions (OpenVLA).
- `least_used`: the 256 ids least used in a text corpus are given over to actions (PaLM-E).

Bin b is carried by `ids[b]`. The list is saved with the model, so loading never recomputes it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rt2_ros.actions import N_BINS

STRATEGIES = ("added", "integers", "last", "least_used")
ADDED_TOKEN = "<act_{}>"


def action_token_ids(tokenizer, strategy: str, *, corpus: Iterable[str] | None = None) -> list[int]:
    """The 256 ids for `strategy`; for `added` this also adds the tokens to `tokenizer`."""
    if strategy == "added":
        return _added(tokenizer)
    if strategy == "integers":
        return _integers(tokenizer)
    if strategy == "last":
        return _checked(tokenizer, list(range(len(tokenizer) - N_BINS, len(tokenizer))), strategy)
    if strategy == "least_used":
        if corpus is None:
            raise ValueError("vocab strategy 'least_used' needs a text corpus to count token use in")
        return _checked(tokenizer, _least_used(tokenizer, corpus), strategy)
    raise ValueError(f"unknown action vocab strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def overwrites_text(strategy: str) -> bool:
    """Whether the action ids stop meaning their old text, so free-text answers must not use them."""
    return strategy != "integers"


def _added(tokenizer) -> list[int]:
    from transformers import AddedToken

    names = [ADDED_TOKEN.format(b) for b in range(N_BINS)]
    # normalized=False keeps them atomic; special=True keeps them out of decoded answers.
    tokenizer.add_tokens([AddedToken(n, normalized=False, special=True) for n in names])
    ids = tokenizer.convert_tokens_to_ids(names)
    if ids != list(range(ids[0], ids[0] + N_BINS)):
        raise RuntimeError("added action tokens did not get contiguous ids (some already existed?)")
    return ids


def _integers(tokenizer) -> list[int]:
    ids = []
    for b in range(N_BINS):
        pieces = tokenizer.encode(str(b), add_special_tokens=False)
        if len(pieces) != 1:
            raise ValueError(
                f"vocab strategy 'integers' needs every number 0..255 to be one token; {b!r} is {len(pieces)} "
                f"tokens in this tokenizer (e.g. Gemma splits digits). Use 'added' or 'last' instead."
            )
        ids.append(pieces[0])
    if len(set(ids)) != N_BINS:
        raise ValueError("vocab strategy 'integers': two numbers map to the same token")
    return ids


def _least_used(tokenizer, corpus: Iterable[str]) -> list[int]:
    counts = np.zeros(len(tokenizer), dtype=np.int64)
    for text in corpus:
        ids = tokenizer.encode(text, add_special_tokens=False)
        counts += np.bincount(np.asarray(ids, dtype=np.int64), minlength=len(counts))[: len(counts)]
    counts[list(tokenizer.all_special_ids)] = np.iinfo(np.int64).max  # never take special tokens
    # Least used first; among equals the highest ids, which tend to be the rarest merges.
    order = sorted(range(len(counts)), key=lambda i: (counts[i], -i))
    return sorted(order[:N_BINS])


def _checked(tokenizer, ids: list[int], strategy: str) -> list[int]:
    if len(ids) != N_BINS or min(ids) < 0:
        raise ValueError(f"vocab strategy {strategy!r} needs a vocabulary of more than {N_BINS} tokens")
    special = sorted(set(ids) & set(tokenizer.all_special_ids))
    if special:
        names = tokenizer.convert_ids_to_tokens(special)
        raise ValueError(f"vocab strategy {strategy!r} would overwrite special tokens {names}; use 'added'")
    return ids
