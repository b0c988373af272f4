"""Bootstrap intervals: exact cases, determinism, pairing, and width against the normal approximation."""
import math

import pytest
import torch

from interp.metrics import bootstrap_mean, paired_bootstrap_diff
from interp.metrics.bootstrap import bootstrap_means


def test_constant_values_give_a_point_interval():
    iv = bootstrap_mean([2.0, 2.0, 2.0])
    assert (iv.value, iv.low, iv.high, iv.n) == (2.0, 2.0, 2.0, 3)


def test_seeded_and_contains_the_mean():
    x = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    a, b = bootstrap_mean(x, seed=3), bootstrap_mean(x, seed=3)
    assert a == b
    assert a.value == pytest.approx(5 / 8)
    assert 0.0 <= a.low < 5 / 8 < a.high <= 1.0
    # the seed drives the resamples (the quantiles of 8 binary values are coarse, so compare draws)
    t = torch.tensor(x, dtype=torch.float64)
    assert torch.equal(bootstrap_means(t, 50, 3), bootstrap_means(t, 50, 3))
    assert not torch.equal(bootstrap_means(t, 50, 3), bootstrap_means(t, 50, 4))


def test_paired_difference_cancels_shared_spread():
    # method a beats b by exactly 1 on every prompt, prompts vary a lot:
    # d = a - b = [1, 1, 1, 1] -> the paired interval is exactly [1, 1]
    a = [1.0, 11.0, 101.0, 1001.0]
    b = [0.0, 10.0, 100.0, 1000.0]
    iv = paired_bootstrap_diff(a, b, seed=0)
    assert (iv.value, iv.low, iv.high) == (1.0, 1.0, 1.0)
    # the unpaired intervals of each mean are hundreds wide
    assert bootstrap_mean(a).high - bootstrap_mean(a).low > 100


def test_width_matches_normal_approximation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, generator=g, dtype=torch.float64)
    iv = bootstrap_mean(x, n_boot=4000, seed=1)
    expected = 2 * 1.96 * float(x.std()) / math.sqrt(len(x))
    assert iv.high - iv.low == pytest.approx(expected, rel=0.15)
    assert float(x.mean()) in iv


def test_errors():
    with pytest.raises(ValueError, match="one value per prompt"):
        paired_bootstrap_diff([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        bootstrap_mean([])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_mean([1.0, float("nan")])
    with pytest.raises(ValueError, match="ci must be"):
        bootstrap_mean([1.0, 2.0], ci=95)
