"""Shared plumbing for loaders: reading records with errors that name file, line and field,
and the one rule for falling back to the Hugging Face hub.

Hub rule: a loader reads its local file; only when that file is missing, the caller did not
name a path of its own, and neither HF_HUB_OFFLINE nor HF_DATASETS_OFFLINE is "1", does it
call `datasets.load_dataset` with the public name. Otherwise the error names the local path
it expected and how to provide it.
"""
from __future__ import annotations

import gzip
import json
import os
import warnings
import zlib
from pathlib import Path
from typing import Any, Iterator

from interp.models.paths import data_dir


class DataError(ValueError):
    """A data file is malformed: the message names the file, the line (or item) and the field."""

    def __init__(self, path: str | os.PathLike, where: str | None, problem: str, field: str | None = None):
        self.path, self.where, self.field = str(path), where, field
        super().__init__(f"{path}, {where}: {problem}" if where else f"{path}: {problem}")


def read_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """Whole text of a file, gunzipped when it is gzip (by its magic bytes, whatever its name)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(path, None, f"not a complete gzip file ({e}); the copy was probably cut short: fetch it again") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(path, f"line {line}", f"not valid {encoding} ({e.reason})") from e


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; an empty file or a non-object line is an error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    seen = False
    for i, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"line {i}", f"not valid JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(obj, dict):
            raise DataError(path, f"line {i}", f"expected a JSON object, got {type(obj).__name__}")
        seen = True
        yield i, obj
    if not seen:
        raise DataError(path, None, "file is empty: expected one JSON object per line")


def field_str(obj: dict[str, Any], name: str, path: str | os.PathLike, where: str, allow_empty: bool = True) -> str:
    """`obj[name]` as a string, or a DataError naming file, place and field."""
    if name not in obj:
        have = ", ".join(repr(k) for k in list(obj)[:10]) or "none"
        raise DataError(path, where, f"missing field {name!r} (fields present: {have})", field=name)
    value = obj[name]
    if not isinstance(value, str):
        raise DataError(path, where, f"field {name!r} must be a string, got {type(value).__name__}", field=name)
    if not allow_empty and not value.strip():
        raise DataError(path, where, f"field {name!r} is empty", field=name)
    return value


def field_messages(obj: dict[str, Any], name: str, path: str | os.PathLike, where: str) -> tuple[dict[str, str], ...]:
    """A [{role, content}] list checked message by message."""
    if name not in obj:
        raise DataError(path, where, f"missing field {name!r}", field=name)
    value = obj[name]
    if not isinstance(value, list) or not value:
        raise DataError(path, where, f"field {name!r} must be a non-empty list of {{role, content}} objects", field=name)
    out = []
    for j, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise DataError(path, where, f"field {name!r}, message {j}: needs string 'role' and 'content'", field=name)
        out.append({"role": m["role"], "content": m["content"]})
    return tuple(out)


def hub_reachable() -> bool:
    """False when the user declared the hub off limits (HF_HUB_OFFLINE=1 or HF_DATASETS_OFFLINE=1)."""
    return not any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_rows(name: str, what: str, expected: Path, **kwargs: Any) -> list[dict[str, Any]]:
    """Rows of a public hub data set (all splits asked for in `kwargs`), or an error saying where a local copy goes."""
    if not hub_reachable():
        raise FileNotFoundError(
            f"{what}: no local file at {expected}, and the hub is off (HF_HUB_OFFLINE=1). Put the file there, "
            f"point INTERP_DATA at a folder holding it, or pass path= to your own copy."
        )
    try:
        from datasets import load_dataset

        ds = load_dataset(name, **kwargs)
        rows = [dict(r) for r in ds]
    except Exception as e:  # noqa: BLE001 - any hub failure becomes one clear message
        reason = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        raise FileNotFoundError(
            f"{what}: no local file at {expected}, and loading {name!r} from the hub failed ({reason}). "
            f"Put the file there, point INTERP_DATA at a folder holding it, or pass path= to your own copy."
        ) from e
    warnings.warn(f"{what}: {expected} not found; loaded {len(rows)} rows of {name!r} from the hub", stacklevel=3)
    return rows


def default_path(*parts: str) -> Path:
    return data_dir().joinpath(*parts)
