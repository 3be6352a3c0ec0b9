"""rt2 train on real tiny models and real sim data: exact resume after a kill, the loss falls, LoRA, bounds."""

import json
import os
import signal
import time

import numpy as np
import pytest
import torch

from rt2_ros.autocast import bf16_autocast_pays
from rt2_ros.data.collect import collect
from rt2_ros.data.dataset import DatasetError
from rt2_ros.data.vqa import generate_sim_vqa, write_vqa
from rt2_ros.gripper_state import GripperState
from rt2_ros.policy import Policy
from rt2_ros.train import main as train
from rt2_ros.train_data import action_statistics, load_robot_steps
from rt2_ros.vla.config import VLAConfig
from rt2_ros.vla.model import VLA

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    collect(root / "robot", ["pick", "push"], 2, size=32, progress=False)
    write_vqa(generate_sim_vqa(12, size=32), root / "vqa")
    return root


def common(data, steps):
    return [
        "--data", str(data / "robot"), "--vqa", str(data / "vqa"), "--tiny", "tiny", "--steps", str(steps),
        "--batch-size", "4", "--warmup", "3", "--lr", "1e-3", "--threads", "1", "--no-progress",
        "--val-examples", "4",
    ]  # fmt: skip


def metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_resume_after_kill_matches_an_uninterrupted_run(tmp_path, data, children):
    args = common(data, 40) + ["--checkpoint-every", "4", "--eval-every", "100", "--log-every", "1"]
    assert train([str(tmp_path / "whole"), *args]) == 0

    killed = tmp_path / "killed"
    process = children.start("-m", "rt2_ros.cli", "train", str(killed), *args, stdout=None, stderr=None)
    while not list((killed / "checkpoints").glob("step-*.pt")) and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    at_kill = sorted((killed / "checkpoints").glob("step-*.pt"))
    assert at_kill and at_kill[-1].name < "step-00000040.pt", "the run ended before it could be killed"

    assert train([str(killed), *args]) == 0  # the same command resumes
    whole = torch.load(tmp_path / "whole/checkpoints/step-00000040.pt", weights_only=False)
    resumed = torch.load(killed / "checkpoints/step-00000040.pt", weights_only=False)
    for key, value in whole["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    assert whole["optimizer"]["state"][0]["exp_avg"].equal(resumed["optimizer"]["state"][0]["exp_avg"])
    assert whole["scheduler"] == resumed["scheduler"]
    logged = [m["step"] for m in metrics(killed) if "train/loss" in m]
    assert logged == list(range(1, 41)), "steps logged after the last checkpoint are dropped on resume"
    last = {m["step"]: m["train/loss"] for m in metrics(killed) if "train/loss" in m}
    assert last[40] == {m["step"]: m["train/loss"] for m in metrics(tmp_path / "whole") if "train/loss" in m}[40]


@pytest.mark.slow
def test_a_150_step_run_lowers_the_loss_and_saves_a_policy(tmp_path, data):
    run = tmp_path / "run"
    assert (
        train([str(run), *common(data, 150), "--log-every", "10", "--eval-every", "75", "--checkpoint-every", "75"])
        == 0
    )
    losses = [m["train/loss"] for m in metrics(run) if "train/loss" in m]
    assert losses[-1] < 0.6 * losses[0], losses
    assert any("val/action_token_acc" in m for m in metrics(run)) and any("val/vqa_acc" in m for m in metrics(run))
    assert all(-1 <= m["val/motion_corr"] <= 1 for m in metrics(run) if "val/action_token_acc" in m)
    # Bounds came from the data's 1st/99th percentiles and travel with the model.
    config = VLAConfig.load(run / "model")
    expected = np.percentile(action_statistics([data / "robot"]), [1, 99], axis=0)
    assert np.allclose(config.actions.low[:6], expected[0][:6]) and config.actions.source == "percentile 1-99"
    facts = json.loads((run / "model/training.json").read_text())
    assert (facts["robot"], facts["camera"], facts["camera_size"]) == ("ur5e", "scene", [32, 32])
    policy = Policy.from_pretrained(run / "model")
    action = policy.act(np.zeros((32, 32, 3), np.uint8), "pick up the red cube")
    assert action.delta.shape == (6,)


def test_lora_and_parallel_training_save_a_loadable_model(tmp_path, data):
    run = tmp_path / "lora"
    args = common(data, 3) + ["--finetune", "lora", "--lora-rank", "4", "--parallel", "--eval-every", "3"]
    assert train([str(run), *args]) == 0
    config = VLAConfig.load(run / "model")
    assert config.parallel_trained
    policy = Policy.from_pretrained(run / "model", decoding="parallel")
    assert len(policy.act(np.zeros((32, 32, 3), np.uint8), "push the red cube to the left").tokens) == 8
    state = torch.load(run / "checkpoints/step-00000003.pt", weights_only=False)
    assert any("lora_A" in key for key in state["model"])
    # no --bf16 given: autocast only where the hardware does bf16 (emulated, a step is 16-27x slower)
    assert json.loads((run / "args.json").read_text())["bf16"] is bf16_autocast_pays()


def test_a_new_run_needs_a_starting_model(tmp_path, data):
    with pytest.raises(SystemExit, match="--init, --base or --tiny"):
        train([str(tmp_path / "r"), "--data", str(data / "robot"), "--steps", "1"])


def test_freeze_vision_keeps_the_tower_and_trains_the_rest(tmp_path, data):
    run = tmp_path / "frozen"
    assert train([str(run), *common(data, 3), "--freeze-vision", "--eval-every", "3"]) == 0
    before, after = VLA.from_pretrained(run / "init").model, VLA.from_pretrained(run / "model").model
    tower = dict(after.model.vision_tower.named_parameters())
    assert all(torch.equal(p, tower[k]) for k, p in before.model.vision_tower.named_parameters())
    projector = dict(after.model.multi_modal_projector.named_parameters())
    assert any(not torch.equal(p, projector[k]) for k, p in before.model.multi_modal_projector.named_parameters())


def test_vision_from_puts_a_pretrained_tower_under_a_fresh_decoder(tmp_path, data):
    donor = train([str(tmp_path / "donor"), *common(data, 2), "--eval-every", "2"])
    assert donor == 0
    run = tmp_path / "fresh"
    args = [str(run), *common(data, 1), "--seed", "1"]  # another seed: another fresh decoder than the donor's
    assert train([*args, "--vision-from", str(tmp_path / "donor" / "model")]) == 0
    source, start = VLA.from_pretrained(tmp_path / "donor" / "model").model, VLA.from_pretrained(run / "init").model
    tower = dict(start.model.vision_tower.named_parameters())
    assert all(torch.equal(p.float(), tower[k].float()) for k, p in source.model.vision_tower.named_parameters())
    decoder = dict(start.model.language_model.named_parameters())
    assert any(
        not torch.equal(p.float(), decoder[k].float()) for k, p in source.model.language_model.named_parameters()
    )


def test_plans_train_a_model_that_always_writes_its_plan(tmp_path, data):
    from rt2_ros.data.plan_points import main as make_plans

    with pytest.raises(DatasetError, match="rt2 plans"):  # the steps have no plans yet
        train([str(tmp_path / "none"), *common(data, 1), "--plans"])
    assert make_plans([str(data / "robot")]) == 0
    run = tmp_path / "plans"
    assert train([str(run), *common(data, 3), "--plans", "--loc-sigma", "16", "--eval-every", "3"]) == 0
    assert VLAConfig.load(run / "model").plan_trained
    assert any("val/plan_point_err_px" in m for m in metrics(run))
    policy = Policy.from_pretrained(run / "model")
    assert policy.chain_of_thought, "a model trained with plans decodes its plan by default"
    with pytest.raises(ValueError, match="trained to write a plan"):
        Policy.from_pretrained(run / "model", chain_of_thought=False)
    with pytest.raises(SystemExit):
        train([str(tmp_path / "both"), *common(data, 1), "--plans", "--parallel"])
    with pytest.raises(SystemExit):  # offsets extend a plan: alone they have nothing to extend
        train([str(tmp_path / "offsets"), *common(data, 1), "--plan-offsets", "gripper"])
    offsets = tmp_path / "offsets"
    assert train([str(offsets), *common(data, 1), "--plans", "--plan-offsets", "below", "--gripper-state"]) == 0
    assert VLAConfig.load(offsets / "model").plan_offsets == "below" and VLAConfig.load(offsets / "model").gripper_state
    assert not VLAConfig.load(run / "model").plan_offsets and not VLAConfig.load(run / "model").gripper_state
    steps = load_robot_steps([data / "robot"], plans=True, plan_offsets="below").train
    assert all(" below<loc" in plan and " reach<loc" in plan and " drop<loc" in plan for plan in steps["plan"])
    # Each step's gripper state is what the commands before it in its episode left.
    episodes, commands = np.asarray(steps["episode_index"]), np.asarray(steps["action"])[:, 6]
    for rows in (np.flatnonzero(episodes == e) for e in np.unique(episodes)):
        rows = rows[np.argsort(np.asarray(steps["step_index"])[rows])]
        states = [steps[int(r)]["gripper_state"] for r in rows]
        assert states[0] == "gripper open 9"
        before = commands[rows[:-1]]
        assert all(s.startswith("gripper closed") == (c > 0.5) for s, c in zip(states[1:], before, strict=True))
    # The frames that close or open the gripper can be repeated; every other step stays single.
    repeated = load_robot_steps([data / "robot"], plans=True, gripper_change_repeat=3).train
    extra = len(repeated) - len(steps)
    changes = [r for r in repeated.select(range(len(steps), len(repeated)))]
    assert extra > 0 and extra % 2 == 0, "each change frame appears twice more"
    assert all((r["action"][6] > 0.5) != r["gripper_state"].startswith("gripper closed") for r in changes)
    # The policy keeps that state from its own actions and puts it in the prompt; a reset opens it again.
    policy = Policy.from_pretrained(offsets / "model")
    with pytest.raises(ValueError, match="gripper_state"):
        policy.vla.action_prompt("pick up the cube")
    action = policy.act(np.zeros((32, 32, 3), np.uint8), "pick up the cube")
    assert policy.gripper_state == GripperState().after(action.gripper)
    policy.reset()
    assert policy.gripper_state == GripperState()
