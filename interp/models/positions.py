"""Position ids from an attention mask: here, apart from `model.py`, so code that needs only this
(rewards, SAE metrics, divergence) does not import transformer-lens when it is imported."""
from __future__ import annotations

from jaxtyping import Int
from torch import Tensor


def positions_from_mask(attention_mask: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch pos"]:
    """Position ids that start at 0 on each row's first real token (left padding aware)."""
    pos = attention_mask.long().cumsum(-1) - 1
    return pos.clamp(min=0)
