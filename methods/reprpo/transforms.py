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
difference. The transforms act on response-pooled states; being linear, T(mean h) = mean T(h).
"""
from __future__ import annotations

import math

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


def make_transform(kind: str, d: int, hra_r: int = 8, ether_blocks: int = 4) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "ortho":
        return Ortho(d)
    if kind == "hra":
        return HRA(d, hra_r)
    if kind == "ether":
        return Ether(d, ether_blocks)
    raise ValueError(f"unknown transform {kind!r}; choose none, ortho, hra or ether")


class LayerTransforms(nn.Module):
    """One transform per collection layer, applied to states stacked as [..., layer, d]."""

    def __init__(self, kind: str, n_layers: int, d: int, hra_r: int = 8, ether_blocks: int = 4):
        super().__init__()
        self.kind = kind
        self.per_layer = nn.ModuleList(make_transform(kind, d, hra_r, ether_blocks) for _ in range(n_layers))

    def forward(self, states: Float[Tensor, "... layer d"]) -> Float[Tensor, "... layer d"]:
        if self.kind == "none":
            return states
        return torch.stack([t(states[..., i, :]) for i, t in enumerate(self.per_layer)], -2)
