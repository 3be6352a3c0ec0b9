"""Teaching the vision tower to see: patch labels match the render, position reaches the tokens, pretraining helps."""

import json

import numpy as np
import pytest
import torch

from rt2_ros.data.patch_labels import ARM, CLASSES, FIRST_OBJECT, GRIPPER, OTHER, PatchLabeller, labelled_scenes
from rt2_ros.sim import TabletopSim
from rt2_ros.vision_pretrain import main as pretrain_vision
from rt2_ros.vla.model import VLA
from rt2_ros.vla.position_code import sincos_2d
from rt2_ros.vla.tiny import build_tiny_vla

torch.set_num_threads(1)
SIZE, PATCH = 96, 12


@pytest.fixture(scope="module")
def sim():
    sim = TabletopSim("ur5e", cameras={"scene": (SIZE, SIZE)})
    yield sim
    sim.close()


def _patch_of(pixel) -> int:
    column, row = int(pixel[0]) // PATCH, int(pixel[1]) // PATCH
    return row * (SIZE // PATCH) + column


def test_each_object_is_labelled_with_its_colour_and_shape_where_it_is_drawn(sim):
    hits = total = 0
    for _, labels, _ in labelled_scenes(sim, 12, seed=5_000_000):
        assert labels.shape == (64,) and labels.min() >= 0 and labels.max() < len(CLASSES)
        for placed in sim.task.layout.objects:
            pixel = sim.project(sim.object_position(placed.name))
            if not (0 <= pixel[0] < SIZE and 0 <= pixel[1] < SIZE):
                continue
            name = CLASSES.index(f"{placed.colour} {placed.shape}")
            total += 1
            hits += name in labels  # small objects can straddle patches, so look for the class, then its place
            if name in labels:
                where = np.flatnonzero(labels == name)
                rows, columns = where // 8, where % 8
                assert abs(rows.mean() - pixel[1] / PATCH) < 1.5 and abs(columns.mean() - pixel[0] / PATCH) < 1.5
    assert total >= 24 and hits / total >= 0.8


def test_the_gripper_and_arm_are_labelled_and_most_of_the_table_is_other(sim):
    near = 0
    scenes = list(labelled_scenes(sim, 10, seed=5_100_000))
    for _, labels, gripper in scenes:
        assert (labels == OTHER).mean() > 0.4
        assert (labels == ARM).any()
        g = _patch_of(gripper)
        neighbours = [g + d for d in (-9, -8, -7, -1, 0, 1, 7, 8, 9) if 0 <= g + d < 64]
        near += bool(np.isin(GRIPPER, labels[neighbours]))
    assert near >= 8


def test_labels_are_reproducible_from_the_seed(sim):
    first = [labels for _, labels, _ in labelled_scenes(sim, 3, seed=5_200_000)]
    second = [labels for _, labels, _ in labelled_scenes(sim, 3, seed=5_200_000)]
    assert all((a == b).all() for a, b in zip(first, second, strict=True))
    assert PatchLabeller(sim)().shape == (64,)


def test_sincos_code_tells_every_patch_apart_and_neighbours_are_closer():
    code = sincos_2d(8, 256)
    similarity = code @ code.T
    assert torch.allclose(similarity.diagonal(), torch.ones(64))
    assert (similarity - torch.eye(64) * 2).max() < 0.999  # no two patches share a code
    assert similarity[0, 1] > similarity[0, 7] and similarity[0, 8] > similarity[0, 56]


def _position_probe_error(vla, images) -> float:
    """Mean error (patches) of a linear read-out of a token's column from its own output features."""
    pixels = vla.processor.image_processor(images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        tokens = vla.model.model.vision_tower(pixels).last_hidden_state
    side = int(tokens.shape[1] ** 0.5)
    x = torch.cat([tokens.reshape(-1, tokens.shape[-1]), torch.ones(tokens.shape[0] * tokens.shape[1], 1)], 1).double()
    column = (torch.arange(tokens.shape[1]) % side).repeat(tokens.shape[0]).double()
    n = x.shape[0] * 3 // 4
    w = torch.linalg.solve(x[:n].T @ x[:n] + torch.eye(x.shape[1], dtype=torch.float64), x[:n].T @ column[:n])
    return float((x[n:] @ w - column[n:]).abs().mean())


def test_a_new_tiny_tower_knows_where_each_token_is(tmp_path, sim):
    images = [image for image, _, _ in labelled_scenes(sim, 12, seed=5_300_000)]
    vla = VLA.from_pretrained(build_tiny_vla(tmp_path / "m", size="20m-96"))
    assert _position_probe_error(vla, images) < 0.5  # chance is ~2 patches of 8


def test_pretrain_vision_teaches_the_tower_and_writes_a_loadable_model(tmp_path):
    init = build_tiny_vla(tmp_path / "init", size="20m-96")
    out = tmp_path / "out"
    args = ["--init", str(init), "--scenes", "60", "--steps", "40", "--threads", "1", "--no-progress"]
    assert pretrain_vision([str(out), *args, "--position-code"]) == 0
    report = json.loads((out / "vision_pretrain.json").read_text())
    assert report["after"]["gripper_patch_acc"] > max(0.5, report["before"]["gripper_patch_acc"])
    assert report["after"]["position_error_patches"] < 1.0
    trained, original = VLA.from_pretrained(out), VLA.from_pretrained(init)
    tower = dict(trained.model.model.vision_tower.named_parameters())
    untouched = dict(original.model.model.vision_tower.named_parameters())
    assert any(not torch.equal(tower[k], untouched[k]) for k in tower)
    decoder = dict(trained.model.model.language_model.named_parameters())
    assert all(torch.equal(p, decoder[k]) for k, p in original.model.model.language_model.named_parameters())
    assert FIRST_OBJECT == 3 + sum(name.startswith("tile ") for name in CLASSES)
