"""Gradient-ascent control during KV-cached generation on the real stories260k model."""
import pytest
import torch

import interp
from methods.re_control import ControlConfig, GradientAscentControl, ValueConfig, ValueFunction, controlled_generate
from methods.re_control.control import optimise_control

PROMPTS = ["Once upon a time", "The dog was", "Lily saw a big"]


def random_value(model, seed=0):
    torch.manual_seed(seed)
    return ValueFunction(ValueConfig(d_model=model.d_model, model=model.spec, tokenizer_size=len(model.tokenizer))).eval()


def test_zero_steps_leaves_generation_identical_to_base(stories):
    value = random_value(stories)
    base = interp.generate(stories, PROMPTS, max_new_tokens=12, capture_sites=["final"], progress=False)
    for cfg in (ControlConfig(step_size=0.5, n_steps=0), ControlConfig(step_size=0.0, n_steps=3)):
        ctl = controlled_generate(stories, PROMPTS, value, cfg, max_new_tokens=12, capture_sites=["final"], progress=False)
        assert ctl.tokens == base.tokens
        for a, b in zip(ctl.states[interp.final()], base.states[interp.final()]):
            assert torch.equal(a, b)


def test_ascent_raises_the_value_of_the_controlled_states(stories):
    torch.manual_seed(1)
    value = ValueFunction(ValueConfig(d_model=stories.d_model, depth=0, model=stories.spec,
                                      tokenizer_size=len(stories.tokenizer))).eval()
    w = value.net[0].weight[0].detach()
    n_steps, step_size = 10, 0.5
    base = interp.generate(stories, PROMPTS, max_new_tokens=10, capture_sites=["final"], progress=False)
    ctl = controlled_generate(stories, PROMPTS, value, ControlConfig(step_size, n_steps), max_new_tokens=10,
                              capture_sites=["final"], progress=False)
    # recorded states are the edited ones (the intervention runs before the recording hook); a linear V
    # gains n * a * |w|^2 per edited state, far more than two trajectories' states differ by
    gain = n_steps * step_size * float(w @ w)
    with torch.no_grad():
        v_base = torch.cat([value(s[:-1]) for s in base.states[interp.final()]]).mean()
        v_ctl = torch.cat([value(s[:-1]) for s in ctl.states[interp.final()]]).mean()
    assert float(v_ctl - v_base) > 0.5 * gain
    assert ctl.tokens != base.tokens


def test_optimise_control_follows_the_gradient_and_the_penalty_shrinks_u():
    torch.manual_seed(0)
    value = ValueFunction(ValueConfig(d_model=8, depth=0))  # linear: grad V = w everywhere
    w = value.net[0].weight[0].detach()
    h = torch.randn(3, 8)
    u = optimise_control(value, h, ControlConfig(step_size=0.5, n_steps=4))
    assert torch.allclose(u, (4 * 0.5 * w).expand_as(u), atol=1e-6)
    # with penalty lambda: u_{k+1} = u_k + a (w - 2 lambda u_k), a contraction towards w / (2 lambda)
    u_pen = optimise_control(value, h, ControlConfig(step_size=0.5, n_steps=4, penalty=0.5))
    assert u_pen.norm() < u.norm()
    assert torch.allclose(u_pen, (w * (1 - 0.5 ** 4)).expand_as(u), atol=1e-6)


def test_controller_edits_only_the_last_position_and_works_under_inference_mode():
    torch.manual_seed(0)
    value = ValueFunction(ValueConfig(d_model=8, depth=1))
    acts = torch.randn(2, 5, 8)
    with torch.inference_mode():
        out = GradientAscentControl(value, ControlConfig(0.5, 3))(acts)
    assert torch.equal(out[:, :-1], acts[:, :-1])
    assert not torch.equal(out[:, -1], acts[:, -1])


def test_control_config_rejects_negative_settings():
    with pytest.raises(ValueError, match="n_steps"):
        ControlConfig(step_size=0.5, n_steps=-1)
