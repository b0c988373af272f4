"""collect(): rows match a direct capture, pooled rows, resuming after a failure, refusing other inputs."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest
import torch

collect_mod = importlib.import_module("interp.store.collect")
from interp.activations import capture
from interp.store import ActivationStore, StoreMismatch, collect, share

TEXTS = [f"text number {i} " + "ab" * (i % 7) for i in range(23)]
SITES = ["resid_post:-1", "final"]


def test_share_covers_each_index_once():
    for split in ("contiguous", "strided"):
        for n, world in [(23, 2), (5, 3), (2, 4)]:
            parts = [share(n, r, world, split) for r in range(world)]
            assert sorted(i for p in parts for i in p) == list(range(n))
    assert share(10, 1, 2, "contiguous") == [5, 6, 7, 8, 9] and share(10, 1, 2, "strided") == [1, 3, 5, 7, 9]
    with pytest.raises(ValueError, match="contiguous"):
        share(3, 0, 1, "random")


def test_per_token_rows_match_direct_capture(tiny_llama, tmp_path):
    store = collect(tiny_llama, TEXTS, SITES, tmp_path, batch_size=5, shard_rows=50, progress=False)
    assert [s.key for s in store.sites] == ["resid_post.3", "final"] and store.d == tiny_llama.d_model
    assert store.model == "tiny-random-llama" and store.complete and store.n_shards > 2
    got = store.read_all()
    lengths = [len(tiny_llama.tokenizer(t)["input_ids"]) for t in TEXTS]
    assert store.n_rows == sum(lengths)
    assert got["seq_id"].tolist() == [i for i, n in enumerate(lengths) for _ in range(n)]
    for i in (0, 6, 22):
        ids, mask = tiny_llama.tokenize([TEXTS[i]])
        direct = capture(tiny_llama, ids, mask, SITES)
        sel = got["seq_id"] == i
        assert got["token_id"][sel].tolist() == ids[0].tolist()
        assert got["position"][sel].tolist() == list(range(lengths[i]))
        for site, acts in direct.items():
            torch.testing.assert_close(got[site.key][sel], acts[0], rtol=1e-5, atol=1e-5)


def test_pooled_rows_and_padding_rows(tiny_llama, tmp_path):
    store = collect(tiny_llama, TEXTS, ["final"], tmp_path / "pooled", batch_size=4, per_token=False, pool="last",
                    progress=False)
    got = store.read_all()
    assert store.n_rows == len(TEXTS) and got["seq_id"].tolist() == list(range(len(TEXTS)))
    ids, mask = tiny_llama.tokenize([TEXTS[5]])
    (direct,) = capture(tiny_llama, ids, mask, ["final"], pool="last").values()
    torch.testing.assert_close(got["final"][5], direct[0], rtol=1e-5, atol=1e-5)
    assert got["n_tokens"][5] == ids.shape[1]
    padded = collect(tiny_llama, TEXTS[:4], ["final"], tmp_path / "padded", batch_size=4, exclude_padding=False,
                     progress=False).read_all()
    width = tiny_llama.tokenize(TEXTS[:4])[0].shape[1]
    assert len(padded["seq_id"]) == 4 * width
    pads = padded["position"] == -1
    assert pads.any() and (padded["token_id"][pads] == tiny_llama.pad_token_id).all()


def test_resume_after_failure_skips_committed_texts(tiny_llama, tmp_path, monkeypatch):
    ref = collect(tiny_llama, TEXTS, SITES, tmp_path / "ref", batch_size=3, shard_rows=40, progress=False).read_all()
    calls = []
    real = collect_mod.capture

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(collect_mod, "capture", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        collect(tiny_llama, TEXTS, SITES, tmp_path / "run", batch_size=3, shard_rows=40, progress=False)
    partial = ActivationStore.open(tmp_path / "run")
    done = partial.manifests[0].items_done
    assert 0 < done < len(TEXTS) and not partial.complete
    calls.clear()
    monkeypatch.setattr(collect_mod, "capture", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    store = collect(tiny_llama, TEXTS, SITES, tmp_path / "run", batch_size=3, shard_rows=40, progress=False)
    assert len(calls) == -(-(len(TEXTS) - done) // 3)  # only the batches not yet committed were recomputed
    got = store.read_all()
    for k in ref:
        assert torch.equal(got[k], ref[k]), k
    calls.clear()
    collect(tiny_llama, TEXTS, SITES, tmp_path / "run", batch_size=3, shard_rows=40, progress=False)
    assert calls == []  # a finished store is not recomputed


def test_other_inputs_are_refused_unless_overwrite(tiny_llama, tmp_path):
    collect(tiny_llama, TEXTS[:4], ["final"], tmp_path, progress=False)
    with pytest.raises(StoreMismatch, match=r"metadata.collect.n_texts, metadata.collect.texts_sha256"):
        collect(tiny_llama, TEXTS[:5], ["final"], tmp_path, progress=False)
    store = collect(tiny_llama, TEXTS[:5], ["final"], tmp_path, overwrite=True, progress=False)
    assert store.read_all()["seq_id"].unique().tolist() == [0, 1, 2, 3, 4]


def test_example_runs(tmp_path, capsys):
    path = Path(__file__).resolve().parents[3] / "examples" / "collect_store.py"
    spec = importlib.util.spec_from_file_location("collect_store_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    shapes = example.main(["--model", "tiny-random-llama", "--out", str(tmp_path), "--shard-rows", "32"])
    out = capsys.readouterr().out
    assert "rows=" in out and "one shuffled batch" in out
    n = shapes["seq_id"][0]
    assert n > 32 and shapes["final"] == (n, 64) and shapes["resid_post.3"] == (n, 64)
