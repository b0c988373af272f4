"""The on-disk layout of an activation store: one manifest and one shard series per writer rank.

    store/
      manifest-r000.json               what rank 0 has committed (written atomically)
      shard-r000-000000.safetensors    tensors `acts.<site key>` [rows d] and `col.<name>` [rows]
      shard-r000-000001.safetensors
      manifest-r001.json, shard-r001-...   rank 1 under `accelerate launch`, never touched by rank 0

A shard exists in the store only once a manifest lists it: a shard file written before a
crash but not yet listed is a stray, as are `.*.tmp` files left by a killed atomic write.
Each rank touches only its own files, so ranks never race on a file.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from interp.io import read_json, write_json

FORMAT = "interp.activation-store"
VERSION = 1
ACTS, COL = "acts.", "col."
_MANIFEST = re.compile(r"^manifest-r(\d{3,})\.json$")
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StoreMismatch(RuntimeError):
    """A store directory already holds data written with another layout or configuration."""


def manifest_name(rank: int) -> str:
    return f"manifest-r{rank:03d}.json"


def shard_name(rank: int, index: int) -> str:
    return f"shard-r{rank:03d}-{index:06d}.safetensors"


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def dtype_from_name(name: "str | torch.dtype") -> torch.dtype:
    """`"float32"` or `torch.float32` -> `torch.float32`, refusing names that are not dtypes."""
    if isinstance(name, torch.dtype):
        return name
    dtype = getattr(torch, str(name).removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {name!r}: use e.g. float32, bfloat16, int64")
    return dtype


def check_column_name(name: str, site_keys: list[str]) -> None:
    if not _COLUMN_NAME.match(name):
        raise ValueError(f"column name {name!r} must be an identifier (letters, digits, '_')")
    if name in site_keys:
        raise ValueError(f"column name {name!r} collides with a site of the same name")


@dataclass
class ShardInfo:
    file: str
    rows: int


@dataclass
class Manifest:
    """What one rank has committed. `items_done` counts the writer's input items (e.g. texts)
    whose rows are all inside the listed shards: a resumed collection starts after them."""

    rank: int
    world_size: int
    sites: list[str]  # site keys, in the writer's order (JSON objects are written key-sorted)
    widths: dict[str, int]  # site key -> row width
    dtype: str
    columns: dict[str, str]  # column name -> dtype name
    model: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    shards: list[ShardInfo] = field(default_factory=list)
    items_done: int = 0
    complete: bool = False
    format: str = FORMAT
    version: int = VERSION

    @property
    def n_rows(self) -> int:
        return sum(s.rows for s in self.shards)

    def identity(self) -> dict[str, Any]:
        """The fields a resumed writer must match: changing any of them would mix incompatible rows."""
        return json.loads(json.dumps({
            "world_size": self.world_size, "sites": self.sites, "widths": self.widths, "dtype": self.dtype,
            "columns": self.columns, "model": self.model, "metadata": self.metadata,
        }, default=str))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["n_rows"] = self.n_rows
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any], path: Path) -> "Manifest":
        if obj.get("format") != FORMAT:
            raise ValueError(f"{path} is not an activation-store manifest (format {obj.get('format')!r})")
        if obj.get("version") != VERSION:
            raise ValueError(f"{path} has store format version {obj.get('version')}; this code reads version {VERSION}")
        obj = {k: v for k, v in obj.items() if k != "n_rows"}
        obj["shards"] = [ShardInfo(**s) for s in obj.get("shards", [])]
        return cls(**obj)

    def save(self, store_dir: Path) -> None:
        write_json(store_dir / manifest_name(self.rank), self.to_json())


def read_manifest(store_dir: Path, rank: int) -> Manifest | None:
    path = Path(store_dir) / manifest_name(rank)
    return Manifest.from_json(read_json(path), path) if path.exists() else None


def read_manifests(store_dir: Path) -> list[Manifest]:
    """Every rank's manifest in the directory, ordered by rank."""
    found = []
    for p in sorted(Path(store_dir).iterdir()) if Path(store_dir).is_dir() else []:
        m = _MANIFEST.match(p.name)
        if m:
            man = Manifest.from_json(read_json(p), p)
            if man.rank != int(m.group(1)):
                raise ValueError(f"{p} holds the manifest of rank {man.rank}; the file name says {int(m.group(1))}")
            found.append(man)
    return sorted(found, key=lambda m: m.rank)


def identity_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ (`metadata.collect.n_texts`), for error messages."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += identity_diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(prefix + k)
    return out


def remove_strays(store_dir: Path, rank: int, keep: set[str]) -> list[str]:
    """Delete this rank's temporary files and shard files that no manifest entry lists.

    Called by a writer when it (re)opens a store, so a run killed mid-write leaves no
    file that a later run could mistake for data. Other ranks' files are never touched.
    """
    store_dir = Path(store_dir)
    prefix = f"shard-r{rank:03d}-"
    removed = []
    for p in store_dir.iterdir():
        name = p.name
        tmp = name.endswith(".tmp") and (
            name.startswith("." + prefix) or name.startswith("." + manifest_name(rank) + ".")
        )
        orphan = name.startswith(prefix) and name.endswith(".safetensors") and name not in keep
        if p.is_file() and (tmp or orphan):
            p.unlink(missing_ok=True)
            removed.append(name)
    return sorted(removed)


def remove_rank(store_dir: Path, rank: int) -> None:
    """Delete everything rank `rank` wrote (its manifest first, so no reader sees a half-deleted series)."""
    store_dir = Path(store_dir)
    (store_dir / manifest_name(rank)).unlink(missing_ok=True)
    remove_strays(store_dir, rank, keep=set())
