"""`neg:NAME`: the negation of a reward.

Negated rewards let one pipeline train opposing estimators (positive and negative sentiment,
say) for VAS's composition experiment, or steer away from a reward with RE-Control.
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
