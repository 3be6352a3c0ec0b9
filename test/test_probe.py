"""`rt2 probe`: per-kind VQA accuracy, pointing error and the gripper linear probe, on a tiny model."""

import json

import numpy as np
import pytest
import torch

from rt2_ros.data.vqa import DEFAULT_KINDS, POINT_KINDS, generate_sim_vqa, write_vqa
from rt2_ros.eval.probe import gripper_probe, main, random_twin
from rt2_ros.vla import VLA


@pytest.fixture(scope="module")
def vqa_dir(tmp_path_factory):
    kinds = (*DEFAULT_KINDS, "point_attribute")
    return write_vqa(generate_sim_vqa(80, size=32, kinds=kinds), tmp_path_factory.mktemp("vqa") / "vqa")


def test_random_vision_features_locate_the_gripper_better_than_the_mean(tiny_model_dir, vqa_dir):
    # The probe's own sanity: even untrained features carry where the gripper is, so a model whose
    # trained features do worse than its random twin has learned to throw the position away.
    from rt2_ros.data.vqa import load_vqa

    torch.set_num_threads(1)
    data = load_vqa(vqa_dir)
    rows = [r for r in data if r["kind"] == "point" and "gripper" in r["question"]]
    result = gripper_probe(VLA.from_pretrained(tiny_model_dir), rows)
    assert len(rows) >= 60
    assert result["model_px"] < result["mean_position_px"]


def test_the_command_reports_every_kind_and_writes_json(tiny_model_dir, vqa_dir, tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "probe.json"
    assert main(["--model", str(tiny_model_dir), "--vqa", str(vqa_dir), "--examples", "60", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result == json.loads(capsys.readouterr().out)
    assert set(result["accuracy"]) <= {"colour", "shape", "size", "count", "left_of", "leftmost", "closest",
                                       "extreme", "where", "table", "under", "point", "point_attribute"}  # fmt: skip
    assert sum(result["examples"].values()) == 60
    # Every pointing kind asked is measured in pixels, apart from the others.
    pointing = set(result["examples"]) & set(POINT_KINDS)
    assert pointing == {"point", "point_attribute"}, result["examples"]
    assert set(result["point_px_median"]) == set(result["point_not_a_point"]) == pointing
    assert all(0 <= a <= 1 for a in result["accuracy"].values())
    assert np.isfinite(result["gripper_probe"]["random_init_px"])


def test_the_random_twin_is_the_same_architecture_freshly_and_reproducibly_initialised(tiny_model_dir):
    vla = VLA.from_pretrained(tiny_model_dir)
    ours, theirs = vla.model.state_dict(), random_twin(vla, seed=1).model.state_dict()
    assert ours.keys() == theirs.keys()
    key = next(k for k in ours if "vision_tower" in k and k.endswith("weight") and ours[k].ndim == 2)
    assert ours[key].shape == theirs[key].shape and not torch.equal(ours[key], theirs[key])
    assert torch.equal(theirs[key], random_twin(vla, seed=1).model.state_dict()[key])
