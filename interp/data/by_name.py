"""One string names a data set, for the CLI and configs: `load_dataset_by_name("genies:math", "train")`.

Names (see DATASET_NAMES):
  hh-rlhf[:SUBSET]            HH-RLHF pairs (default subset harmless-base; split test or train)
  hh-rlhf-prompts[:SUBSET]    the distinct prompts of those pairs
  genies:NAME                 GENIES pairs of one data set (split train or test)
  genies-shift:SRC->TGT       a GENIES shift: split train = SRC's train pairs, test = TGT's test pairs
  rt-polarity                 movie-review sentences, LabelledText (label 1 positive)
  rt-polarity-prompts         their 2-9-word prefixes as Prompts
  jsonl:PATH                  your own file; kind guessed from the first record (see jsonl_auto)

Data sets without splits of their own (rt-polarity*, jsonl:) return everything for split None
or "all", and for "train" / "validation" / "test" the part of `split(items, fractions, seed)`.
"""
from __future__ import annotations

from typing import Any, Sequence

from interp.data.genies import genies, genies_shift
from interp.data.hh_rlhf import hh_rlhf
from interp.data.jsonl import jsonl_auto
from interp.data.render import as_prompts
from interp.data.rt_polarity import rt_polarity, rt_polarity_prompts
from interp.data.splits import split as split_items
from interp.data.types import Loaded

DATASET_NAMES = {
    "hh-rlhf[:SUBSET]": "Anthropic HH-RLHF preference pairs (default harmless-base; split test|train)",
    "hh-rlhf-prompts[:SUBSET]": "the distinct HH-RLHF prompts, multi-turn history kept",
    "genies:NAME": "GENIES preference pairs of one data set (split train|test)",
    "genies-shift:SRC->TGT": "GENIES shift: split train = SRC train pairs, test = TGT test pairs",
    "rt-polarity": "movie-review sentences with polarity labels (split all|train|validation|test)",
    "rt-polarity-prompts": "2-9-word prefixes of the movie-review sentences (split all|train|validation|test)",
    "jsonl:PATH": "your own .jsonl: pairs, HH dialogues, prompts or labelled texts by its fields",
}
_OWN_SPLITS = ("train", "validation", "test")


def load_dataset_by_name(
    name: str, split: str | None = None, seed: int = 0, fractions: Sequence[float] = (0.8, 0.1, 0.1), **kwargs: Any
) -> Loaded:
    """The items of data set `name` (see DATASET_NAMES) for `split`; `kwargs` go to the loader."""
    kind, _, arg = name.partition(":")
    if kind in ("hh-rlhf", "hh-rlhf-prompts"):
        pairs = hh_rlhf(subset=arg or "harmless-base", split=split or "test", **kwargs)
        if kind == "hh-rlhf":
            return pairs
        return Loaded(as_prompts(pairs), source=pairs.source, dropped=pairs.dropped)
    if kind == "genies":
        if not arg:
            raise ValueError("name a GENIES data set: 'genies:NAME', e.g. 'genies:math'")
        return genies(arg, split or "test", **kwargs)
    if kind == "genies-shift":
        if split not in ("train", "test"):
            raise ValueError(f"a GENIES shift has splits 'train' (source) and 'test' (target), not {split!r}")
        data = genies_shift(arg, **kwargs)
        return data.train if split == "train" else data.test
    if kind in ("rt-polarity", "rt-polarity-prompts", "jsonl"):
        if kind == "jsonl":
            if not arg:
                raise ValueError("name the file: 'jsonl:PATH'")
            if kwargs:
                raise TypeError(f"'jsonl:PATH' takes no options {sorted(kwargs)}; call jsonl_pairs/jsonl_prompts to name fields")
            items = jsonl_auto(arg)
        else:
            items = (rt_polarity if kind == "rt-polarity" else rt_polarity_prompts)(**kwargs)
        return _own_split(items, split, seed, fractions)
    names = "\n  ".join(f"{k}: {v}" for k, v in DATASET_NAMES.items())
    raise ValueError(f"unknown data set name {name!r}; known names:\n  {names}")


def _own_split(items: Loaded, split: str | None, seed: int, fractions: Sequence[float]) -> Loaded:
    if split in (None, "all"):
        return items
    if split not in _OWN_SPLITS:
        raise ValueError(f"split must be 'all', 'train', 'validation' or 'test', not {split!r}")
    part = getattr(split_items(items, fractions, seed), split)
    return Loaded(part, source=f"{items.source} [{split}, seed={seed}, fractions={tuple(fractions)}]", dropped=items.dropped)
