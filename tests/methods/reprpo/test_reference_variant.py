"""The reference variant (wassname/repr-preference-optimization) form by form, each on a hand-worked example."""
import math

import pytest
import torch
import torch.nn.functional as F

from methods.reprpo.config import ReprPOConfig
from methods.reprpo.losses import LossInputs, compute_loss, mse_reference, prefvec_reference, rank_reference
from methods.reprpo.projection import project_reference
from methods.reprpo.reading import pool, sink_mask
from methods.reprpo.transforms import EtherReference, LayerTransforms


def inputs(a, b, a0, b0, z=0.0):
    """One pair, one site per given 1-D state; DPO margin z (all on the chosen side's log-prob)."""
    t = lambda v: [torch.tensor([v], dtype=torch.float64)]  # noqa: E731
    lp = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    return LossInputs(lp(z), lp(0.0), lp(0.0), lp(0.0), lp(5.0), lp(5.0), t(a), t(b), t(a0), t(b0))


def test_mse_reference_log_distance_ratios_alpha_and_scale():
    # d0 = |(0,0) - (3,4)| = 5; rejected (0,3) is 3 from the reference chosen; chosen (0,0.5) is 0.5 from it
    x = inputs(a=[0.0, 0.5], b=[0.0, 3.0], a0=[0.0, 0.0], b0=[3.0, 4.0])
    loss, info = mse_reference(x, alpha=0.6)
    assert info["reroute"] == pytest.approx(math.log(3 / 5)) and info["retain"] == pytest.approx(math.log(0.1))
    assert loss.item() == pytest.approx(100 * (math.log(0.6) + 0.6 * math.log(0.1)))
    at_start, _ = mse_reference(inputs([0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [3.0, 4.0]), alpha=0.6)
    assert at_start.item() == pytest.approx(100 * 0.6 * math.log(1e-12 / 5), rel=1e-6)  # retain at log(eps/d0)


def test_rank_reference_sign_and_its_bug():
    # pooled log-softmax states: the chosen side gained 0.4 on unit 0 relative to the rejected side
    x = inputs(a=[0.4, 0.0], b=[0.0, 0.0], a0=[0.0, 0.0], b0=[0.0, 0.0], z=1.0)
    right, info = rank_reference(x, alpha=0.25, beta=1.0)
    want = (-F.logsigmoid(torch.tensor(0.4)) - F.logsigmoid(torch.tensor(0.0))).item() / 2
    assert right.item() == pytest.approx(want, abs=1e-6) and info["retain"] == 0.0  # z > 0: no retain
    buggy, _ = rank_reference(x, alpha=0.25, beta=1.0, sign_bug=True)
    assert buggy.item() == pytest.approx((-F.logsigmoid(torch.tensor(-0.4)) + math.log(2)).item() / 2, abs=1e-6)
    assert buggy > right  # the bug's loss is *higher* where the chosen side went up
    a = x.states_chosen[0].clone().requires_grad_(True)
    x.states_chosen = [a]
    rank_reference(x, sign_bug=True)[0].backward()
    assert a.grad[0, 0] > 0  # gradient descent would push the chosen unit down: the bug
    z = inputs([0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], z=-2.0)
    assert rank_reference(z, alpha=0.25)[0].item() == pytest.approx(math.log(2) + 0.25 * 2.0)


def test_prefvec_reference_by_hand():
    # v = (2,0), u = (1,0); D = a - b = (3,1): P D = (3,0) -> proj = mean = 1.5; D - P D = (0,1) -> orth = 0.5
    x = inputs(a=[3.0, 1.0], b=[0.0, 0.0], a0=[2.0, 0.0], b0=[0.0, 0.0], z=2.0)
    loss, info = prefvec_reference(x, alpha=1.0, beta=0.5)
    angle = 3 - 1 / math.sqrt(2) + 0.0 - 3 / math.sqrt(10)  # cos(a - a0, v), cos(b - b0 = 0, v) = 0, cos(D, v)
    reroute = 1 - 1e5 * 1.5 + 0.5 * 1e5 * 0.5 + 0.5 * angle
    assert info["along"] == pytest.approx(1.5) and info["orthogonal"] == pytest.approx(0.5)
    assert info["angle"] == pytest.approx(angle)
    assert loss.item() == pytest.approx(reroute + math.log(1 / (1 + math.exp(2.0))))


def test_per_token_log_softmax_then_pool_differs_from_pool_then_log_softmax():
    acts = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    per_token = pool(acts, mask, token_map=lambda h: h.log_softmax(-1))
    lse = math.log(math.exp(2) + 1)
    assert torch.allclose(per_token, torch.tensor([[(-math.log(2) + 2 - lse) / 2, (-math.log(2) - lse) / 2]]))
    assert not torch.allclose(per_token, pool(acts, mask).log_softmax(-1))


def test_sink_filter_drops_only_the_high_norm_token():
    acts = torch.zeros(1, 21, 3)
    acts[0, :, 0] = 1.0
    acts[0, 4, 0] = 100.0  # a sink: z = 19/sqrt(20) > 3 among 20 real tokens
    mask = torch.ones(1, 21, dtype=torch.bool)
    mask[0, 0] = False  # padding: neither pooled nor counted in the norm statistics
    kept = sink_mask(acts, mask)
    assert kept.sum() == 19 and not kept[0, 4] and not kept[0, 0]
    assert torch.allclose(pool(acts, mask, sink_threshold=3.0), torch.tensor([[1.0, 0.0, 0.0]]))
    ten = torch.ones(1, 10, 3)
    ten[0, 0] = 100.0  # with 10 tokens one outlier's z is at most 9/sqrt(10) < 3: nothing dropped
    assert sink_mask(ten, torch.ones(1, 10, dtype=torch.bool)).all()


def test_reference_ether_is_not_orthogonal_and_factors_through_d_over_reduction():
    torch.manual_seed(0)
    t = EtherReference(120, blocks=4, reduction=60)
    m = t(torch.eye(120))  # rows: images of the basis vectors
    assert torch.linalg.matrix_rank(m) == 2  # d -> d/60 -> d
    assert not torch.allclose(m @ m.T, torch.eye(120), atol=1e-2)
    u = t.u.detach()[0] / t.u.detach()[0].norm()
    h = torch.cat([u, torch.zeros(90)])  # inside block 0: reflected to -h before the projections
    assert torch.allclose(t(h), t.up(-h @ t.down.T), atol=1e-6)
    t(torch.randn(2, 120)).sum().backward()
    assert t.u.grad is not None and t.up.weight.grad is not None and "down" not in dict(t.named_parameters())
    lt = LayerTransforms("ether", 2, [120, 240], ether_blocks=4, reference=True)
    out = lt([torch.randn(3, 120), torch.randn(3, 240)])
    assert [o.shape[-1] for o in out] == [120, 240]


def test_reference_projbp_rewrite_by_hand():
    u = torch.tensor([[[1.0, 0.0]]])  # [rows 1 d]
    g = torch.tensor([[[-2.0, 1.0], [-2.0, 1.0]]])  # mean over positions (-2, 1): |.| = sqrt(5)
    vnorm = torch.tensor([1.0])
    out = project_reference(g, u, vnorm, orth_scale=0.2, leaky_slope=0.01, mag_clip=0.6)
    c = math.sqrt(5) / 0.6
    clipped = g / c
    raw = torch.tensor([-2.0 * 0.01, 0.2 * 1.0]) / c  # leaky relu on the (negative) parallel part, 0.2 x the rest
    want = raw.expand(1, 2, 2) * (clipped.norm() / raw.expand(1, 2, 2).norm())
    assert torch.allclose(out, want, atol=1e-6)
    assert out.norm().item() == pytest.approx(clipped.norm().item())  # keeps the clipped gradient's norm


def test_config_variants_defaults_flags_and_recorded_settings():
    ours = ReprPOConfig(method="mse")
    assert "variant" not in ours.to_dict() and ours.lr == 1e-3  # an ours run records what it recorded before
    ref = ReprPOConfig(method="mse", variant="reference")
    assert (ref.alpha, ref.eps, ref.lr, ref.sink_threshold, ref.ether_blocks) == (0.6, 1e-12, 4e-4, 3.0, 16)
    assert ReprPOConfig.from_dict(ref.to_dict()) == ref
    bp = ReprPOConfig(method="projbp", variant="reference")
    assert (bp.lr, bp.orth_scale, bp.leaky_slope, bp.mag_clip) == (1e-5, 0.2, 0.01, 0.6)
    with pytest.raises(ValueError, match="one form only"):
        ReprPOConfig(method="dpo", variant="reference")
    with pytest.raises(ValueError, match="rank-sign-bug"):
        ReprPOConfig(method="rank", rank_sign_bug=True)
    with pytest.raises(ValueError, match="belong to the reference variant"):
        ReprPOConfig(method="projbp", mag_clip=0.5)
    cfg = ReprPOConfig(method="rank", variant="reference", rank_sign_bug=True)
    x = inputs(a=[0.4, 0.0], b=[0.0, 0.0], a0=[0.0, 0.0], b0=[0.0, 0.0], z=1.0)
    assert compute_loss(cfg, x)[0].item() == pytest.approx(rank_reference(x, 0.25, 1.0, sign_bug=True)[0].item())


@pytest.mark.slow
@pytest.mark.parametrize("method, transform", [("mse", "none"), ("rank", "none"), ("rank", "ether"),
                                               ("prefvec", "ether"), ("prefvec", "hra"), ("projbp", "none")])
def test_reference_variant_trains_on_the_side_channels(stories_model, short_pairs, method, transform):
    from methods.reprpo.trainer import ReprPOTrainer

    cfg = ReprPOConfig(model="stories260k", method=method, transform=transform, variant="reference", lr=1e-2,
                       warmup_steps=0, schedule="constant", batch_size=2, max_length=48, max_prompt_length=32,
                       lora_r=4, lora_alpha=8, ether_blocks=4, epochs=3)
    trainer = ReprPOTrainer(stories_model, short_pairs[:4], cfg, progress=False)
    try:
        if method != "projbp":
            assert trainer.policy.reading.labels == ["o_proj.1", "down_proj.1", "o_proj.2", "down_proj.2"]
            assert trainer.policy.reading.dims == [64, 172, 64, 172]  # n_heads * d_head, intermediate size
        trainer.train()
        moved = [float(p.detach().abs().sum()) for n, p in trainer.policy.named_parameters() if "lora_B" in n]
    finally:
        trainer.close()
    assert all(torch.isfinite(torch.tensor([h["loss"] for h in trainer.history])))
    assert max(moved) > 0
    bridges = [m for n, m in stories_model.hf.named_modules() if n.endswith(("o_proj", "down_proj"))]
    assert not any(m._forward_pre_hooks for m in bridges)  # close() detached the side-channel hooks
