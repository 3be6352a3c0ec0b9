"""A new tiny model's <loc> and action tokens start ordered: neighbouring bins alike, far bins apart."""

import pytest
import torch

from rt2_ros.vla import VLA
from rt2_ros.vla.ordinal_tokens import sincos_1d


def test_code_is_alike_for_neighbours_and_apart_for_far_bins():
    code = sincos_1d(1024, 384)
    similarity = code @ code[500]
    assert similarity[501] > 0.99
    assert similarity[501] > similarity[560] > similarity[700] > similarity[100]
    assert torch.allclose(code.norm(dim=1), torch.ones(1024))


def test_odd_width_is_refused():
    with pytest.raises(ValueError, match="even width"):
        sincos_1d(16, 7)


@pytest.mark.parametrize("group", ["loc_ids", "action_ids"])
def test_a_state_that_names_a_bin_picks_that_bin_and_its_neighbours(tiny_model_dir, group):
    """What the decoder needs: a hidden state encoding a position makes the bins near it likely."""
    vla = VLA.from_pretrained(tiny_model_dir)
    ids = getattr(vla, group)
    rows = torch.nn.functional.normalize(vla.model.get_output_embeddings().weight[ids].float(), dim=1)
    wanted = len(ids) * 3 // 5
    probabilities = torch.softmax(rows @ rows[wanted] * 20, dim=0)
    assert int(probabilities.argmax()) == wanted
    near = probabilities[max(wanted - len(ids) // 16, 0) : wanted + len(ids) // 16].sum()
    assert near > 0.5  # a random vocabulary spreads its mass; an ordered one keeps it near the bin
    inputs = vla.model.get_input_embeddings().weight[ids].float()
    assert torch.nn.functional.cosine_similarity(inputs[wanted], inputs[wanted + 1], dim=0) > 0.9
