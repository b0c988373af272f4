"""Generation: KV cache equals recomputation, batches equal single prompts, EOS stops rows, capture shapes."""
import pytest
import torch

from interp import AddVector, ApplyFunction, final, generate, intervene, resid_post
from interp.generation import GenerationConfig

PROMPTS = ["Once upon a time", "The cat", "She said hello to the big dog and"]


@pytest.fixture(scope="module")
def model():
    from tests.conftest import cached_model

    return cached_model("tiny-random-llama")


# cached vs recomputed and batched vs alone: tests/interp/test_generation_cache.py (at the logits)


def test_interventions_argument_equals_context(model):
    vec = torch.randn(model.d_model, generator=torch.Generator().manual_seed(2)) * 3
    a = generate(model, PROMPTS, max_new_tokens=8, interventions=[AddVector(resid_post(0), vec)], progress=False).tokens
    with intervene(model, AddVector(resid_post(0), vec)):
        b = generate(model, PROMPTS, max_new_tokens=8, progress=False).tokens
    assert a == b


def test_sampling_is_seeded(model):
    a = generate(model, PROMPTS, max_new_tokens=10, do_sample=True, seed=5, progress=False).tokens
    b = generate(model, PROMPTS, max_new_tokens=10, do_sample=True, seed=5, progress=False).tokens
    c = generate(model, PROMPTS, max_new_tokens=10, do_sample=True, seed=6, progress=False).tokens
    assert a == b and a != c


def test_stops_at_eos_per_row(model):
    eos = model.eos_token_ids[0]
    calls = {"n": 0}

    def force_eos_on_row0_at_step2(ids, scores):
        calls["n"] += 1
        if calls["n"] == 3:
            scores[0] = -1e9
            scores[0, eos] = 1e9
        return scores

    out = generate(model, PROMPTS, max_new_tokens=8, processors=[force_eos_on_row0_at_step2], progress=False)
    assert out.tokens[0][-1] == eos and len(out.tokens[0]) == 3
    assert all(len(t) == 8 for t in out.tokens[1:])


def test_processor_sees_growing_ids_and_changes_output(model):
    banned = generate(model, PROMPTS, max_new_tokens=5, progress=False).tokens[0][0]
    widths = []

    def ban(ids, scores):
        widths.append(ids.shape[1])
        scores[:, banned] = float("-inf")
        return scores

    out = generate(model, PROMPTS, max_new_tokens=5, processors=[ban], progress=False)
    assert all(banned not in t for t in out.tokens)
    assert widths == sorted(widths) and widths[-1] - widths[0] == 4


def test_per_step_capture_has_one_state_more_than_tokens(model):
    out = generate(model, PROMPTS, max_new_tokens=6, capture_sites=[final(), resid_post(-1)], progress=False)
    n = model.n_layers
    for site in (final(), resid_post(n - 1)):
        for toks, states in zip(out.tokens, out.states[site]):
            assert states.shape == (len(toks) + 1, model.d_model)
    # state t predicts token t+1: the unembedding of state t argmaxes to token t (greedy)
    W = model.unembed_matrix()
    for toks, states in zip(out.tokens, out.states[final()]):
        pred = (states[:-1] @ W.T).argmax(-1).tolist()
        assert pred == toks


def test_zero_step_function_intervention_is_identity(model):
    base = generate(model, PROMPTS, max_new_tokens=6, progress=False).tokens
    out = generate(model, PROMPTS, max_new_tokens=6, interventions=[ApplyFunction(final(), lambda a: a)], progress=False).tokens
    assert out == base


def test_unknown_option_is_a_clear_error(model):
    with pytest.raises(TypeError, match="unknown generation option 'max_tokens'"):
        generate(model, PROMPTS, max_tokens=3)


def test_config_object(model):
    cfg = GenerationConfig(max_new_tokens=3)
    assert all(len(t) == 3 for t in generate(model, PROMPTS, cfg, progress=False).tokens)
