"""Steering vectors from contrasting prompts (difference of mean activations at a site), and their file format."""
from __future__ import annotations

from pathlib import Path
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


VECTOR_KIND = "interp.steering_vector"


def save_vector(path: str | Path, vector: Float[Tensor, "d_model"], site: Site | str, model: "Model | None" = None) -> Path:
    """Write a steering vector as safetensors (one tensor, `vector`) with its site and model in the metadata."""
    from interp.io import save_tensors

    meta = {"kind": VECTOR_KIND, "site": str(parse_site(site))}
    if model is not None:
        meta.update(model=model.spec, d_model=str(model.d_model))
    save_tensors(path, {"vector": vector.detach().float()}, metadata=meta)
    return Path(path)


def load_vector(path: str | Path) -> tuple[Float[Tensor, "d_model"], dict[str, str]]:
    """A vector written by `save_vector` and its metadata; refuses a file that is not one."""
    from safetensors import safe_open

    from interp.io import load_tensors

    tensors = load_tensors(path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if set(tensors) != {"vector"} or tensors["vector"].dim() != 1 or meta.get("kind") != VECTOR_KIND:
        raise ValueError(f"{path} is not a steering vector file (one 1-d tensor 'vector', kind {VECTOR_KIND!r}); "
                         "write one with `interp generate --steer-site ... --save-vector FILE`")
    return tensors["vector"], meta
