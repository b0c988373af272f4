"""Reading the residual stream: capture chosen sites for a batch, per token or pooled over the mask."""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Literal, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.hooks import attached
from interp.sites import Site, parse_site

if TYPE_CHECKING:
    from interp.models.model import Model

Pool = Literal["mean", "last"] | None


def masked_mean(
    acts: Float[Tensor, "batch pos d_model"], mask: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch d_model"]:
    """Mean over the positions where `mask` is 1 (padding excluded)."""
    m = mask.to(acts.dtype).unsqueeze(-1)
    return (acts * m).sum(1) / m.sum(1).clamp(min=1.0)


def last_token(
    acts: Float[Tensor, "batch pos d_model"], mask: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch d_model"]:
    """The state at each row's last real token (works for left or right padding)."""
    idx = (mask.long() * torch.arange(mask.shape[1], device=mask.device)).argmax(1)
    return acts[torch.arange(acts.shape[0], device=acts.device), idx]


def pool_acts(acts: Float[Tensor, "batch ..."], mask: Int[Tensor, "batch pos"], pool: Pool, pos_axis: int = 1) -> Tensor:
    """Pool over the position axis (`pos_axis`; 2 for attention patterns `[batch heads query key]`, whose
    query positions are pooled), keeping every other axis: `[batch pos *rest]` becomes `[batch *rest]`."""
    if pool is None:
        return acts
    if pool not in ("mean", "last"):
        raise ValueError(f"unknown pooling {pool!r}: use None (per token), 'mean' or 'last'")
    acts = acts.movedim(pos_axis, 1)
    if pool == "last":
        return last_token(acts, mask)
    m = mask.to(acts.dtype).reshape(*mask.shape, *(1,) * (acts.ndim - 2))
    return (acts * m).sum(1) / m.sum(1).clamp(min=1.0)


@contextmanager
def recording(model: "Model", sites: Sequence["Site | str"], detach: bool = True) -> Iterator[dict[Site, list[Tensor]]]:
    """Record every activation that passes the sites while the body runs (one list entry per call)."""
    resolved = [parse_site(s).resolve(model) for s in sites]
    store: dict[Site, list[Tensor]] = {s: [] for s in resolved}

    def make(site: Site):
        def fn(acts: Tensor) -> None:
            store[site].append(acts.detach() if detach else acts)

        return fn

    with attached(model, [(s, make(s)) for s in resolved]):
        yield store


def capture(
    model: "Model",
    input_ids: Int[Tensor, "batch pos"],
    attention_mask: Int[Tensor, "batch pos"] | None = None,
    sites: Sequence["Site | str"] = ("final",),
    pool: Pool = None,
    grad: bool = False,
) -> dict[Site, Tensor]:
    """Run one forward and return {site: activations}, per token `[batch pos d]` or pooled `[batch d]`
    (other sites in their own layout, see `interp.sites`; pooling drops the position axis).

    Sites come back with non-negative layers (`resid_post(-1)` is returned as `resid_post(n-1)`).
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    with torch.set_grad_enabled(grad), recording(model, sites, detach=not grad) as rec:
        model.forward(input_ids, attention_mask)
    silent = [str(site) for site, vals in rec.items() if not vals]
    if silent:
        raise ValueError(f"site(s) {', '.join(silent)} did not fire in a forward of model {model.spec!r} "
                         f"(latest forward: {model.lean.last})")
    return {site: pool_acts(vals[-1], attention_mask, pool, site.pos_axis) for site, vals in rec.items()}


def capture_texts(
    model: "Model", texts: Sequence[str], sites: Sequence["Site | str"] = ("final",), pool: Pool = "mean",
    max_length: int | None = None,
) -> dict[Site, Tensor]:
    """Tokenize (left padded) and capture: the convenient form for analysis scripts."""
    ids, mask = model.tokenize(texts, max_length=max_length)
    return capture(model, ids, mask, sites, pool=pool)
