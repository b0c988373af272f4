"""Deterministic train/validation/test splits of any list, from a seed.

The same items, fractions and seed always give the same split, on any machine (Python's
`random.Random` with an integer seed is stable across versions and platforms). Items keep
their original relative order inside each part. `group=` keeps items that share a key (e.g.
GENIES pairs of one prompt) in the same part, so no prompt leaks from train into test.
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable, Generic, Hashable, NamedTuple, Sequence, TypeVar

T = TypeVar("T")


class Splits(NamedTuple, Generic[T]):
    train: list[T]
    validation: list[T]
    test: list[T]


def split(
    items: Sequence[T],
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    group: Callable[[T], Hashable] | None = None,
) -> Splits[T]:
    """Split `items` into disjoint (train, validation, test) parts of the given fractions.

    Without `group`, the part sizes are round(n*f_train) and round(n*(f_train+f_val)) - that;
    with `group`, whole groups are assigned in a seeded order, so sizes are close, not exact.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or any(f < 0 or math.isnan(f) for f in fractions):
        raise ValueError(f"fractions must be three non-negative numbers (train, validation, test), got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {fractions} (sum {sum(fractions):g})")
    items = list(items)
    n = len(items)
    keys: list[Any] = [group(x) for x in items] if group else list(range(n))
    order: dict[Any, list[int]] = {}
    for i, k in enumerate(keys):
        order.setdefault(k, []).append(i)
    groups = list(order.values())
    random.Random(seed).shuffle(groups)
    b1 = round(n * fractions[0])
    b2 = round(n * (fractions[0] + fractions[1]))
    part = [0] * n
    done = 0
    for members in groups:
        # a group goes to the part in which its first member's position falls
        p = 0 if done < b1 else 1 if done < b2 else 2
        for i in members:
            part[i] = p
        done += len(members)
    return Splits(*([items[i] for i in range(n) if part[i] == p] for p in range(3)))
