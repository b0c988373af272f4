"""The one sentence split every step shares: RL prompts come from its training part, held-out
analysis texts from its held-out part.

The split's seed is fixed (SPLIT_SEED), not the RL or collection seed: with two seeds the RL step's
training sentences and the analysis step's held-out sentences could overlap. The seeds of the steps
only order the sentences inside each part.
"""
from __future__ import annotations

from typing import Any

SPLIT_SEED = 0
FRACTIONS = (0.9, 0.0, 0.1)


def sentence_split() -> tuple[list[Any], list[Any]]:
    """(training sentences, held-out sentences) of rt-polarity, always the same whatever the steps' seeds."""
    from interp.data import rt_polarity, split

    train, _, test = split(list(rt_polarity()), FRACTIONS, seed=SPLIT_SEED)
    return list(train), list(test)
