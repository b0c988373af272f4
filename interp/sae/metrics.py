"""SAE quality: L0, explained variance, dead-feature fraction, and CE loss recovered when spliced in.

All are measured on held-out real-token activations (never padding). CE loss recovered splices
the SAE's reconstruction into the model at its site with an interp intervention and compares
next-token cross-entropy of the clean model, the spliced one and the site zero-ablated:
(CE_zero - CE_sae) / (CE_zero - CE_clean); 1 means the reconstruction loses nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp.interventions import ApplyFunction, intervene
from interp.models.positions import positions_from_mask
from interp.sae.train import check_sae_for
from interp.sites import Site, parse_site

if TYPE_CHECKING:
    from interp.models.model import Model


@torch.no_grad()
def encode(sae, x: Float[Tensor, "rows d_in"]) -> Float[Tensor, "rows d_sae"]:
    return sae.encode(x.to(sae.W_dec.device, sae.W_dec.dtype))


@torch.no_grad()
def reconstruction_stats(sae, batches: Iterable[Float[Tensor, "rows d_in"]]) -> dict[str, Any]:
    """L0, explained variance (1 - SSE / total variance around the mean), MSE and dead fraction.

    A feature is dead when it never fires on any of the rows given.
    """
    d_sae = int(sae.cfg.d_sae)
    fired = torch.zeros(d_sae, dtype=torch.bool)
    n, l0_sum, sse = 0, 0.0, 0.0
    sum_x, sum_sq = None, 0.0
    for x in batches:
        x = x.to(sae.W_dec.device, sae.W_dec.dtype)
        f = sae.encode(x)
        xh = sae.decode(f)
        active = f != 0
        fired |= active.any(0).cpu()
        l0_sum += float(active.sum())
        sse += float((x.double() - xh.double()).pow(2).sum())
        xd = x.double()
        sum_x = xd.sum(0) if sum_x is None else sum_x + xd.sum(0)
        sum_sq += float(xd.pow(2).sum())
        n += x.shape[0]
    if n == 0:
        raise ValueError("no activation rows to evaluate the SAE on")
    total_var = sum_sq - float(sum_x.pow(2).sum()) / n
    return {
        "n_tokens": n,
        "l0": l0_sum / n,
        "mse": sse / n,
        "explained_variance": 1.0 - sse / total_var if total_var > 0 else float("nan"),
        "dead_fraction": float((~fired).float().mean()),
        "d_sae": d_sae,
    }


def next_token_ce(
    logits: Float[Tensor, "batch pos vocab"], ids: Int[Tensor, "batch pos"], mask: Int[Tensor, "batch pos"]
) -> tuple[float, int]:
    """Sum of next-token cross-entropy over positions whose token and next token are both real."""
    valid = (mask[:, :-1] * mask[:, 1:]).bool()
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    nll = -logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return float(nll[valid].sum()), int(valid.sum())


@torch.no_grad()
def ce_loss_recovered(
    model: "Model",
    sae,
    site: "Site | str",
    texts: Sequence[str],
    batch_size: int = 16,
    max_length: int | None = 128,
    progress: bool = False,
    skip_first: int = 0,
    max_norm: float | None = None,
) -> dict[str, float]:
    """CE of the clean model, with the SAE spliced in at `site`, and with `site` zero-ablated; and the fraction recovered.

    Only real tokens at positions >= `skip_first` whose activation norm is <= `max_norm` (when
    given) are spliced or ablated; the others keep their own activations in every run. That
    measures an SAE on the tokens it was trained on when the attention sink (position 0) and
    massive activations were left out of its training data.
    """
    site = parse_site(site).resolve(model)
    check_sae_for(sae, model)
    sae = sae.to(model.device)
    touch: dict[str, Tensor] = {}

    def where(acts: Tensor) -> Tensor:
        mask = touch["mask"]
        if max_norm is not None:
            mask = mask & (acts.float().norm(dim=-1) <= max_norm)
        return mask[..., None]

    def splice(acts: Tensor) -> Tensor:
        out = sae(acts.reshape(-1, acts.shape[-1]).to(sae.W_dec.dtype)).reshape(acts.shape).to(acts.dtype)
        return torch.where(where(acts), out, acts)

    def zero(acts: Tensor) -> Tensor:
        return torch.where(where(acts), torch.zeros_like(acts), acts)

    variants = {"clean": (), "sae": (ApplyFunction(site, splice),), "zero": (ApplyFunction(site, zero),)}
    totals = {k: 0.0 for k in variants}
    count = 0
    starts = range(0, len(texts), batch_size)
    for start in tqdm(starts, desc=f"CE recovered {site.key}", unit="batch", disable=not progress):
        ids, mask = model.tokenize(list(texts[start:start + batch_size]), max_length=max_length)
        touch["mask"] = (mask.bool() & (positions_from_mask(mask) >= skip_first)).to(model.device)
        for name, ivs in variants.items():
            with intervene(model, *ivs):
                logits = model.forward(ids, mask).logits
            s, c = next_token_ce(logits, ids, mask)
            totals[name] += s
        count += c
    if count == 0:
        raise ValueError("no next-token predictions in the texts (each needs at least two tokens)")
    ce = {k: v / count for k, v in totals.items()}
    gap = ce["zero"] - ce["clean"]
    return {
        "ce_clean": ce["clean"],
        "ce_sae": ce["sae"],
        "ce_zero": ce["zero"],
        "ce_recovered": (ce["zero"] - ce["sae"]) / gap if abs(gap) > 1e-12 else float("nan"),
        "n_predictions": count,
    }
