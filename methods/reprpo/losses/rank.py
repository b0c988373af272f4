"""Rank ReprPO: treat the hidden state as logits over the hidden dimension and prefer, DPO-style,
the chosen response's distribution over the rejected one's, relative to the reference.

Per pair, collection layer and hidden unit i, with a, b (policy) and a0, b0 (reference) the
transformed response-pooled states of the chosen and rejected responses and ls = log_softmax
over the hidden dimension:
    rho_c = ls(a) - ls(a0),   rho_r = ls(b) - ls(b0)
    reroute = mean over layers and units of -log sigmoid(beta * (rho_c - rho_r)_i)
    retain  = relu(-z),  z = (log pi(c) - log ref(c)) - (log pi(r) - log ref(r))   (the DPO margin)
    L = mean over pairs of (reroute + alpha * retain)
The retain term only acts once the outputs start to prefer the rejected response more than the
reference did. Unlike distances, the softmax is not rotation invariant, so the learned transform
changes what this loss measures.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from methods.reprpo.losses.dpo import dpo_retain
from methods.reprpo.losses.inputs import LossInputs, scalar


def rank(x: LossInputs, alpha: float = 1.0, beta: float = 1.0) -> tuple[Tensor, dict[str, float]]:
    a, b, a0, b0 = x.require_states("rank")
    rho_c = a.log_softmax(-1) - a0.log_softmax(-1)
    rho_r = b.log_softmax(-1) - b0.log_softmax(-1)
    reroute = -F.logsigmoid(beta * (rho_c - rho_r)).mean(dim=(-2, -1))
    retain = dpo_retain(x)
    loss = (reroute + alpha * retain).mean()
    return loss, {"reroute": scalar(reroute.mean()), "retain": scalar(retain.mean()),
                  "margin": scalar(x.logratio_margin().mean())}
