"""Training inputs as the trainer will use them: a tiny model fitted on a few examples with build_example
then answers with exactly what it was taught, through the public Policy path, for sequential decoding
(action, chain-of-thought, VQA) and for parallel decoding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rt2_ros.policy import Policy
from rt2_ros.vla import VLA
from rt2_ros.vla.training import IGNORE, build_example, collate

torch.set_num_threads(1)

IMAGE = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
COT_TARGET = "Plan: reach the red cube. Action: 0 12 200 128 5 101 127 255"
PARALLEL_TARGETS = {"pick up the cube": "0 12 200 128 5 101 127 255", "open the drawer": "1 250 3 77 0 255 64 0"}


def fit(vla: VLA, examples: list[dict[str, torch.Tensor]], steps: int, until: float = 0.0) -> float:
    """Full-batch AdamW for at most `steps` steps, stopping once the loss is below `until`; the last loss.

    Stopping early matters: at this learning rate the loss of a fitted model still jumps about, so
    where the last of a fixed number of steps lands depends on thread count and rounding.
    """
    batch = collate(examples, pad_id=vla.tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(vla.model.parameters(), lr=3e-3, weight_decay=0.0)
    vla.model.train()
    for _ in range(steps):
        loss = vla.model(**batch).loss
        if loss.item() < until:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    vla.model.eval()
    return float(loss.detach())


def test_labels_cover_only_the_answer(tiny_model_dir):
    vla = VLA.from_pretrained(tiny_model_dir)
    prompt = vla.action_prompt("pick up the cube")
    example = build_example(vla, IMAGE, prompt, "0 12 200 128 5 101 127 255")
    labelled = example["labels"] != IGNORE
    assert labelled.sum() == 8 and labelled[-8:].all()
    assert example["labels"][-8:].tolist() == [
        vla.config.action_token_ids[b] for b in (0, 12, 200, 128, 5, 101, 127, 255)
    ]
    assert example["token_type_ids"][labelled].eq(1).all() and example["token_type_ids"][~labelled].eq(0).all()
    vqa = build_example(vla, IMAGE, vla.vqa_prompt("what color?"), "red")
    assert vqa["labels"][-1] == vla.tokenizer.eos_token_id  # free text ends with <eos>
    parallel = build_example(vla, IMAGE, prompt, "0 12 200 128 5 101 127 255", parallel=True)
    query = vla.config.parallel_query_id
    assert parallel["input_ids"][-8:].eq(query).all()  # inputs at action positions never hold the answer
    assert torch.equal(parallel["labels"], example["labels"])


def test_malformed_action_targets_are_refused(tiny_model_dir):
    vla = VLA.from_pretrained(tiny_model_dir)
    with pytest.raises(ValueError, match="out of range"):
        build_example(vla, IMAGE, vla.action_prompt("go"), "0 12 200 128 5 101 127 300")
    with pytest.raises(ValueError, match="pure action target"):
        build_example(vla, IMAGE, vla.action_prompt("go"), COT_TARGET, parallel=True)


def test_a_model_trained_with_chain_of_thought_and_vqa_answers_as_taught(tiny_model_dir, tmp_path):
    vla = VLA.from_pretrained(tiny_model_dir)
    examples = [
        build_example(vla, IMAGE, vla.action_prompt("pick up the cube"), COT_TARGET),
        build_example(vla, IMAGE, vla.vqa_prompt("what color is the cube?"), "red"),
    ]
    assert fit(vla, examples, steps=150) < 0.05
    vla.save_pretrained(tmp_path / "cot")

    policy = Policy.from_pretrained(tmp_path / "cot", chain_of_thought=True)
    action = policy.act(IMAGE, "pick up the cube")
    assert action.plan == "reach the red cube."
    assert action.tokens == [0, 12, 200, 128, 5, 101, 127, 255]
    assert action.gripper == 1.0 and not action.terminate
    assert policy.answer(IMAGE, "what color is the cube?") == "red"


def test_a_model_trained_for_parallel_decoding_decodes_in_one_pass(tiny_model_dir, tmp_path):
    vla = VLA.from_pretrained(tiny_model_dir)
    examples = [
        build_example(vla, IMAGE, vla.action_prompt(instruction), target, parallel=True)
        for instruction, target in PARALLEL_TARGETS.items()
    ]
    assert fit(vla, examples, steps=600, until=0.02) < 0.05
    vla.config.parallel_trained = True  # what the trainer records for such a model
    vla.save_pretrained(tmp_path / "oft")

    policy = Policy.from_pretrained(tmp_path / "oft", decoding="parallel")
    for instruction, target in PARALLEL_TARGETS.items():
        assert policy.act(IMAGE, instruction).tokens == [int(t) for t in target.split()]
