"""Per-layer divergence between two models of one architecture (e.g. a policy before and after RLHF).

Two views, both per layer:
- parameters: the sum over the layer's tensors of the Frobenius norm of (tuned - base);
- activations: on the same inputs, the mean L2 distance (also relative to the base norm) and the
  mean cosine of `mlp_out` and `resid_post` between the two models, padding excluded.

`rank_layers` orders layers by one of these arrays and picks the top k, which is how the
reward-divergence pipeline chooses where to train sparse autoencoders.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from tqdm.auto import tqdm

from interp.activations import capture
from interp.models.positions import positions_from_mask
from interp.sites import Site

if TYPE_CHECKING:
    from interp.models.model import Model

# a layer index inside a HF parameter name: model.layers.3., transformer.h.3., gpt_neox.layers.3., blocks.3.
_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.")
ACTIVATION_KINDS = ("mlp_out", "resid_post")


def layer_of(param_name: str) -> int | None:
    """The transformer layer a HF parameter belongs to, or None (embeddings, final norm, head)."""
    m = _LAYER.search(param_name)
    return int(m.group(1)) if m else None


def _module(model: "Model | nn.Module") -> nn.Module:
    return model.hf if hasattr(model, "hf") else model


def _n_layers(model: "Model | nn.Module") -> int | None:
    if hasattr(model, "n_layers"):
        return int(model.n_layers)
    cfg = getattr(model, "config", None)
    for name in ("num_hidden_layers", "n_layer", "n_layers"):
        if cfg is not None and getattr(cfg, name, None):
            return int(getattr(cfg, name))
    return None


@dataclass
class ParameterDivergence:
    """`per_layer[l]`: sum of Frobenius norms of the differences of layer l's tensors; `other`: the rest."""

    per_layer: list[float]
    other: float
    per_tensor: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"per_layer": self.per_layer, "other": self.other, "per_tensor": self.per_tensor}


@torch.no_grad()
def parameter_divergence(base: "Model | nn.Module", tuned: "Model | nn.Module") -> ParameterDivergence:
    """Sum over each layer's tensors of ||W_tuned - W_base||_F (the same architecture is required)."""
    a = dict(_module(base).named_parameters())
    b = dict(_module(tuned).named_parameters())
    if set(a) != set(b):
        only_a, only_b = sorted(set(a) - set(b))[:5], sorted(set(b) - set(a))[:5]
        raise ValueError(
            "the two models have different parameters (e.g. only in base: "
            f"{only_a}, only in tuned: {only_b}); compare a model with a fine-tuned copy of itself "
            "(merge LoRA adapters first)"
        )
    n = _n_layers(base)
    if n is None:
        n = 1 + max((layer_of(k) for k in a if layer_of(k) is not None), default=-1)
    per_layer = [0.0] * n
    other = 0.0
    per_tensor: dict[str, float] = {}
    for name, pa in a.items():
        pb = b[name]
        if pa.shape != pb.shape:
            raise ValueError(f"parameter {name} has shape {tuple(pa.shape)} in base but {tuple(pb.shape)} in tuned")
        d = float((pb.detach().double().cpu() - pa.detach().double().cpu()).norm())
        per_tensor[name] = d
        layer = layer_of(name)
        if layer is None or layer >= n:
            other += d
        else:
            per_layer[layer] += d
    return ParameterDivergence(per_layer=per_layer, other=other, per_tensor=per_tensor)


def token_divergence(
    a: Float[Tensor, "batch pos d"], b: Float[Tensor, "batch pos d"], mask: Int[Tensor, "batch pos"]
) -> dict[str, float]:
    """Sums over real tokens of the L2 distance, base norm and cosine (padding excluded)."""
    keep = mask.bool()
    x, y = a[keep].double(), b[keep].double()
    dist = (y - x).norm(dim=-1)
    cos = torch.nn.functional.cosine_similarity(x, y, dim=-1, eps=1e-12)
    return {"l2": float(dist.sum()), "base_norm": float(x.norm(dim=-1).sum()), "cos": float(cos.sum()), "n": int(keep.sum())}


