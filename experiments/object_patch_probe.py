"""Does the vision tower tell objects apart where they stand? A linear probe on the patch under each object.

Session 5 question: a plan-trained model points at the named object on episode start frames no
better than a blind guess. Either the tower's features do not say which object a patch shows, or
the decoder does not use them. This renders scenes with the arm at home (seeds from 3,000,000,
apart from robot, evaluation and VQA seeds), takes the tower's output feature of the patch under
each object's centre, and fits softmax regressions (torch; 80% of objects to fit, 20% to score) for
the object's colour and for its shape, against always guessing the most common class.

    .venv/bin/python experiments/object_patch_probe.py --model runs/s4-objfirst/model --scenes 600
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from rt2_ros.eval.probe import vision_features
from rt2_ros.policy import Policy
from rt2_ros.sim import TabletopSim
from rt2_ros.sim.tasks import task_names

PROBE_SEED_START = 3_000_000


def softmax_probe(features: torch.Tensor, labels: list[str], fit: int, steps: int = 300) -> tuple[float, float]:
    """(held-out accuracy, majority-class accuracy) of a softmax regression on standardised features."""
    classes = sorted(set(labels))
    target = torch.tensor([classes.index(label) for label in labels])
    weight = torch.zeros(features.shape[1], len(classes), requires_grad=True)
    bias = torch.zeros(len(classes), requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        logits = features[:fit] @ weight + bias
        loss = torch.nn.functional.cross_entropy(logits, target[:fit]) + 1e-3 * weight.pow(2).sum()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = ((features[fit:] @ weight + bias).argmax(1) == target[fit:]).float().mean().item()
    majority = max(float(np.mean(np.array(labels[fit:]) == c)) for c in classes)
    return accuracy, majority


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--scenes", type=int, default=600)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()
    torch.set_num_threads(1)
    vla = Policy.from_pretrained(args.model).vla
    sim = TabletopSim("ur5e", cameras={"scene": (args.size, args.size)})
    tasks = task_names()
    images, objects = [], []
    for scene in range(args.scenes):
        instance = sim.reset(tasks[scene % len(tasks)], PROBE_SEED_START + scene)
        images.append(sim.render("scene"))
        objects.append([(sim.project(sim.object_position(o.name), "scene"), o) for o in instance.layout.objects])
    sim.close()
    features = vision_features(vla, images)
    grid = vla.model.config.vision_config.image_size // vla.model.config.vision_config.patch_size
    features = features.reshape(len(images), grid * grid, -1)
    rows, colours, shapes = [], [], []
    for feature, seen in zip(features, objects, strict=True):
        for (column, row), obj in seen:
            patch = int(row * grid / args.size) * grid + int(column * grid / args.size)
            if 0 <= patch < grid * grid:
                rows.append(feature[patch])
                colours.append(obj.colour)
                shapes.append(obj.shape)
    x = torch.tensor(np.stack(rows), dtype=torch.float32)
    fit = int(0.8 * len(x))
    x = (x - x[:fit].mean(0)) / (x[:fit].std(0) + 1e-5)
    for name, labels in (("colour", colours), ("shape", shapes)):
        accuracy, majority = softmax_probe(x, labels, fit)
        print(f"{name}: {accuracy:.3f} held out (most common class {majority:.3f}), {len(x) - fit} objects")


if __name__ == "__main__":
    main()
