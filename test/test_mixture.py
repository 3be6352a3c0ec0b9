"""The co-fine-tuning mixture: the robot fraction holds, the schedule is reproducible and resumable,
every source is read in full each epoch, and training labels cover the answer only."""

import numpy as np
import pytest
import torch

from rt2_ros.data.mixture import ROBOT, VQA, MixtureSchedule
from rt2_ros.train_data import robot_example, vqa_example
from rt2_ros.vla.model import VLA
from rt2_ros.vla.tiny import build_tiny_vla
from rt2_ros.vla.training import IGNORE

torch.set_num_threads(1)


@pytest.mark.parametrize("fraction", [0.5, 0.66, 0.0, 1.0])
def test_robot_fraction_holds(fraction):
    schedule = MixtureSchedule(700, 300, fraction, seed=3)
    sources = [schedule[i][0] for i in range(5000)]
    assert sources.count(ROBOT) == round(fraction * 1000) * 5  # exact in every block of 1000
    window = sources[1234 : 1234 + 400]  # and close to it in any window
    assert abs(window.count(ROBOT) / 400 - fraction) < 0.1


def test_schedule_is_reproducible_resumable_and_covers_each_epoch():
    a, b = MixtureSchedule(50, 80, 0.5, seed=1), MixtureSchedule(50, 80, 0.5, seed=1)
    first = [a[i] for i in range(3000)]
    assert first == [b[i] for i in range(3000)]
    resumed = b.iterate(start=1700)
    assert [next(resumed) for _ in range(1300)] == first[1700:]
    assert first != [MixtureSchedule(50, 80, 0.5, seed=2)[i] for i in range(3000)]
    robot = [j for s, j in first if s == ROBOT]
    vqa = [j for s, j in first if s == VQA]
    assert sorted(robot[:50]) == list(range(50)) and sorted(robot[50:100]) == list(range(50))
    assert sorted(vqa[:80]) == list(range(80))
    assert robot[:50] != robot[50:100]  # a fresh order each epoch


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError):
        MixtureSchedule(10, 10, 1.5)
    with pytest.raises(ValueError, match="no VQA"):
        MixtureSchedule(10, 0, 0.5)


@pytest.fixture(scope="module")
def vla(tmp_path_factory):
    return VLA.from_pretrained(build_tiny_vla(tmp_path_factory.mktemp("m") / "tiny"))


def test_labels_mask_the_prompt(vla):
    image = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    row = {"images": {"scene": image}, "instruction": "pick up the red cube", "terminate": False,
           "action": [0.01, -0.02, 0.0, 0.0, 0.1, 0.0, 1.0]}  # fmt: skip
    example = robot_example(vla, row, "scene")
    prompt = vla.encode_prompt(image, vla.action_prompt(row["instruction"]))["input_ids"][0]
    labels = example["labels"]
    assert (labels[: len(prompt)] == IGNORE).all()
    bins = vla.actions.encode(row["action"])
    assert labels[len(prompt) :].tolist() == vla.action_ids[bins].tolist()
    assert example["input_ids"][: len(prompt)].tolist() == prompt.tolist()

    example = vqa_example(vla, {"image": image, "question": "what colour is the cube?", "answer": "red"})
    prompt = vla.encode_prompt(image, vla.vqa_prompt("what colour is the cube?"))["input_ids"][0]
    answer = example["labels"][len(prompt) :].tolist()
    assert (example["labels"][: len(prompt)] == IGNORE).all()
    assert answer == vla.text_ids("red") + [vla.tokenizer.eos_token_id]