@torch.no_grad()
def activation_divergence(
    base: "Model",
    tuned: "Model",
    texts: Sequence[str],
    kinds: Sequence[str] = ACTIVATION_KINDS,
    batch_size: int = 16,
    max_length: int | None = 128,
    progress: bool = True,
    skip_first: int = 0,
) -> dict[str, Any]:
    """{kind: {"l2": [L], "rel_l2": [L], "cos": [L]}, "n_tokens": n}: means over the real tokens of the
    same texts in both models.

    `rel_l2` is the mean distance divided by the mean base norm, comparable across depths.
    `skip_first` leaves out each text's first real tokens: the first is an attention sink whose
    massive MLP output (norm ~24,000 against ~40 in SmolLM2's layer 11) would dominate the mean.
    """
    if skip_first < 0:
        raise ValueError(f"skip_first must be >= 0, got {skip_first}")
    if not texts:
        raise ValueError("activation divergence needs at least one text")
    if base.n_layers != tuned.n_layers or base.d_model != tuned.d_model:
        raise ValueError(
            f"models differ in shape: base {base.n_layers} layers x {base.d_model}, "
            f"tuned {tuned.n_layers} layers x {tuned.d_model}"
        )
    tuned.check_compatible(vocab={"size": len(base.tokenizer)}, what="base model's tokenization")
    sites = [Site(k, layer) for k in kinds for layer in range(base.n_layers)]
    sums = {s: {"l2": 0.0, "base_norm": 0.0, "cos": 0.0, "n": 0} for s in sites}
    starts = range(0, len(texts), batch_size)
    for start in tqdm(starts, desc="activation divergence", unit="batch", disable=not progress):
        ids, mask = base.tokenize(list(texts[start:start + batch_size]), max_length=max_length)
        acts_a = capture(base, ids, mask, sites)
        acts_b = capture(tuned, ids.to(tuned.device), mask.to(tuned.device), sites)
        if skip_first:
            mask = mask * (positions_from_mask(mask) >= skip_first)  # index among each row's real tokens
        for s in sites:
            part = token_divergence(acts_a[s], acts_b[s].to(acts_a[s].device), mask)
            for k, v in part.items():
                sums[s][k] += v
    out: dict[str, Any] = {}
    for kind in kinds:
        rows = [sums[Site(kind, layer)] for layer in range(base.n_layers)]
        out[kind] = {
            "l2": [r["l2"] / max(r["n"], 1) for r in rows],
            "rel_l2": [r["l2"] / max(r["base_norm"], 1e-12) for r in rows],
            "cos": [r["cos"] / max(r["n"], 1) for r in rows],
        }
    out["n_tokens"] = int(rows[0]["n"])
    return out


def rank_layers(values: Sequence[float], k: int = 5, descending: bool = True) -> list[int]:
    """Layer indices ordered by `values` (largest first unless `descending=False`), the first k kept.

    Ties keep the lower layer first, so the choice is deterministic.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    order = sorted(range(len(values)), key=lambda i: (-values[i] if descending else values[i], i))
    return order[: min(k, len(values))]


# metric name -> (kind, key, descending): what `rank_by` may name
RANKINGS = {
    "param": (None, None, True),
    "mlp_out_l2": ("mlp_out", "l2", True),
    "mlp_out_rel_l2": ("mlp_out", "rel_l2", True),
    "mlp_out_cos": ("mlp_out", "cos", False),
    "resid_post_l2": ("resid_post", "l2", True),
    "resid_post_rel_l2": ("resid_post", "rel_l2", True),
    "resid_post_cos": ("resid_post", "cos", False),
}


def ranking_values(rank_by: str, params: ParameterDivergence, acts: dict | None) -> tuple[list[float], bool]:
    """The per-layer array `rank_by` names, and whether larger means more divergent."""
    if rank_by not in RANKINGS:
        raise ValueError(f"unknown ranking {rank_by!r}: choose one of {', '.join(RANKINGS)}")
    kind, key, descending = RANKINGS[rank_by]
    if kind is None:
        return list(params.per_layer), descending
    if not acts or kind not in acts:
        raise ValueError(f"ranking {rank_by!r} needs activation divergence of {kind}; compute it first")
    return list(acts[kind][key]), descending
