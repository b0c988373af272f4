"""ActivationStore without a model: exact round trips over several shards, shuffling, resuming, ranks, errors."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from interp.store import ActivationStore, StoreMismatch, StoreWriter

SITES = ["resid_post.1", "final"]
COLS = {"uid": "int64", "traj": "int32", "reward": "float64"}


def rows(start: int, n: int, seed: int) -> tuple[dict, dict]:
    g = torch.Generator().manual_seed(seed)
    acts = {"resid_post.1": torch.randn(n, 8, generator=g), "final": torch.randn(n, 8, generator=g)}
    cols = {"uid": torch.arange(start, start + n), "traj": torch.full((n,), seed, dtype=torch.int32),
            "reward": torch.rand(n, generator=g, dtype=torch.float64)}
    return acts, cols


def write(path, sizes, shard_rows=20, **kw) -> dict[str, torch.Tensor]:
    """Write appends of the given sizes; return everything written, concatenated, for comparison."""
    written, start = [], 0
    with ActivationStore.create(path, SITES, 8, columns=COLS, shard_rows=shard_rows, model="m", **kw) as w:
        for i, n in enumerate(sizes):
            acts, cols = rows(start, n, seed=i)
            w.append(acts, cols, items=1)
            written.append({**acts, **cols})
            start += n
    return {k: torch.cat([b[k] for b in written]) for k in written[0]}


def test_round_trip_exact_over_several_shards(tmp_path):
    expected = write(tmp_path, [7, 13, 1, 30, 5, 9, 44, 3])
    store = ActivationStore.open(tmp_path)
    assert store.n_shards >= 4 and store.n_rows == 112 == len(store)
    assert store.d == 8 and [s.key for s in store.sites] == SITES and store.model == "m"
    assert store.columns == {"reward": torch.float64, "traj": torch.int32, "uid": torch.int64}
    assert store.complete and store.manifests[0].items_done == 8
    got = store.read_all()
    assert set(got) == set(expected)
    for k in expected:
        assert got[k].dtype == expected[k].dtype and torch.equal(got[k], expected[k]), k
    # shard sizes: each ends on an append boundary, none above 2*shard_rows - 1
    assert all(s.rows < 40 for s in store.shard_files())
    batches = list(store.iter_batches(16))
    assert [len(b["uid"]) for b in batches] == [16] * 7
    for k in expected:
        assert torch.equal(torch.cat([b[k] for b in batches]), expected[k]), k
    assert len(list(store.iter_batches(50, drop_last=True))) == 2


@pytest.mark.parametrize("batch_size", [1, 7, 33, 1000])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_row_once_whatever_the_batch_size(tmp_path, batch_size, shuffle):
    expected = write(tmp_path, [7, 13, 1, 30, 5, 9, 44, 3], shard_rows=10)
    batches = list(ActivationStore.open(tmp_path).iter_batches(batch_size, shuffle=shuffle, seed=3))
    sizes = [len(b["uid"]) for b in batches]
    assert sizes == [batch_size] * (112 // batch_size) + ([112 % batch_size] if 112 % batch_size else [])
    got = {k: torch.cat([b[k] for b in batches]) for k in batches[0]}
    perm = got["uid"].argsort()
    for k in expected:
        assert torch.equal(got[k][perm], expected[k]), k


def test_shuffle_same_rows_other_order_deterministic(tmp_path):
    expected = write(tmp_path, [10] * 12, shard_rows=10)
    store = ActivationStore.open(tmp_path)

    def order(seed):
        batches = list(store.iter_batches(8, shuffle=True, seed=seed))
        assert all(len(b["uid"]) == 8 for b in batches[:-1])
        return {k: torch.cat([b[k] for b in batches]) for k in batches[0]}

    a, b, c = order(0), order(0), order(1)
    assert torch.equal(a["uid"], b["uid"]) and torch.equal(a["final"], b["final"])
    assert not torch.equal(a["uid"], c["uid"]) and not torch.equal(a["uid"], expected["uid"])
    for got in (a, c):
        perm = got["uid"].argsort()  # uid is unique: sorting recovers the written order
        for k in expected:
            assert torch.equal(got[k][perm], expected[k]), k
    # rows of different shards meet in one batch, and the first batch does not come from shard 0 only
    shard_of = lambda uid: uid // 10  # noqa: E731
    assert any(len(set(shard_of(b["uid"]).tolist())) > 1 for b in store.iter_batches(8, shuffle=True, seed=0))
    assert set(shard_of(next(store.iter_batches(8, shuffle=True, seed=0))["uid"]).tolist()) != {0}


def test_select_columns_and_sites(tmp_path):
    write(tmp_path, [30, 30])
    store = ActivationStore.open(tmp_path)
    batch = next(store.iter_batches(10, columns=["uid"], sites=["final"]))
    assert set(batch) == {"final", "uid"} and batch["final"].shape == (10, 8)
    assert set(next(store.iter_batches(10, columns=[]))) == set(SITES)
    with pytest.raises(KeyError, match="nope"):
        next(store.iter_batches(10, columns=["nope"]))
    with pytest.raises(MemoryError, match="iter_batches"):
        store.read_all(max_bytes=100)


def test_append_errors_name_expected_and_got(tmp_path):
    w = StoreWriter(tmp_path, SITES, 8, columns=COLS)
    acts, cols = rows(0, 4, 0)
    with pytest.raises(ValueError, match=r"width 8.*got shape \(4, 7\)"):
        w.append({**acts, "final": torch.zeros(4, 7)}, cols)
    with pytest.raises(ValueError, match=r"expected sites \['final', 'resid_post.1'\], got \['final'\]"):
        w.append({"final": acts["final"]}, cols)
    with pytest.raises(ValueError, match=r"expected columns .*got"):
        w.append(acts, {"uid": cols["uid"]})
    with pytest.raises(ValueError, match=r"column uid expects shape \[4\]"):
        w.append(acts, {**cols, "uid": torch.arange(5)})
    with pytest.raises(ValueError, match="column uid holds int64, got float32"):
        w.append(acts, {**cols, "uid": torch.zeros(4)})
    with pytest.raises(ValueError, match="pass a dict"):
        w.append(acts["final"], cols)
    assert w.rows_buffered == 0
    with pytest.raises(ValueError, match="collides"):
        StoreWriter(tmp_path / "x", ["final"], 8, columns={"final": "int64"})


def test_crash_leftovers_are_ignored_then_removed_and_resume_matches(tmp_path):
    sizes = [12, 9, 30, 4, 17, 25, 8]
    expected = write(tmp_path / "ref", sizes)
    path = tmp_path / "crash"
    w = StoreWriter(path, SITES, 8, columns=COLS, shard_rows=20, model="m")
    start = 0
    for i, n in enumerate(sizes[:4]):
        w.append(*rows(start, n, seed=i), items=1)
        start += n
    assert w.rows_buffered > 0  # the last appends are still in memory when the process "dies"
    done = w.items_done
    del w
    # what a SIGKILL can leave: a shard written but not yet in the manifest, and a half temp file
    save_file({"acts.final": torch.zeros(3, 8)}, str(path / "shard-r000-000099.safetensors"))
    (path / ".shard-r000-000100.safetensors.abc.tmp").write_bytes(b"half")
    (path / ".shard-r001-000000.safetensors.abc.tmp").write_bytes(b"other rank")
    assert ActivationStore.open(path).n_rows == sum(sizes[:done])
    w = StoreWriter(path, SITES, 8, columns=COLS, shard_rows=20, model="m")
    assert not (path / "shard-r000-000099.safetensors").exists()
    assert not (path / ".shard-r000-000100.safetensors.abc.tmp").exists()
    assert (path / ".shard-r001-000000.safetensors.abc.tmp").exists()  # not this rank's to clean
    assert w.items_done == done
    start = sum(sizes[:done])
    with w:
        for i in range(done, len(sizes)):
            w.append(*rows(start, sizes[i], seed=i), items=1)
            start += sizes[i]
    got = ActivationStore.open(path).read_all()
    for k in expected:
        assert torch.equal(got[k], expected[k]), k


def test_reopen_with_other_layout_is_refused_unless_overwrite(tmp_path):
    write(tmp_path, [5])
    with pytest.raises(StoreMismatch, match=r"differs in: dtype, model"):
        StoreWriter(tmp_path, SITES, 8, columns=COLS, model="other", dtype=torch.float16)
    with pytest.raises(StoreMismatch, match=r"differs in: metadata.a\)"):
        StoreWriter(tmp_path, SITES, 8, columns=COLS, model="m", metadata={"a": 1})
    w = StoreWriter(tmp_path, SITES, 8, columns=COLS, model="other", overwrite=True)
    w.close()
    store = ActivationStore.open(tmp_path)
    assert store.n_rows == 0 and store.model == "other"
    assert store.read_all()["final"].shape == (0, 8)
    assert not list(tmp_path.glob("shard-*"))


def test_ranks_merge_and_completeness(tmp_path):
    w0 = StoreWriter(tmp_path, SITES, 8, columns=COLS, rank=0, world_size=2, shard_rows=5)
    w1 = StoreWriter(tmp_path, SITES, 8, columns=COLS, rank=1, world_size=2, shard_rows=5)
    w0.append(*rows(0, 6, 0), items=2)
    w1.append(*rows(6, 7, 1), items=3)
    w0.close()
    store = ActivationStore.open(tmp_path)
    assert store.n_rows == 13 and not store.complete
    w1.close()
    store = ActivationStore.open(tmp_path)
    assert store.complete and store.read_all()["uid"].tolist() == list(range(13))
    assert sorted(p.name for p in tmp_path.glob("manifest-*")) == ["manifest-r000.json", "manifest-r001.json"]
    with pytest.raises(StoreMismatch, match="world_size"):
        StoreWriter(tmp_path, SITES, 8, columns=COLS, rank=0, world_size=1)


def test_manifest_records_layout_and_user_metadata(tmp_path):
    write(tmp_path, [25, 25], metadata={"note": "hello", "layer": 3}, dtype=torch.bfloat16)
    man = json.loads((tmp_path / "manifest-r000.json").read_text())
    assert man["metadata"] == {"note": "hello", "layer": 3} and man["dtype"] == "bfloat16"
    assert man["n_rows"] == 50 and [s["rows"] for s in man["shards"]] == [25, 25]
    assert man["widths"] == {"final": 8, "resid_post.1": 8} and man["sites"] == SITES
    assert ActivationStore.open(tmp_path).read_all()["final"].dtype == torch.bfloat16


def test_open_missing_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="no activation store"):
        ActivationStore.open(tmp_path)
