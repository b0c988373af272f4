"""What the controller does, in SAE features: each step's control u decomposed at the control site.

With an SAE (encode E, decode D) trained at the value function's site, and the state h the controller
moves to h + u:

    dz = E(h + u) - E(h)                                   features turned up (> 0) and down (< 0)
    u  = sum_i dz_i d_i  +  [e(h + u) - e(h)]              d_i = D(one-hot i) - D(0), e(x) = x - D(E(x))

The bracket is the SAE's error on the two states; it is what the dictionary cannot say about u. The
identity holds for any SAE whose decoder is affine in the codes (every sae-lens architecture, any
output scaling included, since d_i is read off the decoder itself), and `tests/methods/re_control/
test_interpret.py` checks it. Attribution to the value: dV/dz_i = grad V(h + u) . d_i, so
dz_i * dV/dz_i is feature i's first-order share of the value the ascent gained.

Aggregated over an evaluation set (`summarize`): per feature, its mean dz, how consistently it moves
one way (the share of controlled steps where dz has the feature's majority sign), its mean attribution,
and the tokens its direction promotes through the unembedding (direct logit effect; exact at `final`,
a first-order reading at earlier sites).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Float
from torch import Tensor

from methods.re_control.value import ValueFunction

if TYPE_CHECKING:
    from interp.models.model import Model


@dataclass
class Decomposition:
    delta_z: Float[Tensor, "rows d_sae"]
    directions: Float[Tensor, "d_sae d_in"]  # d_i: what one unit of feature i adds to the decoded state
    error: Float[Tensor, "rows d_in"]  # e(h + u) - e(h)

    def contributions(self) -> Float[Tensor, "rows d_sae d_in"]:
        """Each feature's part of u (rows x features x d_in: for a few rows only)."""
        return self.delta_z[:, :, None] * self.directions[None]

    def explained(self) -> Float[Tensor, "rows d_in"]:
        """sum_i dz_i d_i, without materialising every contribution."""
        return self.delta_z @ self.directions


@torch.no_grad()
def decoder_directions(sae: Any) -> Float[Tensor, "d_sae d_in"]:
    """d_i = D(one-hot i) - D(0), read off the decoder (so any scaling it applies is included)."""
    w = sae.W_dec
    zero = torch.zeros(1, w.shape[0], device=w.device, dtype=w.dtype)
    return sae.decode(torch.eye(w.shape[0], device=w.device, dtype=w.dtype)) - sae.decode(zero)


@torch.no_grad()
def decompose(sae: Any, h: Float[Tensor, "rows d_in"], u: Float[Tensor, "rows d_in"],
              directions: Float[Tensor, "d_sae d_in"] | None = None) -> Decomposition:
    """Split u into SAE features and the SAE's error (see the module docstring)."""
    dev, dt = sae.W_dec.device, sae.W_dec.dtype
    h, x = h.to(dev, dt), (h + u).to(dev, dt)
    z0, z1 = sae.encode(h), sae.encode(x)
    error = (x - sae.decode(z1)) - (h - sae.decode(z0))
    return Decomposition(z1 - z0, decoder_directions(sae) if directions is None else directions, error)


def value_attribution(value: ValueFunction, h: Float[Tensor, "rows d_in"], u: Float[Tensor, "rows d_in"],
                      decomposition: Decomposition) -> Float[Tensor, "rows d_sae"]:
    """dz_i * (grad V(h + u) . d_i): each feature's first-order share of the value at h + u over h."""
    with torch.inference_mode(False), torch.enable_grad():
        x = (h + u).detach().to(value.mean.dtype).requires_grad_(True)
        (grad,) = torch.autograd.grad(value(x).sum(), x)
    d = decomposition.directions.to(grad.device, grad.dtype)
    return decomposition.delta_z.to(grad.dtype) * (grad @ d.T)


