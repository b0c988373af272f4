"""ProjGrad and ProjBP: DPO whose updates are steered onto the reference preference direction.

For each adapted layer m, the reference pass (adapter off) records its output pooled over the
response tokens, o_m(c) and o_m(r) for each pair; the preference direction of that layer is
u_m = normalise(o_m(c) - o_m(r)). With P = u u^T and s = `orth_scale` (0 keeps only the parallel
part):
  ProjGrad  after backward, each LoRA B gradient G (shape [out, r]) becomes
              G' = P G + s (I - P) G,   with u_m averaged over the batch's pairs.
            Since B starts at zero and only moves along the directions it is allowed, every change
            the adapter makes to the layer's output, B A x, lies along the preference directions.
            P G is a projection of the gradient, so <G', G> >= 0: still a descent direction.
  ProjBP    during backprop, the gradient g reaching each adapted layer's output (per token) is
            replaced by P g + s (I - P) g, with each pair's own u (chosen and rejected rows alike),
            so the projection also shapes the gradients that flow on to earlier layers.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from methods.reprpo.adapter import lora_layers


def _output(out):
    return out[0] if isinstance(out, tuple) else out


def project(g: Float[Tensor, "... d"], u: Float[Tensor, "... d"], orth_scale: float) -> Float[Tensor, "... d"]:
    """P g + s (I - P) g along the last axis, u unit-norm (broadcast over g's leading axes)."""
    par = (g * u).sum(-1, keepdim=True) * u
    return par + orth_scale * (g - par)


class PreferenceDirections:
    """Per adapted layer, the reference chosen-minus-rejected output direction of each pair."""

    def __init__(self, peft_model: nn.Module, orth_scale: float = 0.0):
        self.layers = lora_layers(peft_model)
        if not self.layers:
            raise ValueError("no LoRA layer found: ProjGrad/ProjBP need an adapter")
        self.orth_scale = float(orth_scale)
        self.directions: dict[str, Float[Tensor, "n d"]] = {}

    @contextmanager
    def recording_reference(self, state_mask: Bool[Tensor, "rows pos"]) -> Iterator[None]:
        """While the reference forward runs, pool each adapted layer's output over response tokens."""
        m = state_mask.unsqueeze(-1).float()
        handles = []

        def make(name: str):
            def hook(module, inputs, out):
                o = _output(out).detach().float()
                pooled = (o * m).sum(1) / m.sum(1).clamp_min(1.0)
                n = pooled.shape[0] // 2
                self.directions[name] = F.normalize(pooled[:n] - pooled[n:], dim=-1, eps=1e-12)
            return hook

        self.directions = {}
        try:
            for name, layer in self.layers.items():
                handles.append(layer.register_forward_hook(make(name)))
            yield
        finally:
            for h in handles:
                h.remove()


class ProjGrad(PreferenceDirections):
    @torch.no_grad()
    def project_gradients(self, reduce: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """Project each LoRA B gradient onto its layer's batch-mean preference direction (after backward).

        `reduce` averages a tensor over processes: with several, every rank must project onto the
        same direction, since the gradients it projects were already averaged.
        """
        names = [n for n in self.layers if n in self.directions]
        if not names:
            return {}
        means = [self.directions[n].mean(0) for n in names]
        if reduce is not None:
            flat = reduce(torch.cat(means))
            means = list(torch.split(flat, [m.numel() for m in means]))
        kept = []
        for name, mean in zip(names, means):
            b = self.layers[name].lora_B["default"].weight
            if b.grad is None:
                continue
            u = F.normalize(mean, dim=-1, eps=1e-12).to(b.grad.dtype)  # [out]
            g = b.grad
            new = project(g.T, u, self.orth_scale).T  # the columns of G are vectors in output space
            kept.append(float(new.norm() / g.norm().clamp_min(1e-12)))
            b.grad.copy_(new)
        return {"grad_norm_kept": sum(kept) / len(kept) if kept else float("nan")}


class ProjBP(PreferenceDirections):
    @contextmanager
    def projecting(self) -> Iterator[None]:
        """While the policy forward runs, attach gradient hooks that project each adapted layer's output gradient."""
        handles = []

        def make(name: str):
            def hook(module, inputs, out):
                o = _output(out)
                u = self.directions.get(name)
                if u is None or not o.requires_grad:
                    return None
                rows = torch.cat([u, u], 0).to(o.dtype).unsqueeze(1)  # [2n, 1, out]: pair i's u for both rows
                o.register_hook(lambda g, rows=rows: project(g, rows, self.orth_scale))
                return None
            return hook

        try:
            for name, layer in self.layers.items():
                handles.append(layer.register_forward_hook(make(name)))
            yield
        finally:
            for h in handles:
                h.remove()
