"""Activation store: safetensors shards plus per-rank JSON manifests, streamed back in bounded memory.

    with ActivationStore.create(dir, sites=["resid_post.3"], d=64, columns={"seq_id": "int64"}) as w:
        w.append(acts, {"seq_id": ids}, items=len(texts))
    store = ActivationStore.open(dir)
    for batch in store.iter_batches(1024, shuffle=True, seed=0): ...

`collect(model, texts, sites, dir)` fills a store from texts (resumable, Accelerate-aware).
"""
from interp.store.collect import collect, share
from interp.store.manifest import StoreMismatch
from interp.store.reader import ActivationStore, Batch
from interp.store.writer import StoreWriter

__all__ = ["ActivationStore", "StoreWriter", "StoreMismatch", "Batch", "collect", "share"]
