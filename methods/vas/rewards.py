"""Reward names for VAS, with negation: `neg:NAME` (or `-NAME`) scores -NAME.

Negated rewards let one pipeline train opposing estimators (positive and negative sentiment)
for the composition experiment. Everything else goes to `interp.rewards.get_reward`.
"""
from __future__ import annotations

from typing import Any, Sequence

from jaxtyping import Float
from torch import Tensor


class Negated:
    """-reward: the same scores with the opposite sign."""

    def __init__(self, inner: Any, name: str):
        self.inner, self.name = inner, name

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> Float[Tensor, "batch"]:
        return -self.inner(prompts, responses)


def reward_by_name(name: str, device: str | None = None) -> Any:
    """`get_reward(name)`, plus `neg:NAME` / `-NAME` for the negation of a reward."""
    from interp.rewards import get_reward

    for prefix in ("neg:", "-"):
        if name.startswith(prefix):
            inner = name[len(prefix):]
            if not inner:
                raise ValueError(f"reward {name!r} negates nothing; write neg:NAME, e.g. neg:vader-sentiment")
            return Negated(reward_by_name(inner, device), name)
    return get_reward(name, device=device)
