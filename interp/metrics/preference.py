"""Preference accuracy: does a language model give the chosen response more probability than the rejected?

For pair i with response log-probabilities (prompt tokens masked; interp.logprobs)
    mean variant: correct_i = [ mean_t log p(chosen_t) > mean_t log p(rejected_t) ]
    sum variant:  correct_i = [ sum_t  log p(chosen_t) > sum_t  log p(rejected_t) ]
accuracy = mean_i correct_i over the scored pairs. A tie is not a win (it counts 0). Pairs whose
chosen and rejected token sequences are identical after truncation are dropped, never scored,
and reported as `n_identical`. The mean variant does not reward short answers the way the
sum variant does (a sum of negative terms favours fewer tokens).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from interp.logprobs import PairLogprobs, pair_logprobs

if TYPE_CHECKING:
    from interp.data.types import PreferencePair
    from interp.models.model import Model


@dataclass
class PreferenceAccuracy:
    accuracy_mean: float  # NaN when no pair was scored
    accuracy_sum: float
    n_scored: int
    n_identical: int
    margin_mean: Float[Tensor, "k"]  # chosen - rejected mean log-prob, per scored pair
    margin_sum: Float[Tensor, "k"]

    def to_dict(self) -> dict[str, float | int]:
        return {
            "accuracy_mean": self.accuracy_mean, "accuracy_sum": self.accuracy_sum,
            "n_scored": self.n_scored, "n_identical": self.n_identical,
        }

    def as_dict(self) -> dict[str, float | int]:
        """Deprecated spelling of `to_dict`, the project's one name for this; kept for one release."""
        warnings.warn("PreferenceAccuracy.as_dict() is now PreferenceAccuracy.to_dict()", DeprecationWarning, stacklevel=2)
        return self.to_dict()


def accuracy_from_scores(chosen: Float[Tensor, "k"], rejected: Float[Tensor, "k"]) -> float:
    """Share of pairs with chosen > rejected (strictly); NaN for no pairs."""
    if chosen.shape != rejected.shape:
        raise ValueError(f"chosen and rejected shapes differ: {tuple(chosen.shape)} vs {tuple(rejected.shape)}")
    if chosen.numel() == 0:
        return float("nan")
    return float((chosen > rejected).double().mean())


def accuracy_from_logprobs(lp: PairLogprobs) -> PreferenceAccuracy:
    """Both accuracy variants from precomputed pair log-probabilities."""
    c, r = lp.chosen, lp.rejected
    # an empty response has mean NaN; NaN > x is False, so such a pair is counted incorrect in the mean variant
    return PreferenceAccuracy(
        accuracy_mean=accuracy_from_scores(c.mean, r.mean),
        accuracy_sum=accuracy_from_scores(c.sum, r.sum),
        n_scored=int(lp.kept.numel()),
        n_identical=lp.n_identical,
        margin_mean=c.mean - r.mean,
        margin_sum=c.sum - r.sum,
    )


def preference_accuracy(
    model: "Model",
    pairs: Sequence["PreferencePair"],
    max_length: int | None = None,
    batch_size: int = 8,
    prompt_text: Callable[["PreferencePair"], str] | None = None,
    progress: bool | None = None,
) -> PreferenceAccuracy:
    """Preference accuracy of `model` on `pairs` (both variants).

    `prompt_text(pair)` gives the text the model is conditioned on; by default the pair's raw
    prompt (pass e.g. `lambda p: model.render(list(p.messages))` to use the chat template).
    """
    if len(pairs) == 0:
        raise ValueError("no preference pairs to score")
    prompts = [prompt_text(p) if prompt_text else p.prompt for p in pairs]
    with torch.inference_mode():
        lp = pair_logprobs(
            model, prompts, [p.chosen for p in pairs], [p.rejected for p in pairs], max_length, batch_size, progress
        )
    return accuracy_from_logprobs(lp)
