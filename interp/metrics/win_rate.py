"""Win rate of responses A against reference responses B on the same prompts, under a judge.

Outcome per prompt: 1 when A wins, 0.5 for a tie, 0 when B wins. With a reward r as judge,
A wins when r(prompt, a) > r(prompt, b) and exact equality is a tie; a pairwise judge returns
the outcomes itself. win rate = mean outcome, with a seeded percentile-bootstrap interval
over prompts (see interp.metrics.bootstrap).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from interp.metrics.bootstrap import Interval, bootstrap_mean

# judge(prompts, a, b) -> one outcome per prompt in {0, 0.5, 1}: 1 means a is better
PairwiseJudge = Callable[[Sequence[str], Sequence[str], Sequence[str]], Sequence[float]]


@dataclass(frozen=True)
class WinRate:
    rate: float
    low: float
    high: float
    wins: int
    ties: int
    losses: int
    n: int
    outcomes: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, float | int]:
        return {k: getattr(self, k) for k in ("rate", "low", "high", "wins", "ties", "losses", "n")}

    def as_dict(self) -> dict[str, float | int]:
        """Deprecated spelling of `to_dict`, the project's one name for this; kept for one release."""
        warnings.warn("WinRate.as_dict() is now WinRate.to_dict()", DeprecationWarning, stacklevel=2)
        return self.to_dict()


def outcomes_from_scores(a: Float[Tensor, "n"], b: Float[Tensor, "n"]) -> Float[Tensor, "n"]:
    """1 where a > b, 0.5 where a == b, 0 where a < b."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"score shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return (a > b).double() + 0.5 * (a == b).double()


def win_rate_from_outcomes(outcomes: Sequence[float] | Tensor, n_boot: int = 2000, seed: int = 0, ci: float = 0.95) -> WinRate:
    """Summarise outcomes in {0, 0.5, 1} as a win rate with a bootstrap interval."""
    o = torch.as_tensor(outcomes, dtype=torch.float64).reshape(-1)
    bad = ~((o == 0) | (o == 0.5) | (o == 1))
    if bool(bad.any()):
        raise ValueError(f"judge outcomes must be 0, 0.5 or 1; got {o[bad][:5].tolist()}")
    iv: Interval = bootstrap_mean(o, n_boot, seed, ci)
    return WinRate(
        rate=iv.value, low=iv.low, high=iv.high, wins=int((o == 1).sum()), ties=int((o == 0.5).sum()),
        losses=int((o == 0).sum()), n=len(o), outcomes=tuple(o.tolist()),
    )


def win_rate(
    prompts: Sequence[str],
    responses: Sequence[str],
    references: Sequence[str],
    reward: Callable[[Sequence[str], Sequence[str]], Tensor] | None = None,
    judge: PairwiseJudge | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
) -> WinRate:
    """Win rate of `responses` against `references` under exactly one of `reward` or `judge`."""
    if (reward is None) == (judge is None):
        raise ValueError("pass exactly one judge: reward=<a Reward, e.g. get_reward('rm:PATH')> or judge=<pairwise callable>")
    if not len(prompts) == len(responses) == len(references):
        raise ValueError(
            f"got {len(prompts)} prompts, {len(responses)} responses and {len(references)} references; lengths must match"
        )
    if len(prompts) == 0:
        raise ValueError("win rate over no prompts is undefined")
    if reward is not None:
        outcomes = outcomes_from_scores(reward(prompts, responses), reward(prompts, references))
    else:
        outcomes = judge(prompts, responses, references)
        if len(outcomes) != len(prompts):
            raise ValueError(f"judge returned {len(outcomes)} outcomes for {len(prompts)} prompts")
    return win_rate_from_outcomes(outcomes, n_boot, seed, ci)
