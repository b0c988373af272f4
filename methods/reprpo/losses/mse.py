"""MSE ReprPO: move the rejected response's hidden state onto the reference chosen one, keep the chosen.

Per pair and collection layer, with a, b the transformed response-pooled policy states of the
chosen and rejected responses and a0, b0 those of the reference (adapter off), d0 = |a0 - b0|:
    reroute = 1/2 log(|b - a0|^2 / d0^2 + eps^2)    rejected -> reference chosen
    retain  = 1/2 log(|a - a0|^2 / d0^2 + eps^2)    chosen stays where it was
    L = mean over pairs and layers of (reroute + alpha * retain)
Distances are measured as log ratios to the reference separation d0, so layers and pairs of
different scale weigh alike; `eps` (a fraction of d0) softens the log near zero distance, where the
plain log-distance has an unbounded gradient.
"""
from __future__ import annotations

import torch
from torch import Tensor

from methods.reprpo.losses.inputs import LossInputs, scalar


def log_dist_ratio(x: Tensor, ref_dist: Tensor, eps: float) -> Tensor:
    """1/2 log(|x|^2 / ref_dist^2 + eps^2) over the last axis."""
    return 0.5 * torch.log(x.pow(2).sum(-1) / ref_dist.pow(2) + eps**2)


def mse(x: LossInputs, alpha: float = 1.0, eps: float = 0.1) -> tuple[Tensor, dict[str, float]]:
    a, b, a0, b0 = x.require_states("mse")
    d0 = (a0 - b0).norm(dim=-1).clamp_min(1e-6 * a0.norm(dim=-1).clamp_min(1e-12))
    reroute = log_dist_ratio(b - a0, d0, eps)
    retain = log_dist_ratio(a - a0, d0, eps)
    loss = (reroute + alpha * retain).mean()
    return loss, {"reroute": scalar(reroute.mean()), "retain": scalar(retain.mean()),
                  "margin": scalar(x.logratio_margin().mean())}
