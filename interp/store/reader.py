"""`ActivationStore`: read a store back, merged over every rank that wrote it, in bounded memory.

`iter_batches` loads one shard at a time (only the tensors asked for) and carries at most
about half a shard of rows over to mix with the next one, so memory stays near two shards
whatever the store's size. With `shuffle=True` the shard order and the rows inside that
window are permuted by a generator seeded with `seed`: the same seed gives the same order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import torch
from safetensors import safe_open
from torch import Tensor

from interp.sites import Site, parse_site
from interp.store.manifest import ACTS, COL, Manifest, ShardInfo, dtype_from_name, read_manifests
from interp.store.writer import StoreWriter, site_key

Batch = dict[str, Tensor]  # site key -> [rows d], column name -> [rows]


@dataclass(frozen=True)
class _Shard:
    path: Path
    rows: int


class ActivationStore:
    """A read-only view of a store directory. `ActivationStore.open(dir)`; write with `create`."""

    def __init__(self, path: Path, manifests: list[Manifest]) -> None:
        self.path = path
        self.manifests = manifests
        first = manifests[0]
        for m in manifests[1:]:
            if m.identity() != first.identity():
                raise ValueError(
                    f"{path}: the manifests of rank {first.rank} and rank {m.rank} disagree "
                    f"(sites, dtype, columns, model, world size or metadata); the directory mixes two stores"
                )
        if any(m.rank >= first.world_size for m in manifests):
            raise ValueError(f"{path} holds a manifest for a rank beyond world_size {first.world_size}")
        self._shards = [_Shard(path / s.file, s.rows) for m in manifests for s in m.shards]

    # --- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> "ActivationStore":
        path = Path(path)
        manifests = read_manifests(path)
        if not manifests:
            raise FileNotFoundError(f"{path} holds no activation store (no manifest-r*.json); collect one first")
        return cls(path, manifests)

    @staticmethod
    def create(path: str | Path, sites: Sequence["Site | str"], d: int | Mapping[str, int], **kwargs: Any) -> StoreWriter:
        """Open a writer (see `StoreWriter` for dtype, columns, model, metadata, shard_rows, rank)."""
        return StoreWriter(path, sites, d, **kwargs)

    # --- description ---------------------------------------------------------------
    @property
    def sites(self) -> list[Site]:
        return [parse_site(k) for k in self.manifests[0].sites]

    @property
    def widths(self) -> dict[str, int]:
        """Site key -> row width, in site order."""
        return {k: self.manifests[0].widths[k] for k in self.manifests[0].sites}

    @property
    def d(self) -> int:
        """The row width, when every site has the same one (the usual case: d_model)."""
        widths = set(self.widths.values())
        if len(widths) != 1:
            raise ValueError(f"sites have different widths {self.widths}; use .widths[site_key]")
        return widths.pop()

    @property
    def columns(self) -> dict[str, torch.dtype]:
        return {k: dtype_from_name(v) for k, v in self.manifests[0].columns.items()}

    @property
    def dtype(self) -> torch.dtype:
        return dtype_from_name(self.manifests[0].dtype)

    @property
    def model(self) -> str | None:
        return self.manifests[0].model

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.manifests[0].metadata)

    @property
    def n_rows(self) -> int:
        return sum(s.rows for s in self._shards)

    @property
    def n_shards(self) -> int:
        return len(self._shards)

    @property
    def world_size(self) -> int:
        return self.manifests[0].world_size

    @property
    def complete(self) -> bool:
        """Every rank's series is present and marked finished."""
        return len(self.manifests) == self.world_size and all(m.complete for m in self.manifests)

    def __len__(self) -> int:
        return self.n_rows

    def __repr__(self) -> str:
        return (f"ActivationStore({str(self.path)!r}, rows={self.n_rows}, sites={list(self.widths)}, "
                f"columns={list(self.columns)}, shards={self.n_shards}, complete={self.complete})")

    # --- reading -------------------------------------------------------------------
    def _names(self, sites: Sequence["Site | str"] | None, columns: Sequence[str] | None) -> dict[str, str]:
        """Batch key -> tensor name in the shard files, refusing unknown sites or columns."""
        keys = list(self.widths) if sites is None else [site_key(s) for s in sites]
        cols = list(self.columns) if columns is None else list(columns)
        unknown = [k for k in keys if k not in self.widths] + [c for c in cols if c not in self.columns]
        if unknown:
            raise KeyError(f"{self.path} has no {unknown}: sites are {list(self.widths)}, columns {list(self.columns)}")
        return {**{k: ACTS + k for k in keys}, **{c: COL + c for c in cols}}

    def _load(self, shard: _Shard, names: Mapping[str, str]) -> Batch:
        out = {}
        with safe_open(str(shard.path), framework="pt") as f:
            for key, name in names.items():
                out[key] = f.get_tensor(name)
                if out[key].shape[0] != shard.rows:
                    raise ValueError(f"{shard.path}: tensor {name} has {out[key].shape[0]} rows, manifest says {shard.rows}")
        return out

    def iter_batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        columns: Sequence[str] | None = None,
        sites: Sequence["Site | str"] | None = None,
        drop_last: bool = False,
    ) -> Iterator[Batch]:
        """Yield `{site key: [b d], column: [b]}` batches; `columns`/`sites` pick what is loaded (None: all)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        names = self._names(sites, columns)
        if not names:
            raise ValueError("nothing to read: pass at least one site or column")
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self._shards), generator=gen).tolist() if shuffle else range(len(self._shards))
        carry: Batch | None = None
        for j, i in enumerate(order):
            shard = self._shards[i]
            data = self._load(shard, names)
            if carry is not None:
                data = {k: torch.cat([carry[k], v]) for k, v in data.items()}
            n = _rows(data)
            last = j == len(self._shards) - 1
            # rows kept back for the next shard: half a shard mixes shuffled shards; else the partial batch
            keep = 0 if last else (min(n, shard.rows // 2) if shuffle else n % batch_size)
            emit = n - keep
            emit -= 0 if last else emit % batch_size
            perm = torch.randperm(n, generator=gen) if shuffle else None
            for b in range(0, emit, batch_size):
                if drop_last and b + batch_size > emit:
                    break
                end = min(b + batch_size, emit)
                yield {k: v[perm[b:end]] if perm is not None else v[b:end].clone() for k, v in data.items()}
            rest = slice(emit, n)
            carry = {k: v[perm[rest]] if perm is not None else v[rest].clone() for k, v in data.items()} if emit < n else None
            del data

    def read_all(
        self,
        columns: Sequence[str] | None = None,
        sites: Sequence["Site | str"] | None = None,
        max_bytes: int = 2 * 1024**3,
    ) -> Batch:
        """Every row in stored order (rank by rank, shard by shard): for small stores only."""
        names = self._names(sites, columns)
        row_bytes = sum(self.widths[k] * self.dtype.itemsize for k in names if k in self.widths)
        row_bytes += sum(self.columns[c].itemsize for c in names if c in self.columns)
        if self.n_rows * row_bytes > max_bytes:
            raise MemoryError(
                f"{self.path} holds {self.n_rows * row_bytes / 1e9:.1f} GB for the requested tensors, over "
                f"max_bytes={max_bytes / 1e9:.1f} GB; stream it with iter_batches() or raise max_bytes"
            )
        if not self._shards:
            return self._empty(names)
        parts = [self._load(s, names) for s in self._shards]
        return {k: torch.cat([p[k] for p in parts]) for k in names}

    def _empty(self, names: Mapping[str, str]) -> Batch:
        return {k: torch.empty((0, self.widths[k]) if k in self.widths else (0,),
                               dtype=self.dtype if k in self.widths else self.columns[k]) for k in names}

    def shard_files(self) -> list[ShardInfo]:
        """The committed shards, in stored order."""
        return [ShardInfo(file=s.path.name, rows=s.rows) for s in self._shards]


def _rows(batch: Batch) -> int:
    return next(iter(batch.values())).shape[0] if batch else 0
