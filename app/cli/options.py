"""Options that mean the same in every command: `--chat auto|yes|no` and `--do-sample`.

`--chat` alone is the earlier flag spelling and means what it meant there (the chat template when
the model has one), so old command lines keep working."""
from __future__ import annotations

import argparse

CHAT = {"auto": None, "yes": True, "no": False}


def add_chat(p: argparse.ArgumentParser, default: str = "no", const: str = "auto") -> None:
    p.add_argument("--chat", nargs="?", const=const, default=default, choices=list(CHAT),
                   help=f"render prompts through the chat template: auto (when the model has one), yes or no "
                        f"(default: {default}; --chat alone: {const})")


def chat_value(choice: str) -> bool | None:
    """What `Model.render` / `generate(chat=...)` take for a --chat choice."""
    return CHAT[choice]


def add_do_sample(p: argparse.ArgumentParser, default: bool, earlier: str | None = None) -> None:
    """`--do-sample/--no-do-sample` (dest `do_sample`); `earlier` is an older spelling kept as an alias."""
    names = ["--do-sample"] + ([earlier] if earlier and earlier != "--greedy" else [])
    p.add_argument(*names, dest="do_sample", action="store_true", default=default,
                   help=f"sample at --temperature instead of greedy decoding (default: {'yes' if default else 'no'})")
    negatives = ["--no-do-sample"] + (["--greedy"] if earlier == "--greedy" else [])
    p.add_argument(*negatives, dest="do_sample", action="store_false", help="greedy decoding")


# --- values checked where they are read: a bad flag is refused in one line, before any work -------------
def _number(text: str, kind: type) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None


def count(text: str) -> int:
    """A count: a whole number of at least 1 (argparse type)."""
    n = _number(text, int)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return n


def count_or_zero(text: str) -> int:
    """A whole number of at least 0 (0 has a meaning the flag's help states)."""
    n = _number(text, int)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return n


def finite(text: str) -> float:
    """A finite number (no nan or inf)."""
    import math

    x = _number(text, float)
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return x


def positive(text: str) -> float:
    """A finite number above 0 (temperatures, learning rates)."""
    x = finite(text)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return x


def non_negative(text: str) -> float:
    """A finite number of at least 0 (weight decay, penalties)."""
    x = finite(text)
    if x < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return x


def probability(text: str) -> float:
    """A number in [0, 1]."""
    x = finite(text)
    if not 0 <= x <= 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return x


def port(text: str) -> int:
    """A TCP port, 1..65535."""
    n = _number(text, int)
    if not 1 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 1..65535, got {text}")
    return n
