"""Padding never reaches SAE training data: every row the trainer sees is a real token's activation."""
import pytest
import torch

from interp import capture, mlp_out
from interp.sae import SAETrainConfig, store_provider, store_rows, train_sae
from interp.store import collect

TEXTS = [
    "Hi.",
    "Once upon a time, there was a little girl named Lily who loved to play in the park with her dog.",
    "The cat sat.",
    "Tom and Sam went to the big red house to see the new toy train and the blue ball.",
]
SITE = mlp_out(1)


def real_and_padding(model):
    ids, mask = model.tokenize(TEXTS)
    acts = capture(model, ids, mask, [SITE])[SITE]
    keep = mask.bool()
    assert (~keep).sum() > 20, "the texts must be padded for this test to mean anything"
    return acts[keep], acts[~keep]


def nearest(rows, ref):
    return torch.cdist(rows.double(), ref.double()).min(dim=1).values


@pytest.mark.parametrize("exclude_padding", [True, False])
def test_store_rows_are_real_tokens_only(stories, tmp_path, exclude_padding):
    real, pad = real_and_padding(stories)
    store = collect(stories, TEXTS, [SITE], tmp_path / "store", batch_size=len(TEXTS),
                    exclude_padding=exclude_padding, progress=False)
    if not exclude_padding:
        assert store.n_rows == real.shape[0] + pad.shape[0]  # the store really holds padding rows
    rows = torch.cat(list(store_rows(store, SITE.key, batch_size=7, seed=0)))
    assert rows.shape[0] == real.shape[0]
    assert nearest(rows, real).max() < 1e-4
    assert nearest(rows, pad).min() > 1e-3


def test_trainer_sees_no_padding(stories, tmp_path):
    """Record every batch sae-lens' trainer pulls from the provider (several epochs) and check each row."""
    real, pad = real_and_padding(stories)
    store = collect(stories, TEXTS, [SITE], tmp_path / "store", batch_size=len(TEXTS),
                    exclude_padding=False, progress=False)  # the hard case: the store holds padding
    seen = []

    def recorder(provider):
        for batch in provider:
            seen.append(batch.clone())
            yield batch

    cfg = SAETrainConfig(architecture="topk", expansion=2, k=4, batch_size=16, training_tokens=16 * 12,
                         n_batches_for_norm_estimate=2, lr=1e-3)
    train_sae(recorder(store_provider(store, SITE.key, cfg.batch_size)), stories.d_model, cfg)
    rows = torch.cat(seen)
    assert rows.shape[0] > 2 * real.shape[0]  # more than two epochs went through
    assert nearest(rows, real).max() < 1e-4
    assert nearest(rows, pad).min() > 1e-3


def test_provider_batches_are_full_and_reshuffled(stories, tmp_path):
    store = collect(stories, TEXTS, [SITE], tmp_path / "store", batch_size=2, progress=False)
    it = store_provider(store, SITE.key, batch_size=10)
    batches = [next(it) for _ in range(2 * store.n_rows // 10 + 1)]  # two epochs and a bit
    assert all(b.shape == (10, stories.d_model) for b in batches)
    n = store.n_rows
    first = torch.cat(batches)[:n]
    second = torch.cat(batches)[n:2 * n]
    assert not torch.equal(first, second)  # epoch 2 comes in another order
    assert torch.allclose(first.sum(0), second.sum(0), atol=1e-3)  # ... of the same rows
