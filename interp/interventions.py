"""Editing activations at sites: small intervention values composed as context managers.

    with intervene(model, AddVector(resid_post(6), v, scale=4.0), ProjectOut(mlp_out(3), d)):
        generate(model, prompts)

Hooks are attached in the order given (two on one site apply in that order) and are always
removed on exit, also when the body raises. They fire on every forward, so they stay active
during KV-cached generation, where each step after the prompt sees one position (an attention
pattern then sees one query row over every cached key).

Any site takes any intervention (`interp.sites`: `pattern(l, h)`, `head_out(l, h)`, `mlp_post(l)`,
`hook:NAME`...); a vector's width must match the site's last axis (d_model for the residual sites and
`head_out`, checked before attaching; the rest when the activations arrive).
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import torch
from jaxtyping import Float
from torch import Tensor, nn

from interp.hooks import attached
from interp.sites import Site, parse_site

if TYPE_CHECKING:
    from interp.models.model import Model

Acts = Float[Tensor, "batch pos d_model"]


class Intervention:
    """Base: `apply(acts) -> acts` at `site`. Interventions are values: using one on a model never
    changes it, so `AddVector(resid_post(-1), v)` means the last layer of whichever model it meets."""

    site: Site

    def apply(self, acts: Acts) -> Acts:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, model: "Model") -> None:
        """Validate against the model before any hook is attached (raises; changes nothing)."""
        parse_site(self.site).resolve(model)

    def resolved(self, model: "Model") -> "Intervention":
        """A checked copy whose site names this model's layer (negative layers counted from its end)."""
        self.check(model)
        out = copy.copy(self)
        out.site = parse_site(self.site).resolve(model)
        return out


def _vector_check(vec: Tensor, model: "Model", what: str, site: "Site | str") -> None:
    """A residual-width site takes d_model vectors; other sites (`mlp_post`, `z`, `pattern`...) are checked
    against the activations themselves when they arrive (`_width_check`)."""
    if parse_site(site).residual_width and vec.shape[-1] != model.d_model:
        raise ValueError(f"{what} has width {vec.shape[-1]} but model {model.spec!r} has d_model={model.d_model}")


def _width_check(vec: Tensor, acts: Tensor, what: str, site: "Site | str") -> None:
    if vec.shape[-1] != acts.shape[-1]:
        raise ValueError(f"{what} has width {vec.shape[-1]} but site {site} delivers {tuple(acts.shape)} "
                         f"(last axis {acts.shape[-1]})")


@dataclass
class AddVector(Intervention):
    """acts + scale * vector (a steering vector)."""

    site: Site
    vector: Float[Tensor, "d_model"]
    scale: float = 1.0

    def check(self, model: "Model") -> None:
        super().check(model)
        _vector_check(self.vector, model, "steering vector", self.site)

    def apply(self, acts: Acts) -> Acts:
        _width_check(self.vector, acts, "steering vector", self.site)
        return acts + self.scale * self.vector.to(acts.device, acts.dtype)


@dataclass
class ProjectOut(Intervention):
    """acts - (acts . d) d with d the unit direction: removes one direction from the stream."""

    site: Site
    direction: Float[Tensor, "d_model"]

    def check(self, model: "Model") -> None:
        super().check(model)
        _vector_check(self.direction, model, "direction", self.site)

    def apply(self, acts: Acts) -> Acts:
        _width_check(self.direction, acts, "direction", self.site)
        d = self.direction.to(acts.device, acts.dtype)
        d = d / d.norm().clamp(min=1e-12)
        return acts - (acts @ d).unsqueeze(-1) * d


@dataclass
class Replace(Intervention):
    """Replace activations by `value` (broadcast: a `[d]` vector or a full `[batch pos d]` tensor)."""

    site: Site
    value: Tensor

    def apply(self, acts: Acts) -> Acts:
        return self.value.to(acts.device, acts.dtype).expand_as(acts).clone()


@dataclass
class ApplyFunction(Intervention):
    """acts -> fn(acts), for anything the other values do not cover (e.g. test-time optimisation)."""

    site: Site
    fn: Callable[[Acts], Acts]

    def apply(self, acts: Acts) -> Acts:
        return self.fn(acts)


@dataclass
class ApplyModule(Intervention):
    """A learned controller: acts -> module(acts), or acts + module(acts) when `residual`."""

    site: Site
    module: nn.Module
    residual: bool = False

    def apply(self, acts: Acts) -> Acts:
        out = self.module(acts)
        return acts + out if self.residual else out


@contextmanager
def intervene(model: "Model", *interventions: Intervention) -> Iterator[None]:
    """Activate interventions in order for the body; hooks are removed on exit, even on error."""
    active = [iv.resolved(model) for iv in interventions]
    with attached(model, [(iv.site, iv.apply) for iv in active]):
        yield


def no_op(site: Site | str = "final") -> ApplyFunction:
    """An intervention that changes nothing: measures hook overhead in benchmarks."""
    return ApplyFunction(parse_site(site), lambda acts: acts)


__all__ = ["Intervention", "AddVector", "ProjectOut", "Replace", "ApplyFunction", "ApplyModule", "intervene", "no_op", "torch"]
