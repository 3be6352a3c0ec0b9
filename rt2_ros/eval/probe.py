"""`rt2 probe`: does a model see? VQA accuracy per kind, pointing error in pixels, and a linear probe.

Closed-loop success says *that* a policy fails; this says whether the image gets through. It asks
held-out sim VQA questions (every 20th example, the ones `rt2 train` validates on) and reports
exact-match accuracy per kind, the median pixel error of each pointing kind's answers, and how well a ridge
regression on the vision tower's output features locates the gripper (against predicting the
mean position, and against the same tower at random initialisation): features that carry the
gripper's position no better than random ones mean training has not taught the tower to see.

    rt2 probe --model models/rt2-sim --vqa runs/data/vqa --examples 300
    rt2 probe --model models/rt2-sim --grounding 5     # plan models: first-frame grounding in the sim
    rt2 probe --model models/rt2-sim --goal-tiles 60   # each tile of 60 place_on_tile layouts, by its name

--grounding N asks a plan-trained model, on the first frame of N training, N evaluation and N
unseen-object scenes per task, where the named object is: in its plan and as a VQA point
(rt2_ros.eval.grounding).
--goal-tiles N asks, for every tile of N place_on_tile layouts, where the policy finds "the number 3
tile": by glimpses when the model's config reads them, and by its own point (rt2_ros.eval.goal_finding).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rt2_ros.data.vqa import POINT_KINDS
from rt2_ros.plan_grammar import LOC_BINS

LOC = re.compile(r"<loc(\d{4})><loc(\d{4})>")
VAL_EVERY = 20  # as rt2_ros.train._split_vqa


def point_px(text: str, size: int) -> np.ndarray | None:
    """The first `<locY><locX>` point in text, as (row, column) pixels of a size x size image; None if none."""
    match = LOC.search(text)
    return None if match is None else np.array([int(match[1]), int(match[2])]) * size / LOC_BINS


def vqa_by_kind(vla, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Exact-match accuracy per kind and, per pointing kind, the median pixel error of its answers (greedy)."""
    from rt2_ros.vla.decoding import answer_text

    hits, counts, errors = Counter(), Counter(), defaultdict(list)
    for row in rows:
        answer = answer_text(vla, vla.encode_prompt(row["image"], vla.vqa_prompt(row["question"]))).strip()
        kind = row.get("kind") or "any"
        counts[kind] += 1
        hits[kind] += answer.lower() == str(row["answer"]).strip().lower()
        if kind in POINT_KINDS:  # an exact point is rare and means little: how far off it is does
            size = np.asarray(row["image"]).shape[0]
            truth, guess = point_px(str(row["answer"]), size), point_px(answer, size)
            errors[kind].append(None if guess is None else float(np.linalg.norm(guess - truth)))
    out: dict[str, Any] = {"accuracy": {k: hits[k] / counts[k] for k in sorted(counts)}, "examples": dict(counts)}
    if errors:  # answers that are not a <locY><locX> point are counted apart (strict JSON has no infinity)
        parsed = {kind: [e for e in found if e is not None] for kind, found in errors.items()}
        out["point_px_median"] = {kind: float(np.median(p)) if p else None for kind, p in sorted(parsed.items())}
        out["point_not_a_point"] = {kind: len(errors[kind]) - len(p) for kind, p in sorted(parsed.items())}
    return out


def vision_features(vla, images: list[Any]) -> np.ndarray:
    """(N, tokens * width) output features of the vision tower, flattened in token order."""
    out = []
    with torch.no_grad():
        for start in range(0, len(images), 64):
            pixels = vla.processor.image_processor(images[start : start + 64], return_tensors="pt")["pixel_values"]
            features = vla.model.model.vision_tower(pixels.to(vla.model.dtype)).last_hidden_state
            out.append(features.reshape(len(features), -1).float().numpy())
    return np.concatenate(out)


def ridge_error(features: np.ndarray, targets: np.ndarray, train: int, strength: float = 100.0) -> float:
    """Median test error of a ridge regression fitted on the first `train` rows (dual form: rows < features)."""
    x_train, x_test = features[:train], features[train:]
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    offset = targets[:train].mean(0)
    alpha = np.linalg.solve(x_train @ x_train.T + strength * np.eye(train), targets[:train] - offset)
    predicted = x_test @ (x_train.T @ alpha) + offset
    return float(np.median(np.linalg.norm(predicted - targets[train:], axis=1)))


