"""The training loss: equal to the model's own loss without smoothing; with it, near misses cost less."""

import numpy as np
import torch

from rt2_ros.train_loss import action_targets, next_token_loss
from rt2_ros.vla import VLA
from rt2_ros.vla.training import build_example, collate


def _batch(vla):
    image = np.full((32, 32, 3), 90, np.uint8)
    examples = [
        build_example(vla, image, vla.action_prompt("pick up the red cube"), "0 130 120 128 128 128 128 255"),
        build_example(vla, image, vla.vqa_prompt("what colour is the cube?"), "red"),
    ]
    return collate(examples, vla.tokenizer.pad_token_id)


def test_without_smoothing_it_is_the_models_own_loss(tiny_model_dir):
    torch.set_num_threads(1)
    vla = VLA.from_pretrained(tiny_model_dir)
    batch = _batch(vla)
    with torch.no_grad():
        own = vla.model(**batch).loss
        labels = batch.pop("labels")
        ours = next_token_loss(vla.model(**batch).logits, labels, vla.action_ids, action_sigma=0.0)
    assert torch.allclose(own, ours, atol=1e-5)


def test_a_near_miss_costs_less_than_a_far_miss_only_with_smoothing():
    action_ids = torch.arange(10, 10 + 256)
    labels = torch.tensor([[-100, 10 + 100]])  # one labelled action token: bin 100

    def loss_when_predicting(bin_: int, sigma: float) -> float:
        logits = torch.full((1, 2, 300), -10.0)
        logits[0, 0, 10 + bin_] = 10.0  # position 0 predicts the token at position 1
        return float(next_token_loss(logits, labels, action_ids, sigma))

    assert loss_when_predicting(102, 3.0) < loss_when_predicting(160, 3.0)
    assert np.isclose(loss_when_predicting(102, 0.0), loss_when_predicting(160, 0.0))
    assert loss_when_predicting(100, 3.0) < loss_when_predicting(102, 3.0)


def test_targets_are_distributions_centred_on_the_label():
    targets = action_targets(256, 2.0)
    assert torch.allclose(targets.sum(1), torch.ones(256))
    assert (targets.argmax(1) == torch.arange(256)).all()


def test_location_tokens_get_ordinal_targets_of_their_own():
    # Points (<locNNNN>) are scored against their neighbours like action bins, with their own width,
    # and one kind's smoothing leaves the other kind's tokens alone.
    action_ids, loc_ids = torch.arange(10, 10 + 256), torch.arange(300, 300 + 1024)
    labels = torch.tensor([[-100, 300 + 500]])  # one labelled location token: loc 500

    def loss_when_predicting(loc: int, **sigmas: float) -> float:
        logits = torch.full((1, 2, 1400), -10.0)
        logits[0, 0, 300 + loc] = 10.0
        return float(next_token_loss(logits, labels, action_ids, loc_ids=loc_ids, **sigmas))

    assert loss_when_predicting(510, loc_sigma=16.0) < loss_when_predicting(700, loc_sigma=16.0)
    assert np.isclose(loss_when_predicting(510, action_sigma=3.0), loss_when_predicting(700, action_sigma=3.0))
