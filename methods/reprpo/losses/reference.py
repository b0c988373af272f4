"""The hidden-state losses as wassname/repr-preference-optimization defines them (variant `reference`).

Rewritten from the formulas of reprpo/interventions/losses/{mse,rank,prefvec}.py, not copied. Each
reads one pooled state per site (the sites differ in width, so states come as one [n, d_k]
tensor per site): a, b the policy's chosen and rejected states, a0, b0 the reference's (adapter
off), after the transform. z is the DPO log-ratio margin in nats. Means run over pairs and sites
(and hidden units where said).

MSE (mse.py, log_dist_ratio / mse_loss), eps = 1e-12, alpha = 0.6:
    d0      = |a0 - b0| + eps
    reroute = log(|b - a0| + eps) - log d0          rejected -> reference chosen
    retain  = log(|a - a0| + eps) - log d0          chosen stays (log(eps / d0) ~ -28 at the start)
    L = 100 * mean(reroute + alpha * retain)
Rank (rank.py, rank_loss), alpha = 0.25, beta = 1. States are pooled *per-token* log_softmax over
the hidden units (the reference applies log_softmax to each token, then pools):
    ptheta  = (a - a0) - (b - b0)                   per hidden unit
    reroute = mean over units of -log sigmoid(beta * ptheta)
    retain  = relu(-z)
    L = mean(reroute) + alpha * mean(retain)
  The reference writes -log sigmoid(-beta * ptheta), which lowers the loss when the chosen side's
  (pseudo-)probabilities fall relative to the rejected side's: the opposite of its docstring
  ("making the chosen hs more likely, and the rejected less"). That sign is reproduced only with
  `sign_bug=True` (config `rank_sign_bug`).
PrefVec (prefvec.py, prefvec_loss with its defaults use_proj_rel, use_orth_loss, use_angle_loss,
use_dpo_loss, use_pref_ref), beta = `orth_weight` = 0.5, alpha = 1:
    v = a0 - b0,  u = v / |v|,  D = a - b,  P w = (u . w) u,  mean_i = mean over hidden units
    proj    = mean_i (P D)_i                        signed; tiny (~ |D| / d), hence the 1e5
    orth    = | mean_i (D - P D)_i |
    angle   = 3 - cos(a - a0, v) + cos(b - b0, v) - cos(D, v)
    reroute = 1 - 1e5 proj + beta 1e5 orth + beta angle
    retain  = log sigmoid(-z)                       (<= 0; falls as z grows: rewards the DPO margin)
    L = mean(reroute) + alpha * mean(retain)
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from methods.reprpo.losses.inputs import LossInputs, scalar

MSE_SCALE = 100.0
PREFVEC_SCALE = 1e5
EPS = 1e-12

Sites = Sequence[Float[Tensor, "n d"]]


def _sites(x: LossInputs, method: str) -> tuple[Sites, Sites, Sites, Sites]:
    a, b, a0, b0 = (x.states_chosen, x.states_rejected, x.ref_states_chosen, x.ref_states_rejected)
    if any(s is None for s in (a, b, a0, b0)):
        raise ValueError(f"loss {method!r} needs hidden states of policy and reference; none were captured")
    if isinstance(a, Tensor):  # stacked [n, layer, d]: one site per layer
        a, b, a0, b0 = (list(s.unbind(-2)) for s in (a, b, a0, b0))
    return tuple([t.float() for t in s] for s in (a, b, a0, b0))  # type: ignore[return-value]


def log_dist_ratio(x: Float[Tensor, "n d"], ref_dist: Float[Tensor, "n"], eps: float = EPS) -> Float[Tensor, "n"]:
    """log(|x| + eps) - log(ref_dist + eps): a distance as a log ratio to the reference separation."""
    return torch.log(x.norm(dim=-1) + eps) - torch.log(ref_dist + eps)


def mse_reference(x: LossInputs, alpha: float = 0.6, eps: float = EPS) -> tuple[Tensor, dict[str, float]]:
    a, b, a0, b0 = _sites(x, "mse")
    reroute = torch.stack([log_dist_ratio(bk - a0k, (a0k - b0k).norm(dim=-1), eps)
                           for ak, bk, a0k, b0k in zip(a, b, a0, b0)], -1)
    retain = torch.stack([log_dist_ratio(ak - a0k, (a0k - b0k).norm(dim=-1), eps)
                          for ak, bk, a0k, b0k in zip(a, b, a0, b0)], -1)
    loss = MSE_SCALE * (reroute + alpha * retain).mean()
    return loss, {"reroute": scalar(reroute.mean()), "retain": scalar(retain.mean()),
                  "margin": scalar(x.logratio_margin().mean())}


def rank_reference(x: LossInputs, alpha: float = 0.25, beta: float = 1.0,
                   sign_bug: bool = False) -> tuple[Tensor, dict[str, float]]:
    """States must be pooled per-token log_softmax (see the module docstring)."""
    a, b, a0, b0 = _sites(x, "rank")
    sign = -1.0 if sign_bug else 1.0
    ptheta = [(ak - a0k) - (bk - b0k) for ak, bk, a0k, b0k in zip(a, b, a0, b0)]
    reroute = torch.stack([-F.logsigmoid(sign * beta * p).mean(-1) for p in ptheta], -1).mean(-1)
    retain = torch.relu(-x.logratio_margin())
    loss = reroute.mean() + alpha * retain.mean()
    return loss, {"reroute": scalar(reroute.mean()), "retain": scalar(retain.mean()),
                  "ptheta": scalar(torch.stack([p.mean() for p in ptheta]).mean()),
                  "margin": scalar(x.logratio_margin().mean())}


def prefvec_reference(x: LossInputs, alpha: float = 1.0, beta: float = 0.5) -> tuple[Tensor, dict[str, float]]:
    a, b, a0, b0 = _sites(x, "prefvec")
    proj, orth, angle = [], [], []
    for ak, bk, a0k, b0k in zip(a, b, a0, b0):
        v = a0k - b0k
        u = v / v.norm(dim=-1, keepdim=True).clamp_min(EPS)
        d = ak - bk
        par = (d * u).sum(-1, keepdim=True) * u
        proj.append(par.mean(-1))
        orth.append((d - par).mean(-1).abs())
        angle.append(3 - F.cosine_similarity(ak - a0k, v, dim=-1) + F.cosine_similarity(bk - b0k, v, dim=-1)
                     - F.cosine_similarity(d, v, dim=-1))
    proj_, orth_, angle_ = (torch.stack(t, -1).mean(-1) for t in (proj, orth, angle))
    reroute = 1 - PREFVEC_SCALE * proj_ + beta * PREFVEC_SCALE * orth_ + beta * angle_
    retain = F.logsigmoid(-x.logratio_margin())
    loss = reroute.mean() + alpha * retain.mean()
    return loss, {"reroute": scalar(reroute.mean()), "retain": scalar(retain.mean()), "along": scalar(proj_.mean()),
                  "orthogonal": scalar(orth_.mean()), "angle": scalar(angle_.mean()),
                  "margin": scalar(x.logratio_margin().mean())}
