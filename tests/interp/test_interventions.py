"""Intervention values: each does exactly its formula; width mismatches are refused."""
import pytest
import torch
from torch import nn

from interp import AddVector, ApplyModule, ProjectOut, Replace, capture, intervene, parse_site, resid_post, final, Site


@pytest.fixture(scope="module")
def model():
    from tests.conftest import cached_model

    return cached_model("tiny-random-llama")


@pytest.fixture(scope="module")
def batch(model):
    return model.tokenize(["hello there", "a"])


def test_project_out_removes_the_direction(model, batch):
    d = torch.randn(model.d_model, generator=torch.Generator().manual_seed(0))
    site = resid_post(1)
    with intervene(model, ProjectOut(site, d)):
        got = capture(model, *batch, [site])[site]
    assert (got @ (d / d.norm())).abs().max() < 1e-4


def test_replace_sets_the_value(model, batch):
    v = torch.arange(model.d_model, dtype=torch.float32)
    site = resid_post(2)
    with intervene(model, Replace(site, v)):
        got = capture(model, *batch, [site])[site]
    assert torch.equal(got, v.expand_as(got))


def test_apply_module_residual(model, batch):
    lin = nn.Linear(model.d_model, model.d_model)
    site = resid_post(0)
    plain = capture(model, *batch, [site])[site]
    with intervene(model, ApplyModule(site, lin, residual=True)):
        got = capture(model, *batch, [site])[site]
    torch.testing.assert_close(got, plain + lin(plain).detach())


def test_scale_multiplies_the_vector(model, batch):
    v = torch.randn(model.d_model)
    site = resid_post(0)
    plain = capture(model, *batch, [site])[site]
    with intervene(model, AddVector(site, v, scale=-2.5)):
        got = capture(model, *batch, [site])[site]
    torch.testing.assert_close(got, plain - 2.5 * v)


def test_wrong_width_is_refused_before_any_hook(model):
    with pytest.raises(ValueError, match="width 7 but model .* d_model=64"):
        with intervene(model, AddVector(resid_post(0), torch.zeros(7))):
            pass
    assert all(len(hp._forward_hooks) == 0 for hp in model.bridge.hook_dict.values())


@pytest.mark.parametrize("text,site", [("resid_post:-1", Site("resid_post", -1)), ("mlp_out(3)", Site("mlp_out", 3)),
                                       ("final", final()), ("final()", final()), ("attn_out.0", Site("attn_out", 0))])
def test_parse_site(text, site):
    assert parse_site(text) == site


@pytest.mark.parametrize("bad", ["resid_post", "final:3", "neuron:2", "resid_post:x"])
def test_parse_site_errors(bad):
    with pytest.raises(ValueError):
        parse_site(bad)


def test_using_an_intervention_leaves_it_unchanged(model, batch, tmp_path):
    """`resid_post(-1)` means the last layer of whichever model the intervention meets: resolving it on
    one model must not pin it to that model's depth."""
    from interp.models.tiny_random import build_tiny_random
    from interp.models import load_model

    v = torch.ones(model.d_model)
    iv = AddVector(resid_post(-1), v)
    with intervene(model, iv):
        pass
    assert iv.site == resid_post(-1)
    resolved = iv.resolved(model)
    assert resolved.site == resid_post(model.n_layers - 1) and resolved is not iv and iv.site == resid_post(-1)
    # on a deeper model the same value hooks that model's last layer
    import json

    folder = build_tiny_random("llama", tmp_path / "deep")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["num_hidden_layers"] = model.n_layers + 2
    (folder / "config.json").write_text(json.dumps(cfg))
    deep = load_model(str(folder), device="cpu")
    assert deep.n_layers == model.n_layers + 2
    assert iv.resolved(deep).site == resid_post(deep.n_layers - 1)


def test_generate_overrides_leave_the_callers_config_unchanged(model):
    from interp import GenerationConfig, generate

    cfg = GenerationConfig(max_new_tokens=3)
    out = generate(model, ["hello"], cfg, max_new_tokens=5, progress=False, stop_at_eos=False)
    assert len(out.tokens[0]) == 5
    assert cfg.max_new_tokens == 3 and cfg.stop_at_eos is True
