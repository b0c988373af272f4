"""Where the hidden-state losses read the model, and how per-token states become one vector per row.

Two readings, one per variant:
  ours       `resid_post(l)` at each collection layer (the bridge's hook points), d_model wide.
  reference  the "side channels" of wassname/repr-preference-optimization
             (reprpo/interventions/reprpo/config.py, collection_keys_in): the *inputs* of
             `self_attn.o_proj` (the concatenated head outputs) and `mlp.down_proj` (the gated MLP
             hidden state) at each collection layer, read by forward pre-hooks on the bridge's
             `LinearBridge` modules, so LoRA (inside them) does not change where they are read.

Two poolings:
  response   mean over response tokens (ours): the prompt is the same for both sides.
  all_sink   mean over every real token, prompt included, after dropping "sink" tokens whose
             state norm exceeds mean + t * std of the row's token norms (reference:
             reprpo/interventions/reprpo/helpers.reduce_tokens_w_attention, filter_sinks, t = 3).
             The norms are taken over the real tokens of the row (the reference also counts
             padding, which would make a pair's pooled state depend on its batch mates) and on the
             untransformed state, so pooled reference states can be cached (the transforms are
             linear: T(mean h) = mean T(h)).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import torch
from jaxtyping import Bool, Float
from torch import Tensor, nn

from interp.activations import recording
from interp.sites import resid_post

if TYPE_CHECKING:
    from interp.models.model import Model

SIDE_CHANNELS = ("o_proj", "down_proj")
SINK_THRESHOLD = 3.0


def sink_mask(
    acts: Float[Tensor, "rows pos d"], mask: Bool[Tensor, "rows pos"], threshold: float = SINK_THRESHOLD,
) -> Bool[Tensor, "rows pos"]:
    """`mask` without the tokens whose norm exceeds mean + threshold * std (unbiased) of the row's masked norms."""
    with torch.no_grad():
        norms = acts.detach().float().norm(dim=-1)
        m = mask.float()
        n = m.sum(1, keepdim=True).clamp_min(1.0)
        mean = (norms * m).sum(1, keepdim=True) / n
        var = ((norms - mean).pow(2) * m).sum(1, keepdim=True) / (n - 1).clamp_min(1.0)
        return mask & ~(norms > mean + threshold * var.sqrt())


def pool(
    acts: Float[Tensor, "rows pos d"], mask: Bool[Tensor, "rows pos"], sink_threshold: float | None = None,
    token_map: Callable[[Tensor], Tensor] | None = None,
) -> Float[Tensor, "rows d"]:
    """Masked mean over positions; with `sink_threshold`, sink tokens (on the raw states) are dropped first;
    `token_map` is applied to every token before pooling (the reference rank loss's log_softmax)."""
    if sink_threshold is not None:
        mask = sink_mask(acts, mask, sink_threshold)
    if token_map is not None:
        acts = token_map(acts)
    m = mask.to(acts.dtype).unsqueeze(-1)
    return (acts * m).sum(1) / m.sum(1).clamp(min=1.0)


class ResidReading:
    """Ours: `resid_post` at each collection layer, through the bridge's hook points."""

    def __init__(self, model: "Model", layers: Sequence[int]):
        self.model, self.layers = model, list(layers)
        self.sites = [resid_post(layer) for layer in self.layers]
        self.dims = [model.d_model] * len(self.sites)
        self.labels = [f"resid_post.{layer}" for layer in self.layers]

    @contextmanager
    def attached(self) -> Iterator[list[list[Tensor]]]:
        with recording(self.model, self.sites, detach=False) as rec:
            yield [rec[s.resolve(self.model)] for s in self.sites]


def side_channel_modules(model: "Model", layers: Sequence[int]) -> list[tuple[str, nn.Module]]:
    """The o_proj and down_proj modules of each layer (the bridge's wrappers), in layer order."""
    named = dict(model.hf.named_modules())
    found = []
    for layer in layers:
        for proj in SIDE_CHANNELS:
            pattern = re.compile(rf"(?:^|\.)layers\.{layer}\.(?:.*\.)?{proj}$")
            hits = [n for n in named if pattern.search(n) and "base_layer" not in n]
            if not hits:
                raise ValueError(
                    f"model {model.spec!r} has no {proj} in layer {layer}: the reference's side channels need a "
                    "Llama-style block (self_attn.o_proj, mlp.down_proj); use --variant ours (reads resid_post)"
                )
            found.append((f"{proj}.{layer}", named[min(hits, key=len)]))
    return found


def _in_features(module: nn.Module) -> int:
    inner = getattr(module, "_original_component", module)
    for m in (inner, getattr(inner, "base_layer", None)):
        if m is not None and hasattr(m, "in_features"):
            return int(m.in_features)
    raise ValueError(f"cannot tell the input width of {type(module).__name__}")


class SideReading:
    """Reference: the inputs of o_proj and down_proj at each collection layer (forward pre-hooks)."""

    def __init__(self, model: "Model", layers: Sequence[int]):
        self.model, self.layers = model, list(layers)
        self.modules = side_channel_modules(model, self.layers)
        self.labels = [label for label, _ in self.modules]
        self.dims = [_in_features(m) for _, m in self.modules]

    @contextmanager
    def attached(self) -> Iterator[list[list[Tensor]]]:
        store: list[list[Tensor]] = [[] for _ in self.modules]
        handles = []

        def make(k: int):
            def hook(module, args, kwargs):
                x = args[0] if args else kwargs.get("input")
                store[k].append(x)
            return hook

        try:
            for k, (_, module) in enumerate(self.modules):
                handles.append(module.register_forward_pre_hook(make(k), with_kwargs=True))
            yield store
        finally:
            for h in handles:
                h.remove()


def make_reading(variant: str, model: "Model", layers: Sequence[int]) -> ResidReading | SideReading:
    if variant == "ours":
        return ResidReading(model, layers)
    if variant == "reference":
        return SideReading(model, layers)
    raise ValueError(f"unknown variant {variant!r}; choose ours or reference")
