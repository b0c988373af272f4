"""Steering vectors from contrasting prompts (difference of mean activations at a site)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Sequence

from jaxtyping import Float
from torch import Tensor

from interp.activations import capture_texts
from interp.sites import Site, parse_site

if TYPE_CHECKING:
    from interp.models.model import Model


def contrast_vector(
    model: "Model",
    site: Site | str,
    positive: Sequence[str],
    negative: Sequence[str],
    pool: Literal["mean", "last"] = "last",
) -> Float[Tensor, "d_model"]:
    """mean(acts(positive)) - mean(acts(negative)) at `site`: the direction that separates the two sets."""
    if not positive or not negative:
        raise ValueError("contrast_vector needs at least one positive and one negative prompt")
    site = parse_site(site).resolve(model)
    pos = capture_texts(model, list(positive), [site], pool=pool)[site].mean(0)
    neg = capture_texts(model, list(negative), [site], pool=pool)[site].mean(0)
    return pos - neg
