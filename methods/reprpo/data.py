"""GENIES splits for a ReprPO experiment: train on the source, test in and out of distribution.

  train         the source's train pairs: a seeded shuffle, first `n_train` (one pass = distinct pairs)
  source_train  the first `n_eval` of those training pairs (how well the training data is fitted)
  source_test   the source's test pairs (in distribution)
  target_test   the target's test pairs (the benchmark's shift, out of distribution)
  random_test   an unrelated data set's test pairs (should not move)
All names are checked before any model is loaded; a missing set or split is an error that lists
the names that have it.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from interp.data import genies, genies_names, render_pairs

if TYPE_CHECKING:
    from interp.data.types import PreferencePair

DATA_SEED = 0  # the pair selection is fixed across training seeds, so seeds vary only the training


def check_names(source: str, target: str, random_name: str | None, root: Any = None) -> None:
    """Raise ValueError naming every GENIES set missing the split this experiment needs from it."""
    have_train = genies_names(root, "train")
    have_test = genies_names(root, "test")
    problems = []
    if source not in have_train:
        problems.append(f"source {source!r} has no train split (sets with one: {', '.join(have_train)})")
    need_test = [("source", source), ("target", target)] + ([("random", random_name)] if random_name else [])
    for role, name in need_test:
        if name not in have_test:
            problems.append(f"{role} {name!r} has no test split")
    if problems:
        raise ValueError("GENIES: " + "; ".join(problems) + f". Sets with a test split: {', '.join(have_test)}")


def load_experiment(source: str, target: str, random_name: str | None, n_train: int | None = None,
                    n_eval: int | None = None, root: Any = None) -> dict[str, list["PreferencePair"]]:
    """Raw (unrendered) pairs of every split, seeded and truncated to the requested sizes."""
    check_names(source, target, random_name, root)
    train = list(genies(source, "train", root))
    random.Random(DATA_SEED).shuffle(train)
    if n_train is not None:
        train = train[: int(n_train)]

    def cap(pairs: list) -> list:
        if n_eval is None or len(pairs) <= n_eval:
            return pairs
        pairs = list(pairs)
        random.Random(DATA_SEED).shuffle(pairs)
        return pairs[: int(n_eval)]

    splits = {
        "train": train,
        "source_train": train[: n_eval] if n_eval is not None else list(train),
        "source_test": cap(list(genies(source, "test", root))),
        "target_test": cap(list(genies(target, "test", root))),
    }
    if random_name:
        splits["random_test"] = cap(list(genies(random_name, "test", root)))
    return splits


def rendered(model_or_tokenizer, pairs: list["PreferencePair"], chat: bool | None) -> list["PreferencePair"]:
    """Prompts as the model reads them (chat template when it has one and `chat` is not False)."""
    return render_pairs(model_or_tokenizer, pairs, chat=chat)
