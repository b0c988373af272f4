"""VADER rewards: the lexicon utility of the reward-divergence paper, and VADER's compound sentiment.

`vader-utility` is a transparent, token-additive reward: every word carries a fixed human-rated
valence, so a feature that fires on "love" or "kill" can be classified by the same table
(`lexicon_valence`). `vader-sentiment` is VADER's full rule-based compound score (negation,
intensifiers, punctuation), a smoother sentiment reward in [-1, 1].
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from interp.rewards.base import batched_scores

# a word: letters, optionally joined by apostrophes ("don't" stays one token, as it is not split
# by a reader); curly apostrophes are normalised first
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
UTILITY_SCALE = 5.0
UTILITY_CLIP = 10.0


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """word -> mean valence in [-4, 4], read from the `vader_lexicon.txt` shipped in vaderSentiment.

    A word listed twice takes its later value, exactly as VADER's own `make_lex_dict` does.
    """
    try:
        text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise RuntimeError("vader_lexicon.txt not found: install the `vaderSentiment` package") from e
    lex: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2 and parts[0]:
            lex[parts[0]] = float(parts[1])
    return lex


def words(text: str) -> list[str]:
    """Lowercased word tokens of `text` (letters and inner apostrophes; digits and punctuation dropped)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def lexicon_valence(token: str) -> float:
    """Valence of one token (a word or a model's sub-word piece): 0.0 when it is not in the lexicon.

    Model tokens are normalised first: leading space markers (`Ġ`, `▁`, spaces) and surrounding
    whitespace are stripped and the text is lowercased, so " Love", "Ġlove" and "love" agree.
    """
    t = token.replace("\u0120", " ").replace("\u2581", " ").strip().lower().replace("\u2019", "'")
    return vader_lexicon().get(t, 0.0)


def token_valences(tokens: Sequence[str]) -> Float[Tensor, "n"]:
    """`lexicon_valence` for each token, as a float32 tensor (e.g. a tokenizer's whole vocabulary)."""
    return torch.tensor([lexicon_valence(t) for t in tokens], dtype=torch.float32)


def vader_utility_text(text: str) -> float:
    """clip(sum of lexicon valences of the words / 5, -10, 10): the divergence paper's utility.

    Words not in the lexicon count 0; an empty text scores 0.
    """
    lex = vader_lexicon()
    total = sum(lex.get(w, 0.0) for w in words(text))
    return max(-UTILITY_CLIP, min(UTILITY_CLIP, total / UTILITY_SCALE))


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's compound score of `text`, in [-1, 1] (0 for an empty text)."""
    return float(_analyzer().polarity_scores(text)["compound"])


class VaderUtility:
    """`vader-utility`: the response's lexicon utility; the prompt is ignored (it scores the reply)."""

    name = "vader-utility"

    def __init__(self, batch_size: int = 1024, progress: bool | None = None):
        self.batch_size, self.progress = batch_size, progress

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> Float[Tensor, "batch"]:
        def fn(_p: list[str], r: list[str]) -> Tensor:
            return torch.tensor([vader_utility_text(t) for t in r], dtype=torch.float32)

        return batched_scores(fn, prompts, responses, self.batch_size, self.name, self.progress)


class VaderSentiment:
    """`vader-sentiment`: VADER's compound score of the response; the prompt is ignored."""

    name = "vader-sentiment"

    def __init__(self, batch_size: int = 256, progress: bool | None = None):
        self.batch_size, self.progress = batch_size, progress

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> Float[Tensor, "batch"]:
        def fn(_p: list[str], r: list[str]) -> Tensor:
            return torch.tensor([vader_compound(t) for t in r], dtype=torch.float32)

        return batched_scores(fn, prompts, responses, self.batch_size, self.name, self.progress)
