"""Settings that cannot be right, refused where a config is made (a dataclass's `__post_init__`), so a
bad value from a flag, a --config file or the API fails in one line before anything is written:

    check(self, counts=("n_train", "batch_size"), probabilities=("val_fraction",), positive=("temperature", "lr"))

- counts: whole numbers of at least 1 (`counts_or_zero`: at least 0, where 0 has a stated meaning);
- probabilities: numbers in [0, 1];
- positive: finite numbers above 0 (temperatures, learning rates); non_negative: finite, at least 0;
- finite: any number but NaN and infinity (scales).

None is always accepted (it means "unset" in every config here); a list or tuple is checked item by item.
Types are checked too: a count must be an int (not a bool, not "3"), a number an int or a float.
"""
from __future__ import annotations

import math
from typing import Any, Iterable


def _items(value: Any) -> Iterable[Any]:
    return value if isinstance(value, (list, tuple)) else (value,)


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


RULES = {
    "counts": (lambda v: _whole(v) and v >= 1, "a whole number of at least 1"),
    "counts_or_zero": (lambda v: _whole(v) and v >= 0, "a whole number of at least 0"),
    "probabilities": (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "positive": (lambda v: _number(v) and math.isfinite(v) and v > 0, "a finite number above 0"),
    "non_negative": (lambda v: _number(v) and math.isfinite(v) and v >= 0, "a finite number of at least 0"),
    "finite": (lambda v: _number(v) and math.isfinite(v), "a finite number (not nan or inf)"),
}


def check(cfg: Any, prefix: str = "", **rules: Iterable[str]) -> None:
    """Raise ValueError naming the first setting of `cfg` that breaks its rule (see the module docstring)."""
    unknown = set(rules) - set(RULES)
    if unknown:
        raise TypeError(f"unknown rule(s) {sorted(unknown)}; rules: {', '.join(RULES)}")
    for rule, names in rules.items():
        ok, what = RULES[rule]
        for name in names:
            value = getattr(cfg, name)
            if value is None:
                continue
            bad = [v for v in _items(value) if not ok(v)]
            if bad:
                item = "every item of " if isinstance(value, (list, tuple)) else ""
                raise ValueError(f"setting {prefix}{name} (--{(prefix + name).replace('_', '-').replace('.', '-')}) "
                                 f"must be {item}{what}, got {value!r}")
