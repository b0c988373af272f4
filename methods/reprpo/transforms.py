"""Learned transforms of hidden states, applied before a hidden-state loss (one per collection layer).

All of them act on the d_model axis and are trained together with the adapter:
  none   T(h) = h
  ortho  T(h) = h Q with Q orthogonal, kept so by torch.nn.utils.parametrizations.orthogonal
         (initialised at the identity)
  hra    Householder reflection of rank r: the r columns of U are orthonormalised by
         Gram-Schmidt into W, and T(h) = h (I - 2 W W^T)
  ether  ETHER (Bini et al. 2024): block-diagonal reflections; h is cut into `blocks` equal
         chunks h_b and T(h)_b = h_b - 2 (h_b . u_b) u_b / |u_b|^2

Every one of these maps is orthogonal, so it preserves distances and inner products: the `mse`
and `prefvec` losses (built from distances and projections) take the same value under any of
them; only `rank` (a softmax over the hidden dimension, which is not rotation invariant) sees a
difference. The transforms act on pooled states; being linear, T(mean h) = mean T(h).

The `reference` variant's `ether` is the reference's default instead (wassname/repr-preference-
optimization, transforms/ether.py, ETHERLinearSmall with nb=16, reduction=60), which is *not*
orthogonal: T(h) = W_up (R (H h)), H the block reflections above (learned), R a fixed random
[d/reduction, d] projection (nn.Linear's initialisation; the reference reads its weight through
`.data`, so it never trains) and W_up a learned [d, d/reduction] up-projection. So under it `mse`
and `prefvec` do depend on the transform. `ortho` and `hra` are the same orthogonal maps in both
variants.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.nn.utils.parametrizations import orthogonal


class Ortho(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        lin = nn.Linear(d, d, bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.eye(d))
        self.lin = orthogonal(lin)

    def forward(self, h: Float[Tensor, "... d"]) -> Float[Tensor, "... d"]:
        return self.lin(h)


class HRA(nn.Module):
    def __init__(self, d: int, r: int = 8):
        super().__init__()
        if not 1 <= r <= d:
            raise ValueError(f"HRA rank r must be in 1..{d} (d_model), got {r}")
        self.u = nn.Parameter(torch.randn(d, r) / math.sqrt(d))

    def basis(self) -> Float[Tensor, "d r"]:
        """Gram-Schmidt: orthonormal columns spanning U (differentiable)."""
        cols: list[Tensor] = []
        for i in range(self.u.shape[1]):
            v = self.u[:, i]
            for w in cols:
                v = v - (w @ v) * w
            cols.append(v / v.norm().clamp_min(1e-12))
        return torch.stack(cols, 1)

    def forward(self, h: Float[Tensor, "... d"]) -> Float[Tensor, "... d"]:
        w = self.basis().to(h.dtype)
        return h - 2 * (h @ w) @ w.T


class Ether(nn.Module):
    def __init__(self, d: int, blocks: int = 4):
        super().__init__()
        if blocks < 1 or d % blocks:
            raise ValueError(f"ETHER needs d_model ({d}) divisible by the number of blocks ({blocks})")
        self.blocks = blocks
        self.u = nn.Parameter(torch.randn(blocks, d // blocks) / math.sqrt(d // blocks))

    def forward(self, h: Float[Tensor, "... d"]) -> Float[Tensor, "... d"]:
        hb = h.reshape(*h.shape[:-1], self.blocks, -1)
        u = (self.u / self.u.norm(dim=-1, keepdim=True).clamp_min(1e-12)).to(h.dtype)
        hb = hb - 2 * (hb * u).sum(-1, keepdim=True) * u
        return hb.reshape(h.shape)


class EtherReference(nn.Module):
    """The reference's ETHER: reflect blocks, project down by a fixed random map, project up (learned)."""

    def __init__(self, d: int, blocks: int = 16, reduction: int = 60):
        super().__init__()
        if blocks < 1 or d % blocks:
            raise ValueError(f"ETHER needs the state width ({d}) divisible by the number of blocks ({blocks}); "
                             "set --ether-blocks")
        if not 1 <= reduction <= d:
            raise ValueError(f"ETHER reduction must be in 1..{d} (the state width), got {reduction}")
        self.blocks = blocks
        self.u = nn.Parameter(torch.randn(blocks, d // blocks) / math.sqrt(d // blocks))
        down = nn.Linear(d, d // reduction, bias=False)  # nn.Linear's init, as the reference's inner layer
        self.register_buffer("down", down.weight.detach().clone())
        self.up = nn.Linear(d // reduction, d, bias=False)

    def forward(self, h: Float[Tensor, "... d"]) -> Float[Tensor, "... d"]:
        hb = h.reshape(*h.shape[:-1], self.blocks, -1)
        u = (self.u / self.u.norm(dim=-1, keepdim=True).clamp_min(1e-12)).to(h.dtype)
        hb = hb - 2 * (hb * u).sum(-1, keepdim=True) * u
        return self.up(hb.reshape(h.shape) @ self.down.to(h.dtype).T)


def make_transform(kind: str, d: int, hra_r: int = 8, ether_blocks: int = 4, reference: bool = False,
                   ether_reduction: int = 60) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "ortho":
        return Ortho(d)
    if kind == "hra":
        return HRA(d, hra_r)
    if kind == "ether":
        return EtherReference(d, ether_blocks, ether_reduction) if reference else Ether(d, ether_blocks)
    raise ValueError(f"unknown transform {kind!r}; choose none, ortho, hra or ether")


class LayerTransforms(nn.Module):
    """One transform per collection site, applied to states stacked as [..., layer, d] or listed per site
    ([..., d_k] each, when the sites differ in width)."""

    def __init__(self, kind: str, n_layers: int, d: int | Sequence[int], hra_r: int = 8, ether_blocks: int = 4,
                 reference: bool = False, ether_reduction: int = 60):
        super().__init__()
        dims = [int(d)] * n_layers if isinstance(d, int) else [int(x) for x in d]
        if len(dims) != n_layers:
            raise ValueError(f"{n_layers} sites but {len(dims)} widths")
        self.kind = kind
        self.per_layer = nn.ModuleList(make_transform(kind, w, hra_r, ether_blocks, reference, ether_reduction)
                                       for w in dims)

    def forward(self, states):
        if self.kind == "none":
            return states
        if isinstance(states, (list, tuple)):
            return [t(s) for t, s in zip(self.per_layer, states)]
        return torch.stack([t(states[..., i, :]) for i, t in enumerate(self.per_layer)], -2)
