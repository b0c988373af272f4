"""Preference losses: output level (dpo, ipo) and hidden-state level (mse, rank, prefvec)."""
from __future__ import annotations

from torch import Tensor

from methods.reprpo.config import ReprPOConfig
from methods.reprpo.losses.dpo import dpo, dpo_loss, ipo, ipo_loss
from methods.reprpo.losses.inputs import LossInputs
from methods.reprpo.losses.mse import mse
from methods.reprpo.losses.prefvec import prefvec
from methods.reprpo.losses.rank import rank
from methods.reprpo.losses.reference import mse_reference, prefvec_reference, rank_reference

__all__ = ["LossInputs", "dpo", "ipo", "dpo_loss", "ipo_loss", "mse", "rank", "prefvec", "compute_loss",
           "mse_reference", "rank_reference", "prefvec_reference"]


def compute_loss(cfg: ReprPOConfig, x: LossInputs) -> tuple[Tensor, dict[str, float]]:
    """The configured method's loss in the configured variant (projgrad and projbp train on the DPO loss)."""
    m = cfg.method
    if m in ("dpo", "projgrad", "projbp"):
        return dpo(x, cfg.beta)
    if cfg.variant == "reference":
        if m == "mse":
            return mse_reference(x, cfg.alpha, cfg.eps)
        if m == "rank":
            return rank_reference(x, cfg.alpha, cfg.beta, sign_bug=cfg.rank_sign_bug)
        if m == "prefvec":
            return prefvec_reference(x, cfg.alpha, cfg.orth_weight)
        raise ValueError(f"no reference loss for method {m!r}")
    if m == "dpo":
        return dpo(x, cfg.beta)
    if m == "ipo":
        return ipo(x, cfg.beta, per_token=cfg.ipo_per_token)
    if m == "mse":
        return mse(x, cfg.alpha, cfg.eps)
    if m == "rank":
        return rank(x, cfg.alpha, cfg.beta)
    if m == "prefvec":
        return prefvec(x, cfg.alpha, cfg.orth_weight)
    raise ValueError(f"no loss for method {m!r}")
