"""What a run file must hold inside for a page to show it, checked right after it is read.

A file of the right JSON type can still hold `"layers": "abc"` or a list of strings where numbers go; a
page that used it would raise halfway down. A shape says what each key the page uses must hold, and
`problem` says, in a few words, where the file differs (`layers is 'abc', not a list of integers`), so
the reader turns it into one line on the page (`MissingArtifact`) before the page touches the data.

A shape is one of: a leaf (`NUM`, `INT`, `STR`, `BOOL`, `ANY`, ... : a function that returns what was
expected when a value is wrong, else None); `[shape]` (a list, each item of that shape); `{key: shape}`
(an object holding those keys, others allowed; `Opt(shape)`: the key may be absent); `OrNull(shape)`;
`Each(shape)` (an
object, each value of that shape); `Rows(shape)` (a non-empty list); `Then(shape, check)` (the shape, then
a whole-value check that returns a problem or None).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

Leaf = Callable[[Any], "str | None"]


def _leaf(expected: str, ok: Callable[[Any], bool]) -> Leaf:
    def check(value: Any) -> str | None:
        return None if ok(value) else expected
    check.__doc__ = expected
    return check


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


NUM = _leaf("a number", _number)
FINITE = _leaf("a finite number", lambda v: _number(v) and math.isfinite(v))
NUM_OR_NULL = _leaf("a number or null", lambda v: v is None or _number(v))
INT = _leaf("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
STR = _leaf("a string", lambda v: isinstance(v, str))
BOOL = _leaf("true or false", lambda v: isinstance(v, bool))
ANY = _leaf("anything", lambda v: True)
SCALAR = _leaf("a number or a string", lambda v: v is None or isinstance(v, (int, float, str)))
SITE = _leaf("a site with its layer, such as mlp_out.3", lambda v: isinstance(v, str) and bool(re.fullmatch(r".+\.\d+", v)))


@dataclass(frozen=True)
class _Around:
    shape: Any


class Opt(_Around):
    """A key that may be absent (when present, it has `shape`)."""


class OrNull(_Around):
    """null, or a value of `shape`."""


class Each(_Around):
    """An object whose every value has `shape` (e.g. one entry per model)."""


class Rows(_Around):
    """A non-empty list whose every item has `shape`."""


@dataclass(frozen=True)
class Then:
    """`shape`, then `check(value)`: a problem in words, or None."""

    shape: Any
    check: Callable[[Any], "str | None"]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(shape: Any) -> str:
    if callable(shape) and not isinstance(shape, type):
        return shape(object()) or "anything"  # a leaf names what it expects when given a value it refuses
    if isinstance(shape, list):
        inner = _describe(shape[0])
        plural = {"a number": "numbers", "an integer": "integers", "a string": "strings", "true or false": "booleans",
                  "a finite number": "finite numbers", "an object": "objects"}.get(inner, f"items each {inner}")
        return f"a list of {plural}"
    if isinstance(shape, Rows):
        return "a non-empty " + _describe([shape.shape])[2:]
    if isinstance(shape, (dict, Each)):
        return "an object"
    if isinstance(shape, (Then, OrNull)):
        return _describe(shape.shape) + (" or null" if isinstance(shape, OrNull) else "")
    return "anything"


def problem(value: Any, shape: Any, where: str = "") -> str | None:
    """Where `value` differs from `shape`, in words (None when it fits); `where` is the key path so far."""
    name = where or "it"
    if isinstance(shape, OrNull):
        return None if value is None else problem(value, shape.shape, where)
    if isinstance(shape, Then):
        found = problem(value, shape.shape, where)
        if found:
            return found
        found = shape.check(value)
        return f"{where}: {found}" if found and where else found
    if isinstance(shape, (list, Rows)):
        item = shape[0] if isinstance(shape, list) else shape.shape
        if not isinstance(value, list):
            return f"{name} is {_short(value)}, not {_describe(shape)}"
        if isinstance(shape, Rows) and not value:
            return f"{name} holds no rows"
        for i, v in enumerate(value):
            found = problem(v, item, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(shape, (dict, Each)):
        if not isinstance(value, dict):
            return f"{name} is {_short(value)}, not an object"
        items = shape.items() if isinstance(shape, dict) else ((k, shape.shape) for k in value)
        for key, sub in items:
            path = f"{where}.{key}" if where else str(key)
            if key not in value:
                if isinstance(sub, Opt):
                    continue
                return f"{where + ' ' if where else ''}lacks {key!r}"
            found = problem(value[key], sub.shape if isinstance(sub, Opt) else sub, path)
            if found:
                return found
        return None
    expected = shape(value)
    return f"{name} is {_short(value)}, not {expected}" if expected else None


def same_lengths(*paths: str) -> Callable[[Any], "str | None"]:
    """A `Then` check: the lists at these dotted key paths are equally long (one value per layer, say)."""

    def check(value: Any) -> str | None:
        lengths = {}
        for path in paths:
            node = value
            for key in path.split("."):
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, list):
                lengths[path] = len(node)
        if len(set(lengths.values())) > 1:
            first = paths[0]
            odd = next(p for p in lengths if lengths[p] != lengths.get(first))
            return f"{odd} has {lengths[odd]} values but {first} has {lengths.get(first)}"
        return None

    return check