def gripper_probe(vla, rows: list[dict[str, Any]], random_vla=None) -> dict[str, float]:
    """Linear-probe error (px) of the gripper's position from vision features; rows: 'point to the gripper' examples."""
    images = [row["image"] for row in rows]
    size = np.asarray(images[0]).shape[0]
    targets = np.stack([point_px(str(row["answer"]), size) for row in rows])
    train = int(len(rows) * 0.8)
    out = {
        "mean_position_px": float(np.median(np.linalg.norm(targets[train:] - targets[:train].mean(0), axis=1))),
        "model_px": ridge_error(vision_features(vla, images), targets, train),
    }
    if random_vla is not None:
        out["random_init_px"] = ridge_error(vision_features(random_vla, images), targets, train)
    return out


def random_twin(vla, seed: int = 0):
    """The same architecture at random initialisation, for the probe's baseline (shares the processor)."""
    from types import SimpleNamespace

    torch.manual_seed(seed)
    model = type(vla.model)(vla.model.config).eval()
    return SimpleNamespace(processor=vla.processor, model=model)


def probe(model: str, vqa: str, examples: int, gripper_examples: int) -> dict[str, Any]:
    from rt2_ros.data.vqa import load_vqa
    from rt2_ros.vla.model import VLA

    vla = VLA.from_pretrained(model)
    vla.model.eval()
    data = load_vqa(vqa)
    held_out = np.arange(VAL_EVERY - 1, len(data), VAL_EVERY)
    rows = [data[int(i)] for i in held_out[:examples]]
    result: dict[str, Any] = {"model": model, "vqa": vqa, **vqa_by_kind(vla, rows)}
    if "kind" in data.column_names:
        kinds, questions = np.asarray(data["kind"]), data["question"]
        gripper = [i for i in np.flatnonzero(kinds == "point") if "gripper" in questions[i]][:gripper_examples]
        if len(gripper) >= 20:
            result["gripper_probe"] = gripper_probe(vla, [data[int(i)] for i in gripper], random_twin(vla))
    return result


def grounding(model: str, seeds_per_task: int) -> dict[str, Any]:
    """first_frame_grounding in a sim with the robot, camera and image size the model was trained on."""
    from rt2_ros.eval.cli import SCENE_CAMERA, training_info
    from rt2_ros.eval.grounding import first_frame_grounding
    from rt2_ros.policy import Policy
    from rt2_ros.sim.env import TabletopSim

    info = training_info(model)
    camera = info.get("camera", SCENE_CAMERA)
    sim = TabletopSim(info.get("robot", "ur5e"), cameras={camera: tuple(info.get("camera_size", (96, 96)))})
    try:
        return first_frame_grounding(Policy.from_pretrained(model), sim, camera, seeds_per_task)
    finally:
        sim.close()


def goal_tiles(model: str, scenes: int) -> dict[str, Any]:
    """goal_finding in a sim rendering the model's camera sharper by its goal_glimpse_zoom."""
    from rt2_ros.eval.cli import SCENE_CAMERA, training_info
    from rt2_ros.eval.goal_finding import goal_finding
    from rt2_ros.policy import Policy
    from rt2_ros.sim.env import TabletopSim

    info = training_info(model)
    camera = info.get("camera", SCENE_CAMERA)
    policy = Policy.from_pretrained(model)
    zoom = policy.vla.config.goal_glimpse_zoom
    size = tuple(info.get("camera_size", (96, 96)))
    sim = TabletopSim(info.get("robot", "ur5e"), cameras={camera: size}, detail_zoom=max(zoom, 1))
    try:
        return goal_finding(policy, sim, camera, scenes, zoom)
    finally:
        sim.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rt2 probe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="model folder")
    parser.add_argument("--vqa", help="an `rt2 vqa` folder (with kind and point questions)")
    parser.add_argument("--grounding", type=int, default=0, metavar="N", help="sim scenes per task and split (0: none)")
    parser.add_argument("--goal-tiles", type=int, default=0, metavar="N", help="place_on_tile layouts (0: none)")
    parser.add_argument("--examples", type=int, default=300, help="held-out VQA questions to ask")
    parser.add_argument("--gripper-examples", type=int, default=1000, help="images for the linear probe")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    if not (args.vqa or args.grounding or args.goal_tiles):
        parser.error("give --vqa, --grounding N, --goal-tiles N or several")
    torch.set_num_threads(args.threads)
    result = probe(args.model, args.vqa, args.examples, args.gripper_examples) if args.vqa else {"model": args.model}
    if args.grounding:
        result["grounding"] = grounding(args.model, args.grounding)
    if args.goal_tiles:
        result["goal_tiles"] = goal_tiles(args.model, args.goal_tiles)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
