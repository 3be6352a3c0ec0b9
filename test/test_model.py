"""The VLA with real tiny transformers models: vocab strategies, save/load, constrained and fast decoding."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from rt2_ros.actions import N_BINS, ActionTokenizer
from rt2_ros.vla import CONFIG_NAME, VLA
from rt2_ros.vla.decoding import action_bins, answer_text, decode_action, decode_with_plan
from rt2_ros.vla.tiny import build_tiny_vla
from rt2_ros.vla.vocab import action_token_ids

torch.set_num_threads(1)


def images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture(scope="module")
def vla(tiny_model_dir) -> VLA:
    return VLA.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module", params=["added", "integers", "last", "least_used"])
def any_vocab_vla(request, tmp_path_factory) -> VLA:
    folder = tmp_path_factory.mktemp("vocab") / f"tiny-{request.param}"
    return VLA.from_pretrained(build_tiny_vla(folder, vocab=request.param, seed=1))


def test_each_vocab_strategy_maps_bins_to_distinct_ids_that_survive_a_reload(any_vocab_vla):
    vla = any_vocab_vla
    ids = vla.config.action_token_ids
    assert len(set(ids)) == N_BINS and max(ids) < vla.model.get_input_embeddings().weight.shape[0]
    tokens = vla.tokenizer.convert_ids_to_tokens(ids)
    strategy = vla.config.vocab_strategy
    if strategy == "added":
        assert tokens[0] == "<act_0>" and tokens[255] == "<act_255>"
    elif strategy == "integers":  # PaLI-X: the action ids decode to RT-2's text form as they are
        bins = [0, 128, 91, 241, 5, 101, 127, 255]
        assert vla.tokenizer.decode([ids[b] for b in bins]).strip() == "0 128 91 241 5 101 127 255"
    elif strategy == "last":
        assert ids == list(range(len(vla.tokenizer) - N_BINS, len(vla.tokenizer)))
    assert not set(ids) & set(vla.tokenizer.all_special_ids)


def test_each_vocab_strategy_decodes_valid_actions_and_matches_generate(any_vocab_vla):
    vla = any_vocab_vla
    for image in images(2):
        inputs = vla.encode_prompt(image, vla.action_prompt("pick up the red cube"))
        fast = decode_action(vla, inputs, decoding="kv").bins
        assert np.array_equal(fast, decode_action(vla, inputs, decoding="generate").bins)
        vla.actions.decode(fast)  # valid bins: raises otherwise


def test_least_used_strategy_avoids_tokens_the_corpus_uses(tmp_path):
    corpus = ["<seg127> <seg126> pick up the cube"] * 3
    vla = VLA.from_base(build_tiny_vla(tmp_path / "base", vocab="added"), vocab="least_used", corpus=corpus)
    used = set(vla.tokenizer.encode(corpus[0], add_special_tokens=False))
    assert not used & set(vla.config.action_token_ids)


def test_integers_strategy_refuses_a_tokenizer_that_splits_numbers():
    class DigitSplitting:  # how Gemma's tokenizer treats "17": one token per digit
        all_special_ids: list[int] = []

        def encode(self, text, add_special_tokens=False):
            return [int(c) for c in text]

    with pytest.raises(ValueError, match="one token"):
        action_token_ids(DigitSplitting(), "integers")


def test_save_load_round_trip_keeps_weights_and_action_config(tmp_path, tiny_model_dir):
    actions = ActionTokenizer.from_statistics(np.random.default_rng(0).normal(0, 0.01, (200, 7)))
    original = VLA.from_base(tiny_model_dir, vocab="last", actions=actions, max_instruction_chars=40)
    original.config.prompt = "In: {instruction}. Out:"
    original.save_pretrained(tmp_path / "saved")
    loaded = VLA.from_pretrained(tmp_path / "saved")
    assert loaded.config.to_dict() == original.config.to_dict()
    assert np.array_equal(loaded.actions.low, actions.low) and loaded.actions.statistics == actions.statistics
    state, again = original.model.state_dict(), loaded.model.state_dict()
    assert all(torch.equal(state[k], again[k]) for k in state)
    image = images(1)[0]
    for vla in (original, loaded):
        assert vla.action_prompt("stack it") == "In: stack it. Out:"
    bins = [decode_action(v, v.encode_prompt(image, v.action_prompt("stack it"))).bins for v in (original, loaded)]
    assert np.array_equal(*bins)


def test_folder_without_action_config_says_what_is_missing(tmp_path, tiny_model_dir):
    shutil.copytree(tiny_model_dir, tmp_path / "plain")
    (tmp_path / "plain" / CONFIG_NAME).unlink()
    with pytest.raises(FileNotFoundError, match=f"no {CONFIG_NAME}.*action-token config"):
        VLA.from_pretrained(tmp_path / "plain")


def test_hand_edited_config_with_a_typo_is_refused(tmp_path, tiny_model_dir):
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    path = tmp_path / "m" / CONFIG_NAME
    data = json.loads(path.read_text())
    data["max_instrucion_chars"] = 10
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="unknown fields"):
        VLA.from_pretrained(tmp_path / "m")


def test_unsupported_architecture_names_the_supported_ones(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="unsupported architecture 'gpt2'.*paligemma"):
        VLA.from_base(tmp_path)


def test_constrained_decoding_only_yields_valid_action_ids_even_when_sampling(vla):
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for image in images(4, seed=3):
        inputs = vla.encode_prompt(image, vla.action_prompt("open the drawer"))
        for _ in range(3):
            bins = decode_action(vla, inputs, temperature=5.0, generator=generator).bins
            assert bins[0] in (0, 1) and np.all((bins >= 0) & (bins < N_BINS))
            seen.update(bins[1:].tolist())
    assert len(seen) > 20  # a hot temperature really samples; still only action bins came out


def test_generate_with_the_constraint_emits_only_action_ids(vla):
    # Push the model towards text: without the constraint the next token is not an action id.
    inputs = vla.encode_prompt(images(1)[0], "what color is the cube?")
    free = int(torch.argmax(vla.model(**inputs).logits[0, -1]))
    assert free not in vla.config.action_token_ids
    bins = decode_action(vla, inputs, decoding="generate").bins  # action_bins() raised on any other id
    assert len(bins) == 8


def test_action_bins_refuses_ids_that_are_not_action_ids(vla):
    with pytest.raises(ValueError, match="not action ids"):
        action_bins(vla, [vla.tokenizer.eos_token_id] * 8)


def test_fast_path_gives_the_same_tokens_as_generate(vla):
    for image in images(4, seed=7):
        for instruction in ("pick up the red cube", "put the ball in the bowl"):
            inputs = vla.encode_prompt(image, vla.action_prompt(instruction))
            kv = decode_action(vla, inputs, decoding="kv").bins
            reference = decode_action(vla, inputs, decoding="generate").bins
            assert np.array_equal(kv, reference), (kv, reference)


def test_chain_of_thought_and_vqa_give_text(vla):
    image = images(1)[0]
    decoded = decode_with_plan(vla, vla.encode_prompt(image, vla.action_prompt("pick up the cube")))
    assert isinstance(decoded.plan, str) and len(decoded.plan) > 0
    vla.actions.decode(decoded.bins)
    answer = answer_text(vla, vla.encode_prompt(image, vla.vqa_prompt("what color is the cube?")))
    assert isinstance(answer, str)
    assert not any(f"<act_{b}>" in answer for b in range(N_BINS))


@pytest.mark.parametrize("dtype", ["bfloat16", "int8"])
def test_reduced_precision_loads_and_decodes_valid_actions(tiny_model_dir, dtype):
    vla = VLA.from_pretrained(tiny_model_dir, dtype=dtype)
    inputs = vla.encode_prompt(images(1)[0], vla.action_prompt("lift the cup"))
    for decoding in ("kv", "generate", "parallel"):
        vla.actions.decode(decode_action(vla, inputs, decoding=decoding).bins)


def test_the_kv_loop_gives_each_positions_expected_bin_within_the_allowed_ones(vla):
    for image in images(3, seed=5):
        inputs = vla.encode_prompt(image, vla.action_prompt("open the drawer"))
        decoded = decode_action(vla, inputs, decoding="kv")
        assert decoded.expected.shape == (8,) and 0 <= decoded.expected[0] <= 1, "terminate is bin 0 or 1"
        assert np.all((decoded.expected[1:] >= 0) & (decoded.expected[1:] <= N_BINS - 1))
        assert decode_action(vla, inputs, decoding="generate").expected is None
