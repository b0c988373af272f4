"""What the Features page computes from saved files (no model): SAE codes on stored activations,
per-feature decoder matches between two dictionaries, and decoder directions.

The rows are the ones the features step classified: the held-out store's real tokens sorted by
(text, position), cut to whole texts at the step's `max_tokens`, so the activation frequency
here equals the `density` column of features/<model>/<site>/x<e>.jsonl.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from app.explorer.rundata import MissingArtifact
from interp.sae.train import SAE_WEIGHTS


def load_sae(folder: Path, command: str):
    """A sae-lens SAE from its folder (safetensors), or MissingArtifact when it cannot be read."""
    from interp.sae import load_sae as _load

    folder = Path(folder)
    try:
        return _load(folder, device="cpu")
    except Exception as e:  # noqa: BLE001 - a half-written SAE folder fails in many ways; all become a message
        raise MissingArtifact(folder / SAE_WEIGHTS, command,
                              f"cannot be loaded ({type(e).__name__}: {str(e)[:160]})") from e


def eval_rows(store_dir: Path, site: str, max_tokens: int, command: str) -> Float[Tensor, "n d_in"]:
    """The stored activations of `site` for the tokens the features step used (see module docstring)."""
    from interp.store import ActivationStore

    store_dir = Path(store_dir)
    try:
        store = ActivationStore.open(store_dir)
        data = store.read_all(columns=["seq_id", "position"], sites=[site])
    except Exception as e:  # noqa: BLE001 - missing shards, bad manifests, unknown sites: one message
        raise MissingArtifact(store_dir, command, f"cannot be read ({type(e).__name__}: {str(e)[:160]})") from e
    seq, pos = data["seq_id"].numpy(), data["position"].numpy()
    keep = pos >= 0
    order = np.lexsort((pos[keep], seq[keep]))
    rows = np.flatnonzero(keep)[order]
    seq_sorted = seq[rows]
    if len(rows) > max_tokens:
        cut = int(np.searchsorted(seq_sorted, seq_sorted[max_tokens - 1], side="left")) or max_tokens
        rows = rows[:cut]
    return data[site][torch.from_numpy(rows)].float()


@torch.no_grad()
def feature_values(sae, x: Float[Tensor, "n d_in"], feature: int, batch: int = 4096) -> np.ndarray:
    """One feature's activation on every row (zeros included)."""
    out = [sae.encode(x[i:i + batch].to(sae.W_dec.dtype))[:, feature] for i in range(0, x.shape[0], batch)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def best_matches(sae_a, sae_b) -> tuple[list[float], list[int]]:
    """For each feature of A, the cosine of its closest decoder direction in B and that feature's index
    (the per-feature terms of MMCS with match='max')."""
    from interp.sae import decoder_directions, mmcs

    m = mmcs(decoder_directions(sae_a), decoder_directions(sae_b), match="max")
    return m.cos, m.partner


def decoder_direction(sae, feature: int) -> Float[Tensor, "d_in"]:
    return sae.W_dec[feature].detach().float().cpu()
