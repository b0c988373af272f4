"""sha256 fingerprints: the one helper behind every "exactly these inputs" hash a run records.

Runs record fingerprints in their config.json (a prompt list's hash, the texts an activation store
or an embedding cache holds, an upstream step's settings) and compare them on re-runs. Each caller
keeps the byte encoding it always had, because that encoding is what keeps earlier runs skipping;
what it shares is this: `digest` hashes a stream of chunks, `json_digest` one JSON encoding.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def digest(chunks: bytes | str | Iterable[bytes | str], length: int | None = None) -> str:
    """sha256 hex of the chunks in order (str as UTF-8), cut to its first `length` characters when given.

    Feeding chunks one by one equals hashing their concatenation: a caller chooses the separators."""
    h = hashlib.sha256()
    for chunk in ([chunks] if isinstance(chunks, (bytes, str)) else chunks):
        h.update(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    return h.hexdigest()[:length] if length else h.hexdigest()


def json_digest(obj: Any, length: int | None = None, *, sort_keys: bool = False, ensure_ascii: bool = True) -> str:
    """sha256 hex of `json.dumps(obj)` with Python's default separators (and the given key order and escaping)."""
    return digest(json.dumps(obj, sort_keys=sort_keys, ensure_ascii=ensure_ascii), length)


def length_prefixed(texts: Iterable[str]) -> Iterable[bytes]:
    """Each text as its UTF-8 length (8 bytes, little-endian) then its bytes: no two lists encode alike."""
    for t in texts:
        b = t.encode("utf-8")
        yield len(b).to_bytes(8, "little")
        yield b
