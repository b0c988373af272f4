"""GENIES (Clymer et al.): preference sets under distribution shift, read from local files.

Layout: `<root>/<name>/{train,test}.json`, each a JSON list of items with an Alpaca-style
`prompt` and `responses` = {text: score}, the preferred answer(s) scored 1.0; and
`<root>/distribution_shifts/{GENIES,all}.json` listing source -> target pairs. A shift is used
by training on the source's train split and evaluating on the target's test split.

GENIES is read from local files only (upstream: github.com/Joshuaclymer/GENIES); there is no
hub fallback.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from interp.data._files import DataError, default_path, field_str, read_text
from interp.data.types import Loaded, PreferencePair

PREFERRED = 1.0
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Shift:
    """One benchmark distribution shift: train on `source`, evaluate on `target`."""

    source: str
    target: str
    label: str = ""
    category: str = ""
    target_reference: str | None = None

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"


class ShiftData(NamedTuple):
    shift: Shift
    train: Loaded  # source's train split
    test: Loaded  # target's test split


def genies_root(root: str | os.PathLike | None = None) -> Path:
    root = Path(root) if root is not None else default_path("genies")
    if not root.is_dir():
        raise FileNotFoundError(
            f"GENIES: no folder at {root}; expected <root>/<name>/{{train,test}}.json (upstream: "
            "github.com/Joshuaclymer/GENIES). Point INTERP_DATA at the shared data or pass root="
        )
    return root


def genies_names(root: str | os.PathLike | None = None, split: str | None = None) -> list[str]:
    """Dataset names under `root` (those having `split`, when given)."""
    root = genies_root(root)
    want = [split] if split else list(SPLITS)
    return sorted(d.name for d in root.iterdir() if d.is_dir() and any((d / f"{s}.json").is_file() for s in want))


def genies(name: str, split: str = "train", root: str | os.PathLike | None = None) -> Loaded:
    """One PreferencePair per (preferred, non-preferred) response of every item in `<name>/<split>.json`."""
    root = genies_root(root)
    if split not in SPLITS:
        raise ValueError(f"GENIES split must be one of {', '.join(SPLITS)}, not {split!r}")
    folder = root / name
    if not folder.is_dir():
        raise FileNotFoundError(
            f"GENIES has no dataset {name!r} under {root}; available: {', '.join(genies_names(root))}"
        )
    file = folder / f"{split}.json"
    if not file.is_file():
        have = [s for s in SPLITS if (folder / f"{s}.json").is_file()]
        raise FileNotFoundError(
            f"GENIES dataset {name!r} has no {split!r} split ({file} missing); its splits: {', '.join(have) or 'none'}. "
            f"Datasets with a {split!r} split: {', '.join(genies_names(root, split))}"
        )
    return pairs_from_items(_read_list(file), str(file), id_prefix=f"genies/{name}/{split}")


def pairs_from_items(items: list[Any], source: str, id_prefix: str = "genies") -> Loaded:
    """Pairs from GENIES items; an item without both a 1.0 and a lower-scored response is an error."""
    out = Loaded(source=source)
    for i, item in enumerate(items):
        where = f"item {i}"
        if not isinstance(item, dict):
            raise DataError(source, where, f"expected a JSON object, got {type(item).__name__}")
        prompt = field_str(item, "prompt", source, where)
        responses = item.get("responses")
        if not isinstance(responses, dict) or not responses:
            raise DataError(source, where, "field 'responses' must be a non-empty {text: score} object", field="responses")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in responses.values()):
            raise DataError(source, where, "field 'responses': every score must be a number", field="responses")
        good = [t for t, s in responses.items() if s == PREFERRED]
        bad = [t for t, s in responses.items() if s != PREFERRED]
        if not good or not bad:
            raise DataError(
                source, where, f"field 'responses' needs a response scored {PREFERRED} and one scored otherwise "
                f"(scores: {sorted(responses.values(), reverse=True)})", field="responses",
            )
        extra = {k: v for k, v in item.items() if k not in ("prompt", "responses", "prompt_format") and _small(v)}
        for g in good:
            for j, b in enumerate(bad):
                pair = PreferencePair(prompt=prompt, chosen=g, rejected=b, id=f"{id_prefix}/{i}/{j}")
                pair.meta.update({**extra, "source": source, "item": i, "rejected_score": responses[b]})
                out.append(pair)
    return out


def genies_shifts(which: str = "GENIES", root: str | os.PathLike | None = None) -> list[Shift]:
    """The benchmark's shifts: `which="GENIES"` (the 15 of the paper) or `"all"` (every listed one)."""
    root = genies_root(root)
    file = root / "distribution_shifts" / f"{which}.json"
    if not file.is_file():
        have = sorted(p.stem for p in (root / "distribution_shifts").glob("*.json"))
        raise FileNotFoundError(f"GENIES: no shift list {file}; available: {', '.join(have) or 'none'}")
    out = []
    for i, row in enumerate(_read_list(file)):
        where = f"item {i}"
        if not isinstance(row, dict):
            raise DataError(file, where, f"expected a JSON object, got {type(row).__name__}")
        out.append(Shift(
            source=field_str(row, "source", file, where, allow_empty=False),
            target=field_str(row, "target", file, where, allow_empty=False),
            label=str(row.get("label", "")),
            category=str(row.get("category", "")),
            target_reference=row.get("target_reference"),
        ))
    return out


def genies_shift(shift: Shift | str, root: str | os.PathLike | None = None) -> ShiftData:
    """Train pairs of the shift's source and test pairs of its target; `shift` may be "source->target"."""
    if isinstance(shift, str):
        source, sep, target = shift.partition("->")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"a GENIES shift is written 'source->target' (e.g. 'math->change_my_view'), not {shift!r}")
        shift = Shift(source.strip(), target.strip())
    return ShiftData(shift, genies(shift.source, "train", root), genies(shift.target, "test", root))


def _read_list(file: Path) -> list[Any]:
    text = read_text(file)
    if not text.strip():
        raise DataError(file, None, "file is empty: expected a JSON list of items")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(file, f"line {e.lineno}", f"not valid JSON ({e.msg})") from e
    if not isinstance(data, list):
        raise DataError(file, None, f"expected a JSON list of items, got {type(data).__name__}")
    if not data:
        raise DataError(file, None, "file holds an empty list: no items")
    return data


def _small(v: Any) -> bool:
    """Item fields worth carrying in meta (scalars and short strings)."""
    return isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) <= 2000) or v is None
