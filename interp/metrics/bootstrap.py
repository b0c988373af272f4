"""Seeded bootstrap intervals: how much a mean (or a difference of means) moves under resampling.

Percentile bootstrap: draw B resamples of the n items with replacement (a seeded
torch.Generator, so the same inputs and seed give the same interval anywhere), compute the
statistic on each, and report the (1-ci)/2 and (1+ci)/2 quantiles of the B values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from jaxtyping import Float
from torch import Tensor


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval."""

    value: float
    low: float
    high: float
    n: int
    ci: float = 0.95

    def __contains__(self, x: float) -> bool:
        return self.low <= x <= self.high


def _as_vector(x: Sequence[float] | Tensor, what: str) -> Float[Tensor, "n"]:
    t = torch.as_tensor(x, dtype=torch.float64).reshape(-1)
    if t.numel() == 0:
        raise ValueError(f"{what} is empty; a bootstrap needs at least one value")
    if not torch.isfinite(t).all():
        raise ValueError(f"{what} holds NaN or infinite values; drop or fix them before bootstrapping")
    return t


def bootstrap_means(values: Float[Tensor, "n"], n_boot: int, seed: int) -> Float[Tensor, "n_boot"]:
    """Means of `n_boot` resamples (with replacement) of `values`."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    gen = torch.Generator().manual_seed(int(seed))
    idx = torch.randint(0, len(values), (n_boot, len(values)), generator=gen)
    return values[idx].mean(1)


def quantiles(samples: Float[Tensor, "n_boot"], ci: float) -> tuple[float, float]:
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1 (e.g. 0.95), got {ci}")
    q = torch.tensor([(1 - ci) / 2, (1 + ci) / 2], dtype=samples.dtype)
    low, high = torch.quantile(samples, q).tolist()
    return low, high


def bootstrap_mean(values: Sequence[float] | Tensor, n_boot: int = 2000, seed: int = 0, ci: float = 0.95) -> Interval:
    """Mean of `values` with its percentile-bootstrap interval."""
    v = _as_vector(values, "values")
    low, high = quantiles(bootstrap_means(v, n_boot, seed), ci)
    return Interval(float(v.mean()), low, high, len(v), ci)


def paired_bootstrap_diff(
    a: Sequence[float] | Tensor, b: Sequence[float] | Tensor, n_boot: int = 2000, seed: int = 0, ci: float = 0.95
) -> Interval:
    """mean(a) - mean(b) for two methods scored on the SAME prompts, resampling prompts (pairs), not values.

    With d_i = a_i - b_i, the estimate is mean(d) and each resample draws prompt indices once
    for both methods, so the prompt-to-prompt spread that both share cancels out.
    """
    va, vb = _as_vector(a, "a"), _as_vector(b, "b")
    if len(va) != len(vb):
        raise ValueError(f"paired scores must have one value per prompt for both methods; got {len(va)} and {len(vb)}")
    return bootstrap_mean(va - vb, n_boot, seed, ci)
