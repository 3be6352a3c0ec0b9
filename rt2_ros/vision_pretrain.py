"""`rt2 pretrain-vision`: teach a VLA's vision tower to see, from per-patch labels of sim scenes.

    rt2 pretrain-vision OUT --init models/rt2-sim --scenes 2000 --steps 300 --position-code

Renders `--scenes` sim scenes (every task's layouts, the arm posed at random) with their patch
labels (rt2_ros.data.patch_labels), then trains the tower with two linear heads on its output
tokens: the class of each patch (weighted up for the rare object, gripper and tile patches) and
the patch's own row and column. The second keeps position in the tokens, which the decoder needs
to answer "where" and to move towards things (rt2_ros.vla.position_code). OUT is the input model
with the new tower, ready for `rt2 train --init OUT`; the heads are dropped. OUT/vision_pretrain.json
holds the held-out scores before and after.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

CLASS_WEIGHT = {"other": 0.2, "arm": 1.0}  # others 3.0: objects are ~1% of patches and what instructions name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rt2 pretrain-vision", description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path, help="output model folder")
    p.add_argument("--init", required=True, help="the rt2_ros model folder whose tower to train")
    p.add_argument("--robot", default="ur5e")
    p.add_argument("--camera", default="scene")
    p.add_argument("--scenes", type=int, default=2000, help="labelled scenes; a tenth are held out")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--position-code", action="store_true", help="first reset the position embeddings to 2D sin-cos")
    p.add_argument("--position-weight", type=float, default=1.0, help="weight of the patch-position loss (MSE)")
    p.add_argument(
        "--reinit", action="store_true", help="start the tower from random weights (a tower that learned to ignore)"
    )
    p.add_argument("--seed", type=int, default=3_000_000, help="first scene seed (apart from robot and eval seeds)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def render_dataset(robot: str, camera: str, size: int, patch: int, n: int, seed: int, progress: bool):
    """Images (n, size, size, 3), patch classes (n, patches) and gripper pixels (n, 2), with a progress bar."""
    from tqdm import tqdm

    from rt2_ros.data.patch_labels import labelled_scenes
    from rt2_ros.sim import TabletopSim

    sim = TabletopSim(robot, cameras={camera: (size, size)})
    rows = tqdm(labelled_scenes(sim, n, seed, camera, patch), total=n, desc="label scenes", disable=not progress)
    images, labels, gripper = zip(*rows, strict=True)
    sim.close()
    return np.stack(images), np.stack(labels), np.stack(gripper)


class PatchHeads(torch.nn.Module):
    """Linear read-outs of each output token: its patch's class and its (row, column) in [0, 1]."""

    def __init__(self, width: int, n_classes: int) -> None:
        super().__init__()
        self.classes = torch.nn.Linear(width, n_classes)
        self.position = torch.nn.Linear(width, 2)


def patch_grid(tokens: int) -> torch.Tensor:
    side = int(round(tokens**0.5))
    index = torch.arange(tokens)
    return torch.stack([index // side, index % side], dim=1).float() / max(side - 1, 1)


def scores(tower, heads: PatchHeads, pixels: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Held-out patch accuracy by group and the position read-out's error in patches."""
    from rt2_ros.data.patch_labels import FIRST_OBJECT, FIRST_TILE, GRIPPER

    with torch.no_grad():
        tokens = torch.cat([tower(pixels[k : k + 64]).last_hidden_state for k in range(0, len(pixels), 64)])
        predicted = heads.classes(tokens).argmax(-1)
        position = heads.position(tokens)
    grid = patch_grid(tokens.shape[1])
    side = int(round(tokens.shape[1] ** 0.5))
    groups = {
        "object": labels >= FIRST_OBJECT,
        "tile": (labels >= FIRST_TILE) & (labels < FIRST_OBJECT),
        "gripper": labels == GRIPPER,
    }
    out = {f"{name}_patch_acc": float((predicted[m] == labels[m]).float().mean()) for name, m in groups.items()}
    out["position_error_patches"] = float(((position - grid).abs() * (side - 1)).mean())
    return out


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from rt2_ros.data.patch_labels import CLASSES
    from rt2_ros.eval.probe import ridge_error, vision_features
    from rt2_ros.vla.model import VLA
    from rt2_ros.vla.position_code import set_position_code

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vla = VLA.from_pretrained(args.init)
    tower = vla.model.model.vision_tower
    size, patch = tower.config.image_size, tower.config.patch_size
    start = time.time()
    images, labels, gripper = render_dataset(
        args.robot, args.camera, size, patch, args.scenes, args.seed, not args.no_progress
    )
    render_seconds = time.time() - start
    held = max(1, args.scenes // 10)
    train = args.scenes - held
    pixels = vla.processor.image_processor(list(images), return_tensors="pt")["pixel_values"]
    targets = torch.from_numpy(labels)

    def gripper_probe_px() -> float:
        return ridge_error(vision_features(vla, list(images)), gripper, train)

    report: dict[str, Any] = {"init": str(args.init), "args": {k: str(v) for k, v in vars(args).items()}}
    report["gripper_probe_px_before"] = gripper_probe_px()
    if args.reinit:
        torch.manual_seed(0)
        tower.load_state_dict(type(tower)(tower.config).state_dict())
    if args.position_code:
        report["position_scale"] = set_position_code(tower)
    heads = PatchHeads(tower.config.hidden_size, len(CLASSES))
    report["before"] = scores(tower, heads, pixels[train:], targets[train:])  # untrained heads: a floor
    weight = torch.tensor([CLASS_WEIGHT.get(name, 3.0) for name in CLASSES])
    grid = patch_grid(targets.shape[1])
    tower.train()
    optimizer = torch.optim.AdamW([*tower.parameters(), *heads.parameters()], lr=args.lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(0)
    bar = tqdm(range(args.steps), desc="pretrain vision", disable=args.no_progress)
    start, losses = time.time(), []
    for _ in bar:
        index = torch.randint(0, train, (args.batch_size,), generator=generator)
        tokens = tower(pixels[index]).last_hidden_state
        class_loss = torch.nn.functional.cross_entropy(
            heads.classes(tokens).flatten(0, 1), targets[index].flatten(), weight=weight
        )
        position_loss = torch.nn.functional.mse_loss(heads.position(tokens), grid.expand(len(index), -1, -1))
        (class_loss + args.position_weight * position_loss).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append((class_loss.item(), position_loss.item()))
        bar.set_postfix(classes=f"{losses[-1][0]:.3f}", position=f"{losses[-1][1]:.4f}")
    tower.eval()
    report.update(
        after=scores(tower, heads, pixels[train:], targets[train:]),
        gripper_probe_px_after=gripper_probe_px(),
        render_seconds=render_seconds,
        train_seconds=time.time() - start,
        final_losses=dict(zip(("classes", "position"), np.mean(losses[-20:], axis=0).tolist(), strict=True)),
        scenes=args.scenes,
        held_out=held,
    )
    vla.save_pretrained(args.out)
    (Path(args.out) / "vision_pretrain.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "args"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
