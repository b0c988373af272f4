"""Output-level preference losses on summed response log-probabilities (prompt tokens masked).

DPO (Rafailov et al. 2023), per pair with z = (log pi(c) - log ref(c)) - (log pi(r) - log ref(r)):
    L_DPO = -log sigmoid(beta * z)
IPO (Azar et al. 2023), squared distance of the log-ratio margin to 1/(2 beta):
    L_IPO = (h - 1 / (2 beta))^2
with h = z on summed log-probabilities (default), or, with `per_token=True`, each side's log-ratio
divided by its response length (the form TRL uses). Both are averaged over pairs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from methods.reprpo.losses.inputs import LossInputs, scalar


def dpo_loss(
    logp_chosen: Float[Tensor, "n"], logp_rejected: Float[Tensor, "n"],
    ref_logp_chosen: Float[Tensor, "n"], ref_logp_rejected: Float[Tensor, "n"], beta: float = 0.1,
) -> Float[Tensor, "n"]:
    """Per-pair DPO loss -log sigmoid(beta * z)."""
    z = (logp_chosen - ref_logp_chosen) - (logp_rejected - ref_logp_rejected)
    return -F.logsigmoid(beta * z)


def ipo_loss(
    logp_chosen: Float[Tensor, "n"], logp_rejected: Float[Tensor, "n"],
    ref_logp_chosen: Float[Tensor, "n"], ref_logp_rejected: Float[Tensor, "n"], beta: float = 0.1,
    n_tokens_chosen: Tensor | None = None, n_tokens_rejected: Tensor | None = None,
) -> Float[Tensor, "n"]:
    """Per-pair IPO loss (h - 1/(2 beta))^2; per-token log-ratios when response lengths are given."""
    c = logp_chosen - ref_logp_chosen
    r = logp_rejected - ref_logp_rejected
    if n_tokens_chosen is not None and n_tokens_rejected is not None:
        c = c / n_tokens_chosen.to(c.dtype).clamp(min=1.0)
        r = r / n_tokens_rejected.to(r.dtype).clamp(min=1.0)
    return (c - r - 1.0 / (2.0 * beta)) ** 2


def dpo(x: LossInputs, beta: float = 0.1) -> tuple[Tensor, dict[str, float]]:
    z = x.logratio_margin()
    loss = dpo_loss(x.logp_chosen, x.logp_rejected, x.ref_logp_chosen, x.ref_logp_rejected, beta).mean()
    return loss, {"margin": scalar(z.mean()), "reward_accuracy": scalar((z > 0).float().mean())}


def ipo(x: LossInputs, beta: float = 0.1, per_token: bool = False) -> tuple[Tensor, dict[str, float]]:
    n_c, n_r = (x.n_tokens_chosen, x.n_tokens_rejected) if per_token else (None, None)
    loss = ipo_loss(x.logp_chosen, x.logp_rejected, x.ref_logp_chosen, x.ref_logp_rejected, beta, n_c, n_r).mean()
    z = x.logratio_margin()
    return loss, {"margin": scalar(z.mean()), "reward_accuracy": scalar((z > 0).float().mean())}


def dpo_retain(x: LossInputs) -> Float[Tensor, "n"]:
    """relu(-z): zero while the policy prefers the chosen response at least as much as the reference
    did; grows when training makes the rejected response relatively more likely."""
    return torch.relu(-x.logratio_margin())
