"""Training inputs for a VLA: one (image, prompt, target text) example -> model inputs with labels on the answer only.

The trainer must use these (not its own tokenisation), because decoding reads the model the same
way: `build_example` for sequential (RT-2) decoding, `build_example(..., parallel=True)` for
parallel (OpenVLA-OFT style) decoding, and `collate` to pad a batch. The model's own loss
(`model(**batch).loss`) then trains on the answer tokens only.

Sequential:  [prompt][a0 a1 .. a7]           labels [-100 ...][a0 .. a7]   (or text + <eos> for VQA)
Parallel:    [prompt][q  q  .. q ]           labels [-100 ...][a0 .. a7]
The model shifts labels by one, so the logits at the last prompt token predict a0, and the logits
at the k-th query token q predict a(k+1); inputs at the action positions are the fixed query id,
never the previous action, which is what lets one forward pass produce all 8 at once. Answer
positions have token_type_ids 1 (PaliGemma: causal), the prompt 0 (bidirectional prefix).
"""

from __future__ import annotations

from typing import Any

import torch

from rt2_ros.actions import N_TOKENS
from rt2_ros.vla.model import VLA

IGNORE = -100  # label value the transformers loss skips


def build_example(vla: VLA, image: Any, prompt: str, target: str, *, parallel: bool = False) -> dict[str, torch.Tensor]:
    """Unbatched model inputs + labels for one example. `prompt` is the full prompt text (see VLA.action_prompt).

    `target` is RT-2 action text (`0 128 91 241 5 101 127 255`), chain-of-thought text ending in
    action text (`Plan: pick the cube. Action: 0 128 ...`), or a free-text VQA answer.
    """
    inputs = vla.encode_prompt(image, prompt)
    answer, n_action = vla.answer_ids(target)
    if parallel:
        if n_action != N_TOKENS or len(answer) != N_TOKENS:
            raise ValueError("a parallel-decoding example needs a pure action target (8 integers, no plan or text)")
        return append_queries(vla, inputs, labels=answer)
    return _append(inputs, answer, labels=answer)


def append_queries(vla: VLA, inputs: dict[str, torch.Tensor], labels: list[int] | None = None) -> dict[str, Any]:
    """The parallel-decoding layout: prompt + 8 query tokens. Decoding calls this too, so both always agree."""
    query = vla.config.parallel_query_id
    if query is None:
        query = vla.tokenizer.pad_token_id
    return _append(inputs, [query] * N_TOKENS, labels=labels)


def collate(examples: list[dict[str, torch.Tensor]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad examples into a batch (padding masked out of attention and loss)."""
    length = max(len(e["input_ids"]) for e in examples)
    fills = {"input_ids": pad_id, "attention_mask": 0, "token_type_ids": 1, "labels": IGNORE}
    batch: dict[str, torch.Tensor] = {}
    for key, fill in fills.items():
        if key in examples[0]:
            rows = [torch.nn.functional.pad(e[key], (0, length - len(e[key])), value=fill) for e in examples]
            batch[key] = torch.stack(rows)
    for key in examples[0]:
        if key not in fills:  # pixel_values and the like: same shape per example
            batch[key] = torch.stack([e[key] for e in examples])
    return batch


def _append(inputs: dict[str, torch.Tensor], answer: list[int], labels: list[int] | None) -> dict[str, torch.Tensor]:
    prompt_ids = inputs["input_ids"][0]
    n_prompt, n_answer = len(prompt_ids), len(answer)
    out = {
        key: value[0] for key, value in inputs.items() if key not in ("input_ids", "attention_mask", "token_type_ids")
    }
    out["input_ids"] = torch.cat([prompt_ids, torch.tensor(answer, dtype=prompt_ids.dtype)])
    out["attention_mask"] = torch.ones(n_prompt + n_answer, dtype=torch.long)
    if "token_type_ids" in inputs:  # PaliGemma's prefix-LM mask; other models have no such input
        out["token_type_ids"] = torch.cat([inputs["token_type_ids"][0], torch.ones(n_answer, dtype=torch.long)])
    if labels is not None:
        out["labels"] = torch.cat([torch.full((n_prompt,), IGNORE), torch.tensor(labels, dtype=torch.long)])
    return out
