"""Hook-level guarantees on every tiny architecture: sites read what HF computes, edits go forward only."""
import pytest
import torch

from interp import AddVector, ApplyFunction, capture, final, intervene, mlp_out, attn_out, resid_post, resid_pre
from interp.models import positions_from_mask
from tests.interp.arch_zoo import REGISTERED, extra_archs, load_spec

SPECS = REGISTERED + [f"local:{a}" for a in extra_archs()]
PROMPTS = ["The quick brown fox jumps", "hi", "a b c"]


@pytest.fixture(scope="module", params=SPECS)
def model(request, tmp_path_factory):
    return load_spec(request.param, tmp_path_factory)


def _batch(model):
    return model.tokenize(PROMPTS)


def test_at_least_six_architectures():
    assert len(SPECS) >= 6, f"need the 3 registered tiny models and >= 3 more architectures, have {SPECS}"


def test_resid_post_matches_hf_hidden_states(model):
    ids, mask = _batch(model)
    n = model.n_layers
    sites = [resid_pre(0)] + [resid_post(l) for l in range(n)] + [final()]
    got = capture(model, ids, mask, sites)
    with torch.no_grad():
        hf = model.hf(input_ids=ids, attention_mask=mask, position_ids=positions_from_mask(mask), output_hidden_states=True)
    real = mask.bool()
    torch.testing.assert_close(got[resid_pre(0)][real], hf.hidden_states[0][real], atol=1e-5, rtol=1e-5)
    for l in range(n - 1):  # HF's last hidden state has the final norm applied
        torch.testing.assert_close(got[resid_post(l)][real], hf.hidden_states[l + 1][real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[final()][real], hf.hidden_states[n][real], atol=1e-4, rtol=1e-4)


def test_final_is_the_unembedding_input(model):
    ids, mask = _batch(model)
    seen = []
    handle = model.hf.get_output_embeddings().register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach()))
    try:
        got = capture(model, ids, mask, [final()])
    finally:
        handle.remove()
    torch.testing.assert_close(got[final()], seen[-1], atol=0, rtol=0)


def test_added_vector_changes_only_later_sites(model):
    ids, mask = _batch(model)
    n = model.n_layers
    layer = n // 2
    sites = [resid_pre(l) for l in range(n)] + [resid_post(l) for l in range(n)] + [mlp_out(l) for l in range(n)] + [attn_out(l) for l in range(n)] + [final()]
    before = capture(model, ids, mask, sites)
    vec = torch.randn(model.d_model, generator=torch.Generator().manual_seed(0)) * 5
    with intervene(model, AddVector(resid_post(layer), vec)):
        after = capture(model, ids, mask, sites)
    for site in sites:
        changed = not torch.allclose(before[site], after[site], atol=1e-6)
        later = site.kind == "final" or site.layer > layer or (site.layer == layer and site.kind == "resid_post")
        assert changed == later, f"{site}: changed={changed}, expected {later} for a vector added at resid_post({layer})"
    torch.testing.assert_close(after[resid_post(layer)], before[resid_post(layer)] + vec, atol=1e-5, rtol=1e-5)


def test_hooks_removed_after_exit_and_after_exception(model):
    ids, mask = _batch(model)
    base = capture(model, ids, mask, [final()])[final()]
    vec = torch.ones(model.d_model)
    with intervene(model, AddVector(resid_pre(0), vec)):
        pass
    torch.testing.assert_close(capture(model, ids, mask, [final()])[final()], base)
    with pytest.raises(RuntimeError, match="boom"):
        with intervene(model, AddVector(resid_pre(0), vec)):
            raise RuntimeError("boom")
    torch.testing.assert_close(capture(model, ids, mask, [final()])[final()], base)
    assert all(len(hp._forward_hooks) == 0 for hp in model.bridge.hook_dict.values())


def test_two_interventions_on_one_site_apply_in_order(model):
    ids, mask = _batch(model)
    site = resid_post(0)
    order = []
    first = ApplyFunction(site, lambda a: (order.append(1), a * 2)[1])
    second = ApplyFunction(site, lambda a: (order.append(2), a + 1)[1])
    plain = capture(model, ids, mask, [site])[site]
    with intervene(model, first, second):
        got = capture(model, ids, mask, [site])[site]
    assert order == [1, 2]
    torch.testing.assert_close(got, plain * 2 + 1)


def test_bad_sites_name_the_valid_range(model):
    ids, mask = _batch(model)
    n = model.n_layers
    with pytest.raises(ValueError, match=rf"layers run 0..{n - 1}"):
        capture(model, ids, mask, [resid_post(n)])
    with pytest.raises(ValueError, match=rf"layers run 0..{n - 1}"):
        capture(model, ids, mask, [resid_post(-n - 1)])
    with pytest.raises(ValueError, match="unknown site kind"):
        capture(model, ids, mask, ["residual:3"])
    # negative indices count from the end
    a = capture(model, ids, mask, [resid_post(-1)])
    assert list(a) == [resid_post(n - 1)]
