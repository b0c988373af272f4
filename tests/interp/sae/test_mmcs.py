"""MMCS: a dictionary against itself scores 1; against a random one, the level chance predicts.

The chance level of the "max" variant is computed independently of the code under test: the
cosine of a random unit vector with a fixed one in d dimensions has density proportional to
(1 - t^2)^((d-3)/2), so the expected max of n_b independent cosines is an integral we evaluate
numerically. (Decoder rows of one random dictionary are nearly independent for n_b >> d.)
"""
import math

import numpy as np
import pytest
import torch
from scipy import integrate

from interp.sae import mmcs, random_baseline
from interp.sae.mmcs import cosine_matrix


def expected_max_cos(n_b: int, d: int) -> float:
    """E[max of n_b cosines between a fixed unit vector and independent random unit vectors in R^d]."""
    norm = integrate.quad(lambda t: (1 - t * t) ** ((d - 3) / 2), -1, 1)[0]
    pdf = lambda t: (1 - t * t) ** ((d - 3) / 2) / norm  # noqa: E731

    def cdf(t):
        return integrate.quad(pdf, -1, t)[0]

    grid = np.linspace(-1, 1, 801)
    cdf_vals = np.array([cdf(t) for t in grid])
    # E[max] = 1 - integral_{-1}^{1} F(t)^n_b dt  (for a variable supported on [-1, 1])
    return float(1 - np.trapezoid(cdf_vals ** n_b, grid))


def test_identical_dictionary_scores_one():
    d = torch.randn(96, 16)
    for match in ("hungarian", "max"):
        res = mmcs(d, d.clone() * 3.0, match)  # scale does not matter: directions are normalised
        assert res.value == pytest.approx(1.0, abs=1e-5)
    # a permuted copy is the same dictionary: the one-to-one matching finds the permutation
    perm = torch.randperm(96)
    res = mmcs(d, d[perm], "hungarian")
    assert res.value == pytest.approx(1.0, abs=1e-5)
    assert [perm[p].item() for p in res.partner] == list(range(96))


def test_random_dictionary_is_at_chance_level():
    n_a, n_b, d = 64, 256, 16
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(n_a, d, generator=gen), torch.randn(n_b, d, generator=gen)
    expected = expected_max_cos(n_b, d)
    got = mmcs(a, b, "max").value
    # the mean of 64 maxima has a standard error of about 0.01 here
    assert got == pytest.approx(expected, abs=0.04)
    # the library's simulated baseline agrees with the analytic one
    assert random_baseline(n_a, n_b, d, "max", n_sims=4, seed=3)["mean"] == pytest.approx(expected, abs=0.03)
    # one-to-one matching cannot beat the unconstrained max, and is well above 0 and below a learned match
    hung = mmcs(a, b, "hungarian").value
    assert 0.2 < hung <= got + 1e-6
    assert hung < 0.9


def test_hungarian_is_a_one_to_one_matching():
    a, b = torch.randn(10, 8), torch.randn(30, 8)
    res = mmcs(a, b, "hungarian")
    assert len(set(res.partner)) == 10 and min(res.partner) >= 0
    cos = cosine_matrix(a, b)
    assert res.value == pytest.approx(float(np.mean([cos[i, j] for i, j in enumerate(res.partner)])), abs=1e-6)
    # optimality: no swap of two partners increases the total
    for i in range(10):
        for j in range(i + 1, 10):
            pi, pj = res.partner[i], res.partner[j]
            assert cos[i, pi] + cos[j, pj] >= cos[i, pj] + cos[j, pi] - 1e-6


def test_width_mismatch_is_refused():
    with pytest.raises(ValueError, match="different widths"):
        mmcs(torch.randn(4, 8), torch.randn(4, 9))
    with pytest.raises(ValueError, match="unknown match"):
        mmcs(torch.randn(4, 8), torch.randn(4, 8), match="greedy")


def test_expected_max_cos_sanity():
    # one random vector: the expected cosine is 0; many: approaches 1
    assert expected_max_cos(1, 16) == pytest.approx(0.0, abs=1e-3)
    assert expected_max_cos(100000, 4) > 0.9
    assert math.isfinite(expected_max_cos(256, 16))
