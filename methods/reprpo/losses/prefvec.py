"""PrefVec ReprPO: move the chosen-minus-rejected hidden state further along the reference's
preference direction, with little movement orthogonal to it, without losing the output preference.

Per pair and collection layer, with a, b (policy) and a0, b0 (reference) the transformed
response-pooled states of chosen and rejected, v = a0 - b0 the reference preference vector and
u = v / |v|:
    delta = (a - a0) - (b - b0)              how the chosen-vs-rejected difference moved
    s = (delta . u) / |v|                    movement along v, in units of the reference separation
    o = |delta - (delta . u) u|^2 / |v|^2    squared movement orthogonal to v
    reroute = mean over layers of (-tanh(s) + orth_weight * o)
    retain  = relu(-z),  z the DPO log-ratio margin (in nats)
    L = mean over pairs of (reroute + alpha * retain)
tanh bounds the reward for moving along v, so the loss cannot be driven to minus infinity by
blowing the states up.
"""
from __future__ import annotations

import torch
from torch import Tensor

from methods.reprpo.losses.dpo import dpo_retain
from methods.reprpo.losses.inputs import LossInputs, scalar


def prefvec(x: LossInputs, alpha: float = 1.0, orth_weight: float = 0.5) -> tuple[Tensor, dict[str, float]]:
    a, b, a0, b0 = x.require_states("prefvec")
    v = a0 - b0
    vnorm = v.norm(dim=-1, keepdim=True).clamp_min(1e-6 * a0.norm(dim=-1, keepdim=True).clamp_min(1e-12))
    u = v / vnorm
    delta = (a - a0) - (b - b0)
    along = (delta * u).sum(-1, keepdim=True)
    s = (along / vnorm).squeeze(-1)
    o = ((delta - along * u).pow(2).sum(-1, keepdim=True) / vnorm.pow(2)).squeeze(-1)
    reroute = (-torch.tanh(s) + orth_weight * o).mean(-1)
    retain = dpo_retain(x)
    loss = (reroute + alpha * retain).mean()
    return loss, {"reroute": scalar(reroute.mean()), "retain": scalar(retain.mean()), "along": scalar(s.mean()),
                  "orthogonal": scalar(o.mean()), "margin": scalar(x.logratio_margin().mean())}
