"""Refuse a model whose KV-cached decoding differs from recomputation, before it writes wrong text.

Upstream releases change how the cache reaches the attention layers without notice (transformers
5.24 renamed `past_key_values` to `cache`, and transformer-lens 3.9's bridge silently stopped
caching). Every generation-based result depends on the cache, so `load_model` runs this check:
a batch of two left-padded rows, prefilled and then decoded a few tokens with the cache, against
one forward over the whole sequence, compared at the logits. It costs a handful of forwards on a
dozen tokens and runs once per (package versions, architecture, dtype, device) in a process.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from interp.models.cache_keyword import returned_cache
from interp.versions import installed_versions, supported_ranges

if TYPE_CHECKING:
    from interp.models.model import Model

# largest |cached - recomputed| logit difference, relative to the logits' spread, that is float noise
TOLERANCE = {torch.float32: 1e-3, torch.float64: 1e-8}
HALF_TOLERANCE = 3e-2
_PASSED: set[tuple] = set()


class CacheMismatch(RuntimeError):
    """Cached decoding disagrees with recomputation: the installed versions would give wrong text."""


def cache_discrepancy(model: "Model", n_new: int = 3) -> float:
    """Max |cached - recomputed| over the last `n_new` positions' logits, divided by the logits' std, on both
    execution paths (`interp.models.lean_path`): generation takes the bridge path whenever a finer hook is
    attached, and the bridge is where upstream releases have broken the cache."""
    return max(path_discrepancies(model, n_new).values())


def path_discrepancies(model: "Model", n_new: int = 3) -> dict[str, float]:
    """`_discrepancy` on the lean and on the bridge path, restoring the model's execution setting."""
    before = model.execution
    try:
        out = {}
        for mode in ("lean", "bridge"):
            model.execution = mode
            out[mode] = _discrepancy(model, n_new)
        return out
    finally:
        model.execution = before


@torch.no_grad()
def _discrepancy(model: "Model", n_new: int) -> float:
    vocab = model.vocab_size
    rows = [[(7 + 31 * i) % vocab for i in range(10)], [(11 + 17 * i) % vocab for i in range(7)]]
    ids, mask = model.pad(rows)
    full = model.forward(ids, mask).logits[:, -n_new:].float()
    prefix = ids.shape[1] - n_new
    past = returned_cache(model.forward(ids[:, :prefix], mask[:, :prefix], use_cache=True))
    cached = []
    for t in range(prefix, ids.shape[1]):  # one new token per step, as generation feeds them
        out = model.forward(ids[:, t:t + 1], mask[:, :t + 1], past_key_values=past, use_cache=True)
        past = returned_cache(out)
        cached.append(out.logits[:, -1])
    got = torch.stack(cached, 1).float()
    return float((got - full).abs().max() / full.std().clamp(min=1e-12))


def check_cached_decoding(model: "Model") -> None:
    """Raise `CacheMismatch`, naming the installed versions and the supported ranges, when cached
    decoding on `model` is not recomputation; memoised per versions, architecture, dtype, device."""
    versions = installed_versions()
    key = (tuple(versions.items()), type(model.hf).__name__, model.dtype, model.device.type)
    if key in _PASSED:
        return
    paths = path_discrepancies(model)
    path, diff = max(paths.items(), key=lambda kv: kv[1])
    limit = TOLERANCE.get(model.dtype, HALF_TOLERANCE)
    if not diff <= limit:
        installed = ", ".join(f"{k} {v}" for k, v in versions.items())
        ranges = ", ".join(f"{k} {v}" for k, v in supported_ranges().items()) or "see pyproject.toml"
        raise CacheMismatch(
            f"refusing to use {model.spec!r} ({type(model.hf).__name__}): KV-cached decoding on the {path} "
            f"execution path differs from recomputing the whole sequence (max logit difference "
            f"{diff:.3g} x the logits' spread, tolerance {limit:g}), so generation would produce wrong text. "
            f"Installed: {installed}. interp supports: {ranges}. Install the tested versions with "
            "`pip install -c requirements-lock.txt -e .` from the interp checkout (README), or pin the "
            "package that changed to an older release."
        )
    _PASSED.add(key)
