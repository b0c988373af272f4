"""ProjGrad and ProjBP: DPO whose updates are steered onto the reference preference direction.

For each adapted layer m, the reference pass (adapter off) records its output pooled over the
pooling mask (response tokens for `ours`, all tokens for `reference`), o_m(c) and o_m(r) for each
pair; v_m = o_m(c) - o_m(r) and u_m = v_m / |v_m|. These are computed once per pair before
training (as the reference log-probabilities are) and looked up at each step. With P = u u^T and
s = `orth_scale` (0 keeps only the parallel part):

  ProjGrad  with u the normalised batch mean of the pairs' directions,
              1. after backward each LoRA B gradient G [out, r] becomes G' = P G + s (I - P) G
                 (a projection, so <G', G> >= 0: still a descent direction);
              2. AdamW steps on G', and the *update* it makes, D = B_new - B_old, is projected the
                 same way: B <- B_old + P D + s (I - P) D.
            Step 2 is what makes the claim true: Adam divides each coordinate by its own running
            RMS, so an update built from projected gradients leaves the span of u (|cos| ~0.7 after
            3 steps on stories260k). B starts at zero and every change to it lies in the span of
            the directions seen so far, so every change the adapter makes to the layer's output,
            B A x, does too (s = 0). Decoupled weight decay only scales B, which keeps it there.
  ProjBP    during backprop, the gradient g [rows, pos, out] reaching each adapted layer's output
            is rewritten with each pair's own u (chosen and rejected rows alike), so the rewrite
            also shapes the gradients that flow on to earlier layers:
              ours       g' = P g + s (I - P) g
              reference  (wassname/repr-preference-optimization, dpo_projbp.ProjBPHooks)
                         c  = max(1, |mean_pos g| / (mag_clip |v|))      per row
                         g  = g / c                                       magnitude clip
                         g' = leaky_relu(P g, slope) + s (I - P) g        elementwise leaky relu
                         g' = g' |g|_F / |g'|_F                           keep the (clipped) norm
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from methods.reprpo.adapter import lora_layers

EPS = 1e-12


def _output(out):
    return out[0] if isinstance(out, tuple) else out


def project(g: Float[Tensor, "... d"], u: Float[Tensor, "... d"], orth_scale: float) -> Float[Tensor, "... d"]:
    """P g + s (I - P) g along the last axis, u unit-norm (broadcast over g's leading axes)."""
    par = (g * u).sum(-1, keepdim=True) * u
    return par + orth_scale * (g - par)


def project_reference(
    g: Float[Tensor, "rows pos d"], u: Float[Tensor, "rows 1 d"], vnorm: Float[Tensor, "rows"],
    orth_scale: float, leaky_slope: float, mag_clip: float | None,
) -> Float[Tensor, "rows pos d"]:
    """The reference's ProjBP gradient rewrite (module docstring): clip, leaky-project, rescale."""
    if mag_clip is not None:
        ratio = g.mean(1).norm(dim=-1) / (vnorm.to(g.dtype) * mag_clip).clamp_min(EPS)
        g = g / ratio.clamp_min(1.0)[:, None, None]
    par = (g * u).sum(-1, keepdim=True) * u
    g2 = F.leaky_relu(par, negative_slope=leaky_slope) + orth_scale * (g - par)
    return g2 * (g.norm() / g2.norm().clamp_min(EPS))


class PreferenceDirections:
    """Per adapted layer, the reference chosen-minus-rejected output direction of each pair in the batch."""

    def __init__(self, peft_model: nn.Module, orth_scale: float = 0.0):
        self.layers = lora_layers(peft_model)
        if not self.layers:
            raise ValueError("no LoRA layer found: ProjGrad/ProjBP need an adapter")
        self.names = list(self.layers)
        self.orth_scale = float(orth_scale)
        self.directions: dict[str, Float[Tensor, "n out"]] = {}  # unit u of each pair
        self.norms: dict[str, Float[Tensor, "n"]] = {}  # |v| of each pair

    @contextmanager
    def recording_reference(self, pool_mask: Bool[Tensor, "rows pos"]) -> Iterator[None]:
        """While the reference forward runs, pool each adapted layer's output over `pool_mask`."""
        m = pool_mask.unsqueeze(-1).float()
        handles = []

        def make(name: str):
            def hook(module, inputs, out):
                o = _output(out).detach().float()
                pooled = (o * m).sum(1) / m.sum(1).clamp_min(1.0)
                n = pooled.shape[0] // 2
                v = pooled[:n] - pooled[n:]
                self.norms[name] = v.norm(dim=-1)
                self.directions[name] = F.normalize(v, dim=-1, eps=EPS)
            return hook

        self.directions, self.norms = {}, {}
        try:
            for name, layer in self.layers.items():
                handles.append(layer.register_forward_hook(make(name)))
            yield
        finally:
            for h in handles:
                h.remove()

    # ---- the per-pair cache -----------------------------------------------------------------
    def pair_entries(self, n: int) -> list[dict[str, Tensor]]:
        """The recorded directions of n pairs as one flat dict per pair (`dir.k`, `norm.k`; k = layer index), half precision."""
        out: list[dict[str, Tensor]] = [{} for _ in range(n)]
        for k, name in enumerate(self.names):
            d, v = self.directions[name].half(), self.norms[name]
            for j in range(n):
                out[j][f"dir.{k}"] = d[j]
                out[j][f"norm.{k}"] = v[j]
        return out

    def use(self, entries: Sequence[dict[str, Tensor]]) -> None:
        """Take this batch's directions from cached pair entries (in batch order)."""
        self.directions = {name: torch.stack([e[f"dir.{k}"] for e in entries]).float()
                           for k, name in enumerate(self.names)}
        self.norms = {name: torch.stack([e[f"norm.{k}"] for e in entries]).float()
                      for k, name in enumerate(self.names)}


class ProjGrad(PreferenceDirections):
    def __init__(self, peft_model: nn.Module, orth_scale: float = 0.0):
        super().__init__(peft_model, orth_scale)
        self.batch_u: dict[str, Float[Tensor, "out"]] = {}

    def _batch_directions(self, reduce: Callable[[Tensor], Tensor] | None) -> dict[str, Tensor]:
        names = [n for n in self.names if n in self.directions]
        means = [self.directions[n].mean(0) for n in names]
        if reduce is not None and means:
            flat = reduce(torch.cat(means))
            means = list(torch.split(flat, [m.numel() for m in means]))
        return {n: F.normalize(m, dim=-1, eps=EPS) for n, m in zip(names, means)}

    @torch.no_grad()
    def project_gradients(self, reduce: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """Project each LoRA B gradient onto its layer's batch-mean preference direction (after backward).

        `reduce` averages a tensor over processes: with several, every rank must project onto the
        same direction, since the gradients it projects were already averaged.
        """
        self.batch_u = self._batch_directions(reduce)
        kept = []
        for name, u in self.batch_u.items():
            b = self.layers[name].lora_B["default"].weight
            if b.grad is None:
                continue
            g = b.grad
            new = project(g.T, u.to(g.dtype), self.orth_scale).T  # the columns of G are vectors in output space
            kept.append(float(new.norm() / g.norm().clamp_min(EPS)))
            b.grad.copy_(new)
        return {"grad_norm_kept": sum(kept) / len(kept) if kept else float("nan")}

    @contextmanager
    def projecting_update(self) -> Iterator[None]:
        """Around the optimizer step: project the change each LoRA B receives onto this batch's direction."""
        before = {n: self.layers[n].lora_B["default"].weight.detach().clone() for n in self.batch_u}
        yield
        with torch.no_grad():
            for name, b0 in before.items():
                b = self.layers[name].lora_B["default"].weight
                delta = b - b0
                b.copy_(b0 + project(delta.T, self.batch_u[name].to(b.dtype), self.orth_scale).T)


class ProjBP(PreferenceDirections):
    def __init__(self, peft_model: nn.Module, orth_scale: float = 0.0, leaky_slope: float | None = None,
                 mag_clip: float | None = None):
        """`leaky_slope` None: our plain projection; a number: the reference's rewrite (clip, leaky, rescale)."""
        super().__init__(peft_model, orth_scale)
        self.leaky_slope = leaky_slope
        self.mag_clip = mag_clip

    def rewrite(self, g: Tensor, rows: Tensor, vnorm: Tensor) -> Tensor:
        if self.leaky_slope is None:
            return project(g, rows, self.orth_scale)
        return project_reference(g, rows, vnorm, self.orth_scale, self.leaky_slope, self.mag_clip)

    @contextmanager
    def projecting(self) -> Iterator[None]:
        """While the policy forward runs, attach gradient hooks that rewrite each adapted layer's output gradient."""
        handles = []

        def make(name: str):
            def hook(module, inputs, out):
                o = _output(out)
                u = self.directions.get(name)
                if u is None or not o.requires_grad:
                    return None
                rows = torch.cat([u, u], 0).to(o.dtype).unsqueeze(1)  # [2n, 1, out]: pair i's u for both rows
                vnorm = torch.cat([self.norms[name], self.norms[name]], 0)
                o.register_hook(lambda g, rows=rows, vnorm=vnorm: self.rewrite(g, rows, vnorm))
                return None
            return hook

        try:
            for name, layer in self.layers.items():
                handles.append(layer.register_forward_hook(make(name)))
            yield
        finally:
            for h in handles:
                h.remove()
