"""Test-time control: at every decoding step, h -> h + u with u from gradient ascent on V(h + u).

    u_0 = 0,   u_{k+1} = u_k + step_size * grad_u [ V(h + u_k) - penalty * ||u_k||^2 ],   k < n_steps

The optimisation runs inside an `ApplyFunction` intervention at the value function's site, so
it works with interp.generate's batched, KV-cached loop: each step after the prompt sees one
position, and at the prompt only the last position (the state that predicts the first token)
is controlled. Generation runs under no_grad; the ascent turns gradients on locally.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from interp.generation import Generation, generate
from interp.interventions import ApplyFunction
from interp.sites import parse_site
from methods.re_control.value import ValueFunction

if TYPE_CHECKING:
    from interp.models.model import Model


@dataclass
class ControlConfig:
    step_size: float = 0.5
    n_steps: int = 30
    penalty: float = 0.0  # lambda in - lambda * ||u||^2

    def __post_init__(self) -> None:
        if self.n_steps < 0 or self.step_size < 0 or self.penalty < 0:
            raise ValueError(f"control needs n_steps, step_size and penalty >= 0, got {self}")


def optimise_control(
    value: ValueFunction, h: Float[Tensor, "batch d_model"], cfg: ControlConfig
) -> Float[Tensor, "batch d_model"]:
    """u after `cfg.n_steps` gradient-ascent steps on V(h + u) - penalty * ||u||^2 (rows independent)."""
    with torch.inference_mode(False), torch.enable_grad():
        h = h.detach().clone().to(value.mean.dtype)
        u = torch.zeros_like(h)
        for _ in range(cfg.n_steps):
            u.requires_grad_(True)
            objective = value(h + u).sum()
            if cfg.penalty:
                objective = objective - cfg.penalty * (u * u).sum()
            (grad,) = torch.autograd.grad(objective, u)
            u = (u + cfg.step_size * grad).detach()
    return u


class GradientAscentControl:
    """The per-step controller: callable on a site's activations [batch pos d], edits the last position."""

    def __init__(self, value: ValueFunction, cfg: ControlConfig | None = None, record: bool = False):
        self.value, self.cfg = value, cfg or ControlConfig()
        self.norms: list[float] = []  # mean ||u|| per call, for reports
        # with record=True: (h, u) of every controlled step, on the CPU (methods.re_control.interpret reads them)
        self.records: list[tuple[Tensor, Tensor]] | None = [] if record else None

    def __call__(self, acts: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        if self.cfg.n_steps == 0:
            return acts
        u = optimise_control(self.value, acts[:, -1], self.cfg)
        self.norms.append(float(u.norm(dim=-1).mean()))
        if self.records is not None:
            self.records.append((acts[:, -1].detach().float().cpu(), u.detach().float().cpu()))
        out = acts.clone()
        out[:, -1] = acts[:, -1] + u.to(acts.dtype)
        return out

    def intervention(self) -> ApplyFunction:
        return ApplyFunction(parse_site(self.value.cfg.site), self)


def controlled_generate(
    model: "Model",
    prompts: Sequence[str],
    value: ValueFunction,
    cfg: ControlConfig | None = None,
    **generate_kwargs: Any,
) -> Generation:
    """interp.generate with RE-Control at the value function's site (refuses a mismatched model)."""
    value.check(model)
    value.to(model.device).eval()
    flags = [p.requires_grad for p in value.parameters()]
    for p in value.parameters():
        p.requires_grad_(False)  # gradients flow to u only
    ctl = GradientAscentControl(value, cfg)
    interventions = [*generate_kwargs.pop("interventions", ()), ctl.intervention()]
    try:
        return generate(model, prompts, interventions=interventions, **generate_kwargs)
    finally:
        for p, f in zip(value.parameters(), flags):
            p.requires_grad_(f)
