"""`StoreWriter`: append activation rows, flushed to safetensors shards in bounded memory.

Rows wait in a buffer until it holds `shard_rows` of them; a flush writes them as shards
(each atomically) and then the manifest (atomically), so the manifest only ever lists
whole shards that end on an `append` boundary. `items=` on `append` counts the input items
those rows cover; after a crash, reopening the store finds `items_done` and the caller
skips that many inputs. Rows of an append that was still buffered are simply redone.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from interp.io import save_tensors
from interp.sites import Site, parse_site
from interp.store.manifest import (
    ACTS,
    COL,
    Manifest,
    ShardInfo,
    StoreMismatch,
    check_column_name,
    dtype_from_name,
    dtype_name,
    identity_diff,
    read_manifest,
    remove_rank,
    remove_strays,
    shard_name,
)

log = logging.getLogger(__name__)


def site_key(site: "Site | str") -> str:
    return parse_site(site).key


class StoreWriter:
    """One rank's shard series in `path`. Use as a context manager, or call `close()`.

    Reopening a directory this rank already wrote to resumes it (same sites, widths, dtype,
    columns, model, world size and metadata required; `overwrite=True` starts afresh).
    Memory stays below about `shard_rows` plus one append's rows, however much is written.
    """

    def __init__(
        self,
        path: str | Path,
        sites: Sequence["Site | str"],
        d: int | Mapping[str, int],
        *,
        dtype: "torch.dtype | str" = torch.float32,
        columns: Mapping[str, "torch.dtype | str"] | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        shard_rows: int = 65536,
        rank: int = 0,
        world_size: int = 1,
        overwrite: bool = False,
    ) -> None:
        if shard_rows < 1:
            raise ValueError(f"shard_rows must be at least 1, got {shard_rows}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        keys = [site_key(s) for s in sites]
        if not keys or len(set(keys)) != len(keys):
            raise ValueError(f"give one or more distinct sites, got {keys}")
        given = {site_key(k): int(v) for k, v in d.items()} if isinstance(d, Mapping) else {k: int(d) for k in keys}
        if set(given) != set(keys):
            raise ValueError(f"widths given for sites {sorted(given)}, but the store's sites are {sorted(keys)}")
        widths = {k: given[k] for k in keys}
        cols = {name: dtype_name(dtype_from_name(t)) for name, t in (columns or {}).items()}
        for name in cols:
            check_column_name(name, keys)
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.shard_rows = shard_rows
        self.dtype = dtype_from_name(dtype)
        if overwrite:
            remove_rank(self.path, rank)
        fresh = Manifest(rank=rank, world_size=world_size, sites=keys, widths=widths, dtype=dtype_name(self.dtype),
                         columns=cols, model=model, metadata=dict(metadata or {}))
        old = read_manifest(self.path, rank)
        if old is not None and old.identity() != fresh.identity():
            diff = identity_diff(old.identity(), fresh.identity())
            raise StoreMismatch(
                f"{self.path} (rank {rank}) was written with another configuration (differs in: "
                f"{', '.join(diff)}); use another directory, or pass overwrite=True to start afresh"
            )
        self.manifest = old or fresh
        removed = remove_strays(self.path, rank, keep={s.file for s in self.manifest.shards})
        if removed:
            log.info("removed %d stray file(s) of an interrupted run in %s", len(removed), self.path)
        if old is None:
            self.manifest.save(self.path)
        self._buf: list[dict[str, Tensor]] = []
        self._buf_rows = 0
        self._buf_items = 0
        self._closed = False

    # --- state ---------------------------------------------------------------------
    @property
    def site_keys(self) -> list[str]:
        return list(self.manifest.sites)

    @property
    def items_done(self) -> int:
        """Input items whose rows are committed (what a resumed run may skip)."""
        return self.manifest.items_done

    @property
    def rows_committed(self) -> int:
        return self.manifest.n_rows

    @property
    def rows_buffered(self) -> int:
        return self._buf_rows

    # --- writing -------------------------------------------------------------------
    def append(
        self,
        acts: "Float[Tensor, 'rows d'] | Mapping[Site | str, Float[Tensor, 'rows d']]",
        columns: Mapping[str, "Tensor | Sequence[int | float]"] | None = None,
        items: int = 0,
    ) -> None:
        """Add rows (one per token or per sequence); a bare tensor is allowed for a one-site store.

        `items` is how many input items these rows complete; it becomes part of
        `items_done` once the rows are committed to a shard.
        """
        if self._closed:
            raise RuntimeError(f"writer for {self.path} is closed")
        if items < 0:
            raise ValueError(f"items must be >= 0, got {items}")
        row = self._check(acts, columns or {})
        n = next(iter(row.values())).shape[0]
        if n:
            self._buf.append(row)
            self._buf_rows += n
        self._buf_items += items
        if self._buf_rows >= self.shard_rows:
            self._flush()

    def _check(self, acts: Any, columns: Mapping[str, Any]) -> dict[str, Tensor]:
        if isinstance(acts, Tensor):
            if len(self.site_keys) != 1:
                raise ValueError(f"this store holds sites {self.site_keys}: pass a dict {{site: tensor}}")
            acts = {self.site_keys[0]: acts}
        given = {site_key(k): v for k, v in acts.items()}
        if set(given) != set(self.site_keys):
            raise ValueError(f"append: expected sites {sorted(self.site_keys)}, got {sorted(given)}")
        out: dict[str, Tensor] = {}
        n = None
        for key, t in given.items():
            t = torch.as_tensor(t)
            want = self.manifest.widths[key]
            if t.ndim != 2 or t.shape[1] != want:
                raise ValueError(
                    f"append: site {key} expects rows of width {want} (shape [rows, {want}]), got shape {tuple(t.shape)}"
                )
            if not t.is_floating_point():
                raise ValueError(f"append: site {key} expects floating-point activations, got {t.dtype}")
            n = t.shape[0] if n is None else n
            if t.shape[0] != n:
                raise ValueError(f"append: site {key} has {t.shape[0]} rows, but other sites have {n}")
            out[ACTS + key] = t.detach().to("cpu", dtype=self.dtype, copy=True)
        if set(columns) != set(self.manifest.columns):
            raise ValueError(f"append: expected columns {sorted(self.manifest.columns)}, got {sorted(columns)}")
        for name, values in columns.items():
            want = dtype_from_name(self.manifest.columns[name])
            t = torch.as_tensor(values).detach().to("cpu")
            if t.ndim != 1 or t.shape[0] != n:
                raise ValueError(f"append: column {name} expects shape [{n}] (one value per row), got {tuple(t.shape)}")
            if t.is_floating_point() and not want.is_floating_point:
                raise ValueError(f"append: column {name} holds {dtype_name(want)}, got {dtype_name(t.dtype)} values")
            out[COL + name] = t.to(want, copy=True)
        return out

    def flush(self) -> None:
        """Commit whatever is buffered now, even less than `shard_rows` (e.g. before a long pause)."""
        if self._buf_rows or self._buf_items:
            self._flush()

    def _flush(self) -> None:
        """Write the buffer as shards of `shard_rows`..`2*shard_rows - 1` rows, then the manifest once.

        Shards written before the manifest are strays until it lands, so a crash here loses
        only the buffered appends, which the caller redoes from `items_done`. A flush that fails
        (a full disk) leaves the committed store as it was, drops the buffer (its items are not
        counted done, so a re-run redoes them) and closes the writer, so nothing flushes twice.
        """
        shards = len(self.manifest.shards)
        try:
            if self._buf_rows:
                data = {k: torch.cat([b[k] for b in self._buf]) for k in self._buf[0]}
                start, total = 0, self._buf_rows
                self._buf.clear()  # the concatenated copy holds the rows now: memory stays one buffer
                while start < total:
                    left = total - start
                    take = left if left < 2 * self.shard_rows else self.shard_rows
                    name = shard_name(self.manifest.rank, len(self.manifest.shards))
                    part = {k: v[start:start + take] for k, v in data.items()}
                    save_tensors(self.path / name, part, metadata={"rows": str(take), "rank": str(self.manifest.rank)})
                    self.manifest.shards.append(ShardInfo(file=name, rows=take))
                    start += take
                del data
            items = self._buf_items
            self.manifest.items_done += items
            self.manifest.complete = False  # more rows after a finished run reopen it until close()
            try:
                self.manifest.save(self.path)
            except BaseException:
                self.manifest.items_done -= items
                raise
        except BaseException:
            del self.manifest.shards[shards:]  # written but never listed: strays, removed when the store reopens
            self._buf.clear()
            self._buf_rows = self._buf_items = 0
            self._closed = True
            raise
        self._buf_rows = self._buf_items = 0

    def close(self, complete: bool = True) -> None:
        """Commit the buffer; `complete=True` marks this rank's series finished in its manifest."""
        if self._closed:
            return
        self.flush()
        if complete and not self.manifest.complete:
            self.manifest.complete = True
            self.manifest.save(self.path)
        self._closed = True

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # on error keep what was appended (whole appends), but do not claim the series is finished
        self.close(complete=exc_type is None)

    def __repr__(self) -> str:
        return (f"StoreWriter({str(self.path)!r}, rank={self.manifest.rank}, sites={self.site_keys}, "
                f"committed={self.rows_committed}, buffered={self.rows_buffered})")
