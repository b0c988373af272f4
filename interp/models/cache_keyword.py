"""The KV cache under both of Hugging Face's keywords: `past_key_values` (until 5.23) and `cache` (5.24+).

Why this exists: from transformers 5.24 the decoder layers hand the cache to their attention
module as `cache=` (`past_key_values` is deprecated, removal announced for 5.40). The attention
bridges of transformer-lens 3.9 look only for `past_key_values` / `layer_past`
(`AttentionBridge._update_kv_cache`), so with 5.24+ they skip the cache update and every cached
decode step attends to itself alone: "The capital of France is" -> "The------" on SmolLM2, with
no error. `accept_both_cache_keywords(bridge)` gives each attention bridge the cache whichever
keyword carried it. It changes nothing where `past_key_values` is passed (transformers <= 5.23).

`upstream_reads_cache_keyword()` says whether transformer-lens's own method already handles
`cache=`; tests/interp/models/test_cache_keyword.py fails when it does, which is the signal to
delete this module. `interp.models.cache_guard` checks the result on every loaded architecture.
"""
from __future__ import annotations

import functools
import inspect
import types
from typing import Any

from torch import nn

# the keyword transformers' top-level forward takes for the cache, newest first
_KEYWORDS = ("cache", "past_key_values")


def _update_kv_cache_either_keyword(self, k, v, **kwargs: Any):
    if kwargs.get("past_key_values") is None and kwargs.get("cache") is not None:
        kwargs["past_key_values"] = kwargs["cache"]
    return type(self)._update_kv_cache(self, k, v, **kwargs)


def accept_both_cache_keywords(bridge: nn.Module) -> int:
    """Install the keyword mapping on every attention bridge of `bridge`; returns how many."""
    n = 0
    for module in bridge.modules():
        if callable(getattr(type(module), "_update_kv_cache", None)):
            module._update_kv_cache = types.MethodType(_update_kv_cache_either_keyword, module)
            n += 1
    return n


class _RecordingCache:
    """A stand-in cache that records whether the attention bridge asked it to update."""

    def __init__(self) -> None:
        self.updated = False

    def update(self, k, v, layer_idx, *args, **kwargs):
        self.updated = True
        return k, v


def upstream_reads_cache_keyword() -> bool:
    """Whether transformer-lens's unpatched `_update_kv_cache` uses a cache passed as `cache=`."""
    import torch
    from transformer_lens.model_bridge.generalized_components.attention import AttentionBridge

    probe = types.SimpleNamespace(_layer_idx=0, name="probe")
    cache = _RecordingCache()
    k = v = torch.zeros(1, 1, 1, 1)
    AttentionBridge._update_kv_cache(probe, k, v, cache=cache)
    return cache.updated


@functools.lru_cache(maxsize=None)
def _keyword_of(forward: Any) -> str:
    try:
        params = inspect.signature(forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return next((name for name in _KEYWORDS if name in params), "past_key_values")


def cache_keyword(hf_model: nn.Module) -> str:
    """The keyword this HF model's forward takes the cache under (`cache` on 5.24+); a PEFT wrapper
    passes keywords through to the model it wraps, which decides."""
    base = hf_model.get_base_model() if hasattr(hf_model, "get_base_model") else hf_model
    return _keyword_of(type(base).forward)


def returned_cache(output: Any) -> Any:
    """The cache an HF forward returned, under whichever name this transformers version uses."""
    cache = getattr(output, "cache", None) if "cache" in getattr(output, "__dataclass_fields__", {}) else None
    return cache if cache is not None else getattr(output, "past_key_values", None)
