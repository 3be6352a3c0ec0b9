"""Fit a tiny VLA to a handful of examples and save it: the tests' models with predictable answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rt2_ros.plan_grammar import LOCATE_QUESTION
from rt2_ros.vla import VLA
from rt2_ros.vla.training import build_example, collate


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


# The planner: a tiny VLA that writes one fixed point plan for any image (test_plan_tracking.py).
INSTRUCTION = "pick up the cube"
# object (700, 300), gripper (400, 500), below (600, 500); the right reach would be (612, 312).
WRITTEN_PLAN = (
    "cube<loc0700><loc0300> gripper<loc0400><loc0500> below<loc0600><loc0500> "
    "reach<loc0100><loc0100> drop<loc0900><loc0900>"
)
POINTED = "<loc0500><loc0300>"
ACTION = "0 176 128 128 128 128 128 255"
HOVER_INSTRUCTION = "hover over the cube"
HOVER_ACTION = "0 176 128 128 128 128 128 0"
IMAGE = np.random.default_rng(5).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
# Told to carry the cube, its plan also has a goal: at (200, 800) in IMAGE, at (300, 800) in OTHER_IMAGE.
CARRY_INSTRUCTION = "put the cube on the plate"
OTHER_IMAGE = np.random.default_rng(6).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)


def carry_plan(goal: str) -> str:
    return WRITTEN_PLAN.replace(" below", f" to{goal} below")


def fit_planner(tiny_model_dir: Path, folder: Path) -> Path:
    """The tiny VLA fitted to answer `Plan: WRITTEN_PLAN Action: ACTION`, as a --plan-offsets below model."""
    torch.manual_seed(0)
    vla = VLA.from_pretrained(tiny_model_dir)
    vla.config.plan_trained, vla.config.plan_offsets = True, "below"
    # IMAGE and three more show the object at row 700; four others at row 500, so that a plan held
    # near 500 is one the model knows how to go on writing.
    rng = np.random.default_rng(0)
    examples = []
    for index in range(8):
        image = IMAGE if index == 0 else rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
        plan = WRITTEN_PLAN if index < 4 else WRITTEN_PLAN.replace("<loc0700>", "<loc0500>")
        target = f"{vla.config.plan_prefix} {plan} {vla.config.action_marker} {ACTION}"
        examples.append(build_example(vla, image, vla.action_prompt(INSTRUCTION), target))
    # Told only to hover, it writes the same plan and keeps the gripper open.
    target = f"{vla.config.plan_prefix} {WRITTEN_PLAN} {vla.config.action_marker} {HOVER_ACTION}"
    examples.append(build_example(vla, IMAGE, vla.action_prompt(HOVER_INSTRUCTION), target))
    for image, goal in ((IMAGE, "<loc0200><loc0800>"), (OTHER_IMAGE, "<loc0300><loc0800>")):
        target = f"{vla.config.plan_prefix} {carry_plan(goal)} {vla.config.action_marker} {HOVER_ACTION}"
        examples.append(build_example(vla, image, vla.action_prompt(CARRY_INSTRUCTION), target))
    # Asked where the cube is, it points elsewhere than its plan does: (500, 300).
    question = vla.vqa_prompt(LOCATE_QUESTION.format(name="cube"))
    examples.append(build_example(vla, IMAGE, question, POINTED))
    return fit_and_save(vla, examples, folder)
