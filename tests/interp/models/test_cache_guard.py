"""The load-time guard refuses a model whose cached decoding differs from recomputation, and the
`cache=` keyword shim is still needed (this file says when upstream makes it redundant)."""
import time
import types

import pytest

from interp.models import cache_guard, load_model
from interp.models.cache_guard import CacheMismatch, cache_discrepancy, check_cached_decoding
from interp.models.cache_keyword import cache_keyword, upstream_reads_cache_keyword


def _ignore_cache(self, k, v, **kwargs):
    return k, v  # what transformer-lens 3.9 does with a cache passed as `cache=`


def test_broken_cache_is_refused_with_versions_named(monkeypatch):
    from transformer_lens.model_bridge.generalized_components.attention import AttentionBridge

    monkeypatch.setattr(cache_guard, "_PASSED", set())
    monkeypatch.setattr(AttentionBridge, "_update_kv_cache", _ignore_cache)
    start = time.perf_counter()
    with pytest.raises(CacheMismatch) as err:
        load_model("tiny-random-llama", device="cpu")
    print(f"refused in {time.perf_counter() - start:.2f} s")
    msg = str(err.value)
    from interp.versions import installed_versions

    versions = installed_versions()
    assert f"transformers {versions['transformers']}" in msg and f"transformer-lens {versions['transformer-lens']}" in msg
    assert "interp supports:" in msg and "lock" in msg
    assert "on the bridge execution path" in msg  # the lean path runs HF's own attention, which caches


def test_healthy_cache_passes_and_is_checked_once(monkeypatch):
    monkeypatch.setattr(cache_guard, "_PASSED", set())
    calls = []
    real = cache_guard.path_discrepancies
    monkeypatch.setattr(cache_guard, "path_discrepancies", lambda m, *a: calls.append(1) or real(m, *a))
    model = load_model("tiny-random-gpt2", device="cpu")
    load_model("tiny-random-gpt2", device="cpu")
    assert len(calls) == 1
    assert cache_discrepancy(model) < 1e-4


def test_guard_sees_a_cache_broken_after_loading():
    model = load_model("stories260k", device="cpu")
    for module in model.bridge.modules():
        if "_update_kv_cache" in module.__dict__:
            module._update_kv_cache = types.MethodType(_ignore_cache, module)
    assert cache_discrepancy(model) > 0.1
    cache_guard._PASSED.clear()
    with pytest.raises(CacheMismatch):
        check_cached_decoding(model)


def test_cache_keyword_shim_is_still_needed():
    """Fails when transformer-lens reads `cache=` itself: then delete the bridge patch in
    interp/models/cache_keyword.py (and keep `cache_keyword` / `returned_cache` while older
    transformers are supported)."""
    model = load_model("tiny-random-llama", device="cpu")
    if cache_keyword(model.hf) != "cache":
        pytest.skip("this transformers passes the cache as `past_key_values`: the shim is idle")
    assert not upstream_reads_cache_keyword(), (
        "transformer-lens now updates a cache passed as `cache=`: the shim in interp/models/cache_keyword.py is redundant"
    )