def summarize(model: "Model", sae: Any, value: ValueFunction, records: list[tuple[Tensor, Tensor]],
              top: int = 10, tokens_per_feature: int = 5) -> dict[str, Any]:
    """Aggregate the decomposition over every recorded controlled step (h, u as the controller saw them)."""
    if not records:
        raise ValueError("no controlled steps were recorded: generate with the controller's record=True first")
    h = torch.cat([r[0] for r in records]).float()
    u = torch.cat([r[1] for r in records]).float()
    directions = decoder_directions(sae)
    dec = decompose(sae, h, u, directions)
    attr = value_attribution(value, h, u, dec).float().cpu()
    dz = dec.delta_z.float().cpu()
    mean = dz.mean(0)
    moved = dz != 0
    sign = torch.sign(mean)
    consistency = ((torch.sign(dz) == sign) & moved).float().sum(0) / moved.float().sum(0).clamp(min=1)
    unexplained = float(dec.error.norm(dim=-1).mean() / u.norm(dim=-1).mean().clamp(min=1e-12))
    w_u = model.unembed_matrix().detach().float()
    out: dict[str, Any] = {
        "steps": int(h.shape[0]), "d_sae": int(dz.shape[1]), "mean_norm_u": float(u.norm(dim=-1).mean()),
        "error_share": unexplained,  # mean ||SAE error part|| / mean ||u||
        "features_moved_per_step": float(moved.float().sum(1).mean()),
    }
    for label, order in (("up", torch.argsort(mean, descending=True)), ("down", torch.argsort(mean))):
        rows = []
        for i in order[:top].tolist():
            if (mean[i] > 0) != (label == "up") or mean[i] == 0:
                break
            logits = w_u @ directions[i].float().to(w_u.device)
            promoted = logits.topk(tokens_per_feature).indices.tolist()
            rows.append({"feature": i, "mean_delta_z": float(mean[i]), "consistency": float(consistency[i]),
                         "mean_value_attribution": float(attr[:, i].mean()),
                         "promotes": [model.tokenizer.decode([t]) for t in promoted]})
        out[label] = rows
    return out


class SparseFeatureControl:
    """RE-Control's ascent in an SAE's feature space, restricted to a few features per step.

    At each decoding step, with g = grad V(h) and the decoder directions d_i:
        S = the m features with the largest |g . d_i|
        dz_S <- dz_S + step_size * grad_{dz_S} V(h + sum_{i in S} dz_i d_i)      (n_steps times, dz = 0 first)
        u = sum_{i in S} dz_i d_i
    so each controlled token carries a short list of named features (`steps`: per call, the features and
    their dz for each row). Callable on a site's activations like `GradientAscentControl`."""

    def __init__(self, value: ValueFunction, sae: Any, m: int, step_size: float, n_steps: int):
        if m < 1 or n_steps < 0 or not step_size >= 0:
            raise ValueError(f"sparse control needs m >= 1, n_steps >= 0 and step_size >= 0; got m={m}, "
                             f"n_steps={n_steps}, step_size={step_size}")
        self.value, self.m, self.step_size, self.n_steps = value, m, step_size, n_steps
        self.directions = decoder_directions(sae).detach().to(value.mean.device, value.mean.dtype)
        if m > self.directions.shape[0]:
            raise ValueError(f"m={m} is more than the SAE's {self.directions.shape[0]} features")
        self.norms: list[float] = []
        self.steps: list[list[list[tuple[int, float]]]] = []  # per call, per row: [(feature, dz)]

    def control(self, h: Float[Tensor, "batch d_model"]) -> Float[Tensor, "batch d_model"]:
        """u for each row of h (see the class docstring)."""
        with torch.inference_mode(False), torch.enable_grad():
            h = h.detach().clone().to(self.value.mean.dtype)
            x = h.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(self.value(x).sum(), x)
            chosen = (g @ self.directions.T).abs().topk(self.m, dim=-1).indices  # [batch m]
            dirs = self.directions[chosen]  # [batch m d]
            dz = torch.zeros(chosen.shape, dtype=h.dtype, device=h.device)
            for _ in range(self.n_steps):
                dz.requires_grad_(True)
                u = torch.einsum("bm,bmd->bd", dz, dirs)
                (grad,) = torch.autograd.grad(self.value(h + u).sum(), dz)
                dz = (dz + self.step_size * grad).detach()
        self.steps.append([list(zip(c.tolist(), z.tolist())) for c, z in zip(chosen, dz)])
        return torch.einsum("bm,bmd->bd", dz, dirs)

    def __call__(self, acts: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        if self.n_steps == 0:
            return acts
        u = self.control(acts[:, -1])
        self.norms.append(float(u.norm(dim=-1).mean()))
        out = acts.clone()
        out[:, -1] = acts[:, -1] + u.to(acts.dtype)
        return out

    def intervention(self):
        from interp.interventions import ApplyFunction
        from interp.sites import parse_site

        return ApplyFunction(parse_site(self.value.cfg.site), self)
