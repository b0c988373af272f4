"""The controller's steps in SAE features (stories260k, sae-lens TopK and ReLU SAEs at the control site): the
feature contributions plus the SAE error give back u exactly."""
import pytest
import torch

from interp import generate
from methods.re_control.control import ControlConfig, GradientAscentControl
from methods.re_control.interpret import decompose, summarize, value_attribution
from methods.re_control.value import ValueConfig, ValueFunction
from tests.conftest import cached_model
from tests.methods.re_control.sae_util import random_sae

SITE = "resid_post:3"


@pytest.fixture(scope="module")
def setup():
    model = cached_model("stories260k")
    torch.manual_seed(0)
    value = ValueFunction(ValueConfig(d_model=model.d_model, site=SITE, model=model.spec, tokenizer_size=len(model.tokenizer)))
    for p in value.parameters():
        p.requires_grad_(False)
    ctl = GradientAscentControl(value, ControlConfig(step_size=20.0, n_steps=4), record=True)
    generate(model, ["Once upon a time, there was a big", "The cat sat"], interventions=[ctl.intervention()],
             max_new_tokens=6, stop_at_eos=False, progress=False)
    return model, value, ctl.records


@pytest.fixture(scope="module", params=["topk", "standard"])
def sae(request):
    return random_sae(cached_model("stories260k").d_model, request.param)


def test_contributions_plus_error_give_back_u(setup, sae):
    model, value, records = setup
    h = torch.cat([r[0] for r in records])
    u = torch.cat([r[1] for r in records])
    assert len(records) == 6 and float(u.norm(dim=-1).mean()) > 0.1 * float(h.norm(dim=-1).mean())
    dec = decompose(sae, h, u)
    assert (dec.delta_z != 0).any(), "the control moved no feature: the identity would hold vacuously"
    torch.testing.assert_close(dec.explained() + dec.error, u, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(dec.contributions()[:3].sum(1), dec.explained()[:3], atol=1e-5, rtol=1e-5)
    # the value attribution splits grad V . u the same way: features plus the error's share
    attr = value_attribution(value, h, u, dec)
    with torch.enable_grad():
        x = (h + u).requires_grad_(True)
        (g,) = torch.autograd.grad(value(x).sum(), x)
    torch.testing.assert_close(attr.sum(1) + (g * dec.error).sum(1), (g * u).sum(1), atol=1e-4, rtol=1e-4)


def test_summary_lists_features_up_and_down(setup, sae):
    model, value, records = setup
    s = summarize(model, sae, value, records, top=5)
    assert s["steps"] == 12 and 0 <= s["error_share"]
    assert s["up"] or s["down"]
    for row in s["up"] + s["down"]:
        assert 0 <= row["consistency"] <= 1 and len(row["promotes"]) == 5
    assert all(r["mean_delta_z"] > 0 for r in s["up"]) and all(r["mean_delta_z"] < 0 for r in s["down"])


def test_nothing_recorded_is_refused(setup, sae):
    model, value, _ = setup
    with pytest.raises(ValueError, match="no controlled steps"):
        summarize(model, sae, value, [])


def test_sparse_control_moves_only_m_features_and_raises_the_value(setup, sae):
    from methods.re_control.interpret import SparseFeatureControl, decoder_directions

    model, value, records = setup
    h = torch.cat([r[0] for r in records])
    ctl = SparseFeatureControl(value, sae, m=4, step_size=5.0, n_steps=5)
    u = ctl.control(h)
    assert float(u.norm(dim=-1).min()) > 0
    with torch.no_grad():
        assert (value(h + u) > value(h)).all()
    d = decoder_directions(sae)
    for row, chosen in zip(u, ctl.steps[-1]):
        feats = [f for f, _ in chosen]
        assert len(set(feats)) == 4
        coef = torch.linalg.lstsq(d[feats].T, row[:, None]).solution  # u lies in the span of its 4 directions
        torch.testing.assert_close(d[feats].T @ coef, row[:, None], atol=1e-4, rtol=1e-4)
    # inside generation: each controlled token carries its feature list
    generate(model, ["The cat sat"], interventions=[ctl.intervention()], max_new_tokens=3, stop_at_eos=False, progress=False)
    assert len(ctl.steps) == 4 and all(len(rows[0]) == 4 for rows in ctl.steps)
    with pytest.raises(ValueError, match="m >= 1"):
        SparseFeatureControl(value, sae, m=0, step_size=1.0, n_steps=1)
