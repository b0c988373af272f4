"""Diversity of generated text as RE-Control reports it (repetition of n-grams, whitespace tokens).

For one response with whitespace tokens w_1..w_T and n-grams G_n = [(w_i..w_{i+n-1})]:
    rep_n     = 100 * (1 - |set(G_n)| / (|G_n| + 1))
    diversity = prod_{n=2,3,4} (1 - rep_n / 100) = prod_n |set(G_n)| / (|G_n| + 1)
and a set of responses scores the mean of their diversities. The "+1" (kept from RE-Control's
code) means a response with fewer than n tokens has rep_n = 100, so empty and one-word (and
up to three-word) responses have diversity 0, and no finite response reaches exactly 1.
"""
from __future__ import annotations

from typing import Sequence

NS = (2, 3, 4)


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """All contiguous n-grams, in order (empty when there are fewer than n tokens)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def rep_n(text: str, n: int) -> float:
    """100 * (1 - unique n-grams / (n-grams + 1)) over the text's whitespace tokens."""
    grams = ngrams(text.split(), n)
    return 100.0 * (1.0 - len(set(grams)) / (len(grams) + 1))


def diversity_one(text: str, ns: Sequence[int] = NS) -> float:
    """prod over n of (1 - rep_n / 100) for one response."""
    out = 1.0
    for n in ns:
        out *= 1.0 - rep_n(text, n) / 100.0
    return out


def diversity(responses: Sequence[str], ns: Sequence[int] = NS) -> float:
    """Mean over responses of `diversity_one`; raises on an empty list (there is nothing to average)."""
    if isinstance(responses, str):
        raise TypeError("pass a list of responses, not one string")
    if len(responses) == 0:
        raise ValueError("diversity of no responses is undefined; pass at least one response")
    return sum(diversity_one(r, ns) for r in responses) / len(responses)
