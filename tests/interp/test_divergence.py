"""Per-layer divergence: zero for a model against itself; largest at the one layer a test perturbs."""
import pytest
import torch

from interp.divergence import (
    activation_divergence, layer_of, parameter_divergence, rank_layers, ranking_values,
)
from interp.models import load_model

TEXTS = ["Once upon a time", "The little dog ran to the park and found a big red ball.", "Hi", "Lily was happy."]


@pytest.fixture(scope="module")
def pair():
    """Two independent loads of stories260k; the second gets layer 2's MLP perturbed."""
    base = load_model("stories260k", device="cpu")
    tuned = load_model("stories260k", device="cpu")
    return base, tuned


def test_layer_of_names():
    assert layer_of("model.layers.3.self_attn.q_proj.weight") == 3
    assert layer_of("transformer.h.11.mlp.c_fc.weight") == 11
    assert layer_of("gpt_neox.layers.0.attention.dense.bias") == 0
    assert layer_of("model.embed_tokens.weight") is None
    assert layer_of("lm_head.weight") is None


def test_model_against_itself_is_zero(pair):
    base, same = pair
    params = parameter_divergence(base, same)
    assert params.per_layer == [0.0] * base.n_layers and params.other == 0.0
    acts = activation_divergence(base, same, TEXTS, batch_size=4, progress=False)
    for kind in ("mlp_out", "resid_post"):
        assert max(acts[kind]["l2"]) < 1e-5
        assert min(acts[kind]["cos"]) > 1 - 1e-5


def test_perturbed_layer_is_largest(pair):
    base, tuned = pair
    gen = torch.Generator().manual_seed(0)
    w = tuned.hf.model.layers[2].mlp.down_proj.weight
    original = w.detach().clone()
    try:
        with torch.no_grad():
            w.add_(0.5 * torch.randn(w.shape, generator=gen))
        params = parameter_divergence(base, tuned)
        assert rank_layers(params.per_layer, k=1) == [2]
        assert params.per_layer[2] == pytest.approx(float((w.detach() - original).norm()), rel=1e-6)
        assert all(v == 0.0 for i, v in enumerate(params.per_layer) if i != 2)
        acts = activation_divergence(base, tuned, TEXTS, batch_size=4, progress=False)
        mlp = acts["mlp_out"]["l2"]
        assert max(mlp[:2]) < 1e-5  # layers before the perturbation do not move
        assert mlp[2] > 1e-2 and rank_layers(mlp, k=1) == [2]
        assert acts["mlp_out"]["cos"][2] < 1 - 1e-4
        assert all(r > 1e-4 for r in acts["resid_post"]["l2"][2:])  # the change flows downstream
        # padding is excluded: batching (with left padding) gives the same means as one text at a time
        one = activation_divergence(base, tuned, TEXTS, batch_size=1, progress=False)
        assert one["n_tokens"] == acts["n_tokens"]
        for kind in ("mlp_out", "resid_post"):
            for key in ("l2", "rel_l2", "cos"):
                assert one[kind][key] == pytest.approx(acts[kind][key], rel=1e-4, abs=1e-6)
        values, descending = ranking_values("mlp_out_cos", params, acts)
        assert rank_layers(values, k=1, descending=descending) == [2]
    finally:
        with torch.no_grad():
            w.copy_(original)


def test_rank_layers_and_errors(pair):
    assert rank_layers([0.1, 0.5, 0.5, 0.2], k=3) == [1, 2, 3]
    assert rank_layers([0.9, 0.1, 0.5], k=2, descending=False) == [1, 2]
    with pytest.raises(ValueError, match="k must be"):
        rank_layers([1.0], k=0)
    base, tuned = pair
    with pytest.raises(ValueError, match="unknown ranking"):
        ranking_values("bogus", parameter_divergence(base, tuned), None)
    other = load_model("tiny-random-gpt2", device="cpu")
    with pytest.raises(ValueError, match="different parameters"):
        parameter_divergence(base, other)


def test_skip_first_leaves_out_each_texts_first_token(pair):
    base, tuned = pair
    full = activation_divergence(base, tuned, TEXTS, progress=False)
    rest = activation_divergence(base, tuned, TEXTS, progress=False, skip_first=1)
    assert rest["n_tokens"] == full["n_tokens"] - len(TEXTS)  # one (the sink) per text, padding side notwithstanding
    with pytest.raises(ValueError, match="skip_first"):
        activation_divergence(base, tuned, TEXTS, progress=False, skip_first=-1)
