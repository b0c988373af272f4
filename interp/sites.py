"""Sites: architecture-independent names for places in the residual computation.

`resid_pre(l)`, `resid_post(l)`, `mlp_out(l)`, `attn_out(l)` and `final()` (the normed state
that feeds the unembedding). `HOOK_NAMES` is the one place where a site becomes a
transformer-lens bridge hook name; negative layers count from the end.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interp.models.model import Model

HOOK_NAMES = {
    "resid_pre": "blocks.{layer}.hook_in",
    "resid_post": "blocks.{layer}.hook_out",
    "mlp_out": "blocks.{layer}.mlp.hook_out",
    "attn_out": "blocks.{layer}.attn.hook_out",
    "final": "ln_final.hook_out",
}
LAYERED = ("resid_pre", "resid_post", "mlp_out", "attn_out")


@dataclass(frozen=True, order=True)
class Site:
    kind: str
    layer: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in HOOK_NAMES:
            raise ValueError(f"unknown site kind {self.kind!r}: choose one of {', '.join(HOOK_NAMES)}")
        if self.kind in LAYERED and self.layer is None:
            raise ValueError(f"site {self.kind} needs a layer, e.g. {self.kind}(-1)")
        if self.kind == "final" and self.layer is not None:
            raise ValueError("site final() takes no layer")

    def resolve(self, model: "Model | int") -> "Site":
        """The same site with a non-negative layer, checked against the model's depth."""
        if self.layer is None:
            return self
        n = model if isinstance(model, int) else model.n_layers
        layer = self.layer + n if self.layer < 0 else self.layer
        if not 0 <= layer < n:
            raise ValueError(
                f"site {self} is outside the model: layers run 0..{n - 1} (or -{n}..-1 from the end)"
            )
        return Site(self.kind, layer)

    def hook_name(self, model: "Model | int") -> str:
        site = self.resolve(model)
        return HOOK_NAMES[site.kind].format(layer=site.layer)

    def __str__(self) -> str:
        return f"{self.kind}({'' if self.layer is None else self.layer})"

    @property
    def key(self) -> str:
        """A file- and JSON-friendly name: `resid_post.3`, `final`."""
        return self.kind if self.layer is None else f"{self.kind}.{self.layer}"


def resid_pre(layer: int) -> Site:
    return Site("resid_pre", layer)


def resid_post(layer: int) -> Site:
    return Site("resid_post", layer)


def mlp_out(layer: int) -> Site:
    return Site("mlp_out", layer)


def attn_out(layer: int) -> Site:
    return Site("attn_out", layer)


def final() -> Site:
    return Site("final")


_PATTERN = re.compile(r"^\s*([a-z_]+)\s*(?:[:(.]\s*(-?\d+)?\s*\)?)?\s*$")


def parse_site(text: "str | Site") -> Site:
    """Parse `resid_post:-1`, `resid_post(-1)`, `resid_post.3`, `final`, `final()`."""
    if isinstance(text, Site):
        return text
    m = _PATTERN.match(text)
    if not m:
        raise ValueError(f"cannot parse site {text!r}: write e.g. resid_post:-1, mlp_out(3) or final")
    kind, layer = m.group(1), m.group(2)
    return Site(kind, None if layer is None else int(layer))
