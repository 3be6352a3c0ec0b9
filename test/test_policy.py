"""The Policy API as the node and evaluation call it: Action contents, timing, and typed input errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rt2_ros.policy import Action, InvalidImageError, Policy
from rt2_ros.vla import CONFIG_NAME

torch.set_num_threads(1)

IMAGE = np.random.default_rng(0).integers(0, 256, size=(60, 80, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def policy(tiny_model_dir) -> Policy:
    return Policy.from_pretrained(tiny_model_dir)


def test_act_returns_a_complete_action(policy):
    action = policy.act(IMAGE, "pick up the red cube")
    assert isinstance(action, Action)
    assert action.delta.shape == (6,) and action.delta.dtype == np.float32
    assert 0.0 <= action.gripper <= 1.0 and isinstance(action.terminate, bool)
    assert len(action.tokens) == 8 and all(isinstance(t, int) for t in action.tokens)
    assert action.plan == ""
    assert {"preprocess", "model", "total"} <= set(action.timing_ms)
    assert action.timing_ms["total"] >= action.timing_ms["model"] > 0
    assert np.array_equal(action.as_array(), np.append(action.delta, action.gripper).astype(np.float32))
    values, terminate = policy.vla.actions.decode(action.tokens)  # tokens and values agree
    assert np.allclose(values, action.as_array()) and terminate == action.terminate
    assert policy.name == "tiny-paligemma"


def test_numpy_and_pil_images_give_the_same_action(policy):
    assert policy.act(IMAGE, "lift the cup").tokens == policy.act(Image.fromarray(IMAGE), "lift the cup").tokens


def test_greedy_acting_is_deterministic_and_sampling_replays_after_reset(tiny_model_dir, policy):
    assert policy.act(IMAGE, "lift the cup").tokens == policy.act(IMAGE, "lift the cup").tokens
    sampling = Policy.from_pretrained(tiny_model_dir, temperature=2.0, seed=3)
    first = [sampling.act(IMAGE, "lift the cup").tokens for _ in range(3)]
    sampling.reset()
    assert [sampling.act(IMAGE, "lift the cup").tokens for _ in range(3)] == first


@pytest.mark.parametrize(
    "image",
    [
        IMAGE.astype(np.float32),
        IMAGE[:, :, 0],
        np.zeros((0, 10, 3), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        "camera.png",
        None,
        Image.new("RGB", (0, 0)),
    ],
    ids=["float", "gray", "empty", "rgba-array", "path", "none", "empty-pil"],
)
def test_bad_images_raise_invalid_image_error(policy, image):
    with pytest.raises(InvalidImageError):
        policy.act(image, "pick up the cube")
    with pytest.raises(ValueError):  # InvalidImageError is a ValueError for callers that catch those
        policy.answer(image, "what is there?")


def test_empty_or_overlong_instructions_raise_naming_the_limit(policy):
    with pytest.raises(ValueError, match="empty"):
        policy.act(IMAGE, "   ")
    with pytest.raises(ValueError, match="limit is 512"):
        policy.act(IMAGE, "x" * 513)


def test_the_instruction_limit_is_saved_with_the_model(tiny_model_dir, tmp_path):
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    path = tmp_path / "m" / CONFIG_NAME
    path.write_text(json.dumps({**json.loads(path.read_text()), "max_instruction_chars": 20}))
    with pytest.raises(ValueError, match="limit is 20"):
        Policy.from_pretrained(tmp_path / "m").act(IMAGE, "put the red cube on the blue one")


def test_chain_of_thought_returns_a_plan_and_an_action(tiny_model_dir):
    action = Policy.from_pretrained(tiny_model_dir, chain_of_thought=True).act(IMAGE, "stack the blocks")
    assert action.plan and len(action.tokens) == 8


def test_answer_returns_text(policy):
    assert isinstance(policy.answer(IMAGE, "what color is the cube?"), str)


def test_parallel_decoding_is_refused_for_a_model_not_trained_for_it(tiny_model_dir):
    with pytest.raises(ValueError, match="not trained for parallel decoding"):
        Policy.from_pretrained(tiny_model_dir, decoding="parallel")
    unchecked = Policy.from_pretrained(tiny_model_dir, decoding="parallel", allow_untrained_parallel=True)
    assert len(unchecked.act(IMAGE, "go").tokens) == 8


def test_unknown_options_fail_clearly(tiny_model_dir):
    with pytest.raises(ValueError, match="unknown decoding"):
        Policy.from_pretrained(tiny_model_dir, decoding="beam")
    with pytest.raises(ValueError, match="unknown dtype"):
        Policy.from_pretrained(tiny_model_dir, dtype="fp8")
    with pytest.raises(ValueError, match="chain_of_thought decodes .* with decoding='kv'"):
        Policy.from_pretrained(tiny_model_dir, decoding="generate", chain_of_thought=True)


def test_readme_policy_example_runs(tmp_path, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split("<!-- policy-example -->\n```python\n")[1].split("```")[0]
    exec(code.replace("/tmp/tiny-vla", str(tmp_path / "tiny-vla")), {})
    printed = capsys.readouterr().out.splitlines()
    assert len(json.loads(printed[0])) == 8


@pytest.mark.slow
def test_compiled_vision_tower_gives_the_same_actions(tiny_model_dir):
    images = [np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8) for i in range(2)]
    plain = Policy.from_pretrained(tiny_model_dir)
    compiled = Policy.from_pretrained(tiny_model_dir, compile=True)
    for image in images:
        assert compiled.act(image, "pick up the cube").tokens == plain.act(image, "pick up the cube").tokens


def test_a_sticky_gripper_keeps_a_change_for_the_configured_steps(taught_model_dir, tmp_path):
    # The taught model closes the gripper for "move forward" and opens it for "move left", whatever the image.
    def grippers(steps: int) -> list[float]:
        folder = tmp_path / f"sticky{steps}"
        shutil.copytree(taught_model_dir, folder)
        config = json.loads((folder / CONFIG_NAME).read_text())
        (folder / CONFIG_NAME).write_text(json.dumps({**config, "gripper_sticky_steps": steps}))
        policy = Policy.from_pretrained(folder)
        actions = [policy.act(IMAGE, "move forward")] + [policy.act(IMAGE, "move left") for _ in range(4)]
        assert all(a.delta[1] > 0 for a in actions[1:])  # only the gripper is held; the arm follows the model
        return [a.gripper for a in actions]

    assert grippers(0) == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert grippers(3) == [1.0, 1.0, 1.0, 0.0, 0.0]  # closed 3 steps, then the model's choice


def test_gripper_sticky_steps_beyond_the_gripper_state_count_is_refused(tiny_model_dir, tmp_path):
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    config = json.loads((tmp_path / "m" / CONFIG_NAME).read_text())
    (tmp_path / "m" / CONFIG_NAME).write_text(json.dumps({**config, "gripper_sticky_steps": 10}))
    with pytest.raises(ValueError, match="gripper_sticky_steps must be 0"):
        Policy.from_pretrained(tmp_path / "m")


def test_with_action_expectation_the_deltas_are_the_expected_values_and_the_tokens_unchanged(tiny_model_dir, tmp_path):
    from rt2_ros.vla.decoding import decode_action

    folder = tmp_path / "expectation"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / CONFIG_NAME).read_text())
    (folder / CONFIG_NAME).write_text(json.dumps({**config, "action_expectation": True}))
    chosen, expecting = Policy.from_pretrained(tiny_model_dir), Policy.from_pretrained(folder)
    vla = expecting.vla
    inputs = vla.encode_prompt(IMAGE, vla.action_prompt("pick up the red cube", expecting.gripper_state.text()))
    plain, expected = chosen.act(IMAGE, "pick up the red cube"), expecting.act(IMAGE, "pick up the red cube")
    assert expected.tokens == plain.tokens and expected.gripper == plain.gripper
    want = vla.actions.expected_values(decode_action(vla, inputs).expected)[:6]
    assert np.allclose(expected.delta, want, atol=1e-6)
    assert not np.allclose(expected.delta, plain.delta), "a random tiny model spreads its bins: the mean moves"
