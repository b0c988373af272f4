"""Activation batches for SAE training: an endless iterator of `[batch d]` rows of real tokens.

sae-lens' `SAETrainer` takes any `Iterator[Tensor]` as its data provider, so we feed it from
an `ActivationStore` (one row per real token: `collect` drops padding) or from an in-memory
tensor. A store written with `exclude_padding=False` keeps padding rows at position -1; they
are filtered out here, so padding never reaches an SAE whichever way the store was written.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import torch
from jaxtyping import Float
from torch import Tensor

if TYPE_CHECKING:
    from interp.store import ActivationStore


def store_has_padding(store: "ActivationStore") -> bool:
    """True when the store may hold padding rows (collected with exclude_padding=False)."""
    collect_cfg = store.metadata.get("collect", {})
    return collect_cfg.get("exclude_padding") is False


def store_rows(
    store: "ActivationStore", site_key: str, batch_size: int, seed: int = 0, shuffle: bool = True
) -> Iterator[Float[Tensor, "batch d"]]:
    """One pass over the store's rows of `site_key` (real tokens only), in batches."""
    if site_key not in store.widths:
        raise KeyError(f"{store.path} has no site {site_key!r}; it holds {list(store.widths)}")
    padded = store_has_padding(store)
    if padded and "position" not in store.columns:
        raise ValueError(
            f"{store.path} was collected with padding but has no 'position' column to drop it; "
            "re-collect with exclude_padding=True"
        )
    columns = ["position"] if padded else []
    for batch in store.iter_batches(batch_size, shuffle=shuffle, seed=seed, sites=[site_key], columns=columns):
        rows = batch[site_key]
        if padded:
            rows = rows[batch["position"] >= 0]
        if rows.shape[0]:
            yield rows


def store_provider(
    store: "ActivationStore", site_key: str, batch_size: int, seed: int = 0, dtype: torch.dtype = torch.float32
) -> Iterator[Float[Tensor, "batch d"]]:
    """Endless full batches from the store, reshuffled each epoch (seed + epoch).

    Rows left over at the end of an epoch start the next batch, so every batch has exactly
    `batch_size` rows (sae-lens counts samples per step from its config).
    """
    if store.n_rows == 0:
        raise ValueError(f"{store.path} holds no rows; collect activations first")
    epoch, buf = 0, []
    have = 0
    while True:
        for rows in store_rows(store, site_key, batch_size, seed=seed + epoch):
            buf.append(rows.to(dtype))
            have += rows.shape[0]
            while have >= batch_size:
                cat = torch.cat(buf)
                yield cat[:batch_size]
                rest = cat[batch_size:]
                buf, have = ([rest] if rest.shape[0] else []), rest.shape[0]
        epoch += 1


def tensor_provider(
    acts: Float[Tensor, "rows d"], batch_size: int, seed: int = 0
) -> Iterator[Float[Tensor, "batch d"]]:
    """Endless shuffled batches from rows already in memory (rows must be real tokens)."""
    if acts.ndim != 2 or acts.shape[0] == 0:
        raise ValueError(f"expected a non-empty [rows d] tensor, got shape {tuple(acts.shape)}")
    gen = torch.Generator().manual_seed(seed)
    while True:
        perm = torch.randperm(acts.shape[0], generator=gen)
        for start in range(0, acts.shape[0] - batch_size + 1, batch_size):
            yield acts[perm[start:start + batch_size]]
        if acts.shape[0] < batch_size:
            idx = torch.randint(acts.shape[0], (batch_size,), generator=gen)
            yield acts[idx]
