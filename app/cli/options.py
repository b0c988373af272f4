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
