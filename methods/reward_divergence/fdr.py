"""Benjamini-Hochberg control of the false discovery rate across the features of one dictionary.

Each feature's permutation test gives a p-value; testing thousands of features at p < 0.01 each
admits tens of false positives by chance. BH rejects the k smallest p-values, k the largest with
p_(k) <= k q / m, which keeps the expected share of false discoveries at or below q (independent or
positively dependent tests). A permutation p-value is at least 1 / (1 + n_permutations), so a feature can
only be discovered when that floor is small enough: `resolvable` says whether it is for one discovery.
"""
from __future__ import annotations

import numpy as np


def bh_adjusted(p) -> np.ndarray:
    """BH-adjusted p-values (q-values): min over j >= rank of p_(j) m / j, capped at 1, in the input order."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p-values must be one-dimensional, got shape {p.shape}")
    if len(p) == 0:
        return p.copy()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must lie in [0, 1] (no NaN)")
    m = len(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


def bh_reject(p, q: float) -> np.ndarray:
    """Which hypotheses BH rejects at false discovery rate q."""
    if not 0 < q < 1:
        raise ValueError(f"the false discovery rate must be in (0, 1), got {q}")
    return bh_adjusted(p) <= q


def resolvable(n_tests: int, n_permutations: int, q: float) -> bool:
    """Whether the smallest permutation p-value, 1 / (1 + n_permutations), can pass BH alone (q / m)."""
    return 1.0 / (1 + n_permutations) <= q / max(n_tests, 1)
