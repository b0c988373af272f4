"""Anthropic HH-RLHF: whole "\\n\\nHuman: ... \\n\\nAssistant: ..." dialogues split into a shared
prompt and the two final assistant turns.

The prompt is everything up to and including the last "\\n\\nAssistant:", so
`pair.prompt + pair.chosen` is exactly the original chosen dialogue (the raw format); the
multi-turn history is kept as `messages` for chat templates (see `interp.data.render`).

Pairs whose two dialogues give different prompts (in harmless-base/test: 5 of 2,312, where a
model's response itself contains a "\\n\\nAssistant:" line) are dropped by default and
listed in `Loaded.dropped`; `on_mismatch="error"` raises instead, and `"common"` splits at
the last assistant marker both dialogues share, keeping the runaway text in the response.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Iterable, Literal

from interp.data._files import DataError, default_path, field_str, hub_rows, read_jsonl
from interp.data.types import Loaded, PreferencePair

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"
HUB_NAME = "Anthropic/hh-rlhf"
_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}

OnMismatch = Literal["drop", "error", "common"]


class PromptMismatch(ValueError):
    """The chosen and rejected dialogues do not share the prompt before their last assistant turn."""


def split_dialogue(text: str) -> tuple[str, str]:
    """(prompt up to and including the last "\\n\\nAssistant:", the last assistant response)."""
    text = _normalise(text)
    i = text.rfind(ASSISTANT)
    if i < 0:
        raise ValueError("dialogue has no '\\n\\nAssistant:' turn")
    cut = i + len(ASSISTANT)
    return text[:cut], text[cut:]


def parse_turns(text: str) -> tuple[dict[str, str], ...]:
    """The dialogue as [{role: user|assistant, content}], contents stripped; a trailing empty
    assistant turn (a prompt awaiting its answer) is left out."""
    text = _normalise(text)
    parts = _TURN.split(text)
    if parts[0].strip():
        raise ValueError(f"text before the first turn: {parts[0][:60]!r}; dialogues start with '\\n\\nHuman:'")
    turns = [{"role": _ROLES[r], "content": c.strip()} for r, c in zip(parts[1::2], parts[2::2])]
    if turns and turns[-1]["role"] == "assistant" and not turns[-1]["content"]:
        turns.pop()
    return tuple(turns)


def parse_pair(chosen: str, rejected: str, on_mismatch: OnMismatch = "error", id: str = "") -> PreferencePair:
    """One PreferencePair from two whole dialogues (raises PromptMismatch unless `on_mismatch="common"`)."""
    chosen, rejected = _normalise(chosen), _normalise(rejected)
    prompt, good = split_dialogue(chosen)
    prompt_r, bad = split_dialogue(rejected)
    if prompt != prompt_r:
        if on_mismatch != "common":
            raise PromptMismatch(
                f"chosen and rejected prompts differ (chosen prompt has {prompt.count(ASSISTANT)} assistant turns, "
                f"rejected {prompt_r.count(ASSISTANT)}); one response probably contains a '\\n\\nAssistant:' line"
            )
        cut = _common_cut(chosen, rejected)
        prompt, good, bad = chosen[:cut], chosen[cut:], rejected[cut:]
    return PreferencePair(prompt=prompt, chosen=good, rejected=bad, id=id, messages=parse_turns(prompt))


def pairs_from_rows(
    rows: Iterable[tuple[str, dict]], source: str, on_mismatch: OnMismatch = "drop", id_prefix: str = "hh-rlhf"
) -> Loaded:
    """Pairs from (place, {chosen, rejected}) records; `place` is "line N" (files) or "row N" (hub)."""
    if on_mismatch not in ("drop", "error", "common"):
        raise ValueError(f"on_mismatch must be 'drop', 'error' or 'common', not {on_mismatch!r}")
    out = Loaded(source=source)
    for where, row in rows:
        chosen = field_str(row, "chosen", source, where)
        rejected = field_str(row, "rejected", source, where)
        for name, text in (("chosen", chosen), ("rejected", rejected)):
            try:
                split_dialogue(text)
                parse_turns(text)
            except ValueError as e:
                raise DataError(source, where, f"field {name!r}: {e}", field=name) from e
        pid = f"{id_prefix}/{where.split()[-1]}"
        try:
            pair = parse_pair(chosen, rejected, on_mismatch="error" if on_mismatch == "drop" else on_mismatch, id=pid)
        except PromptMismatch as e:
            if on_mismatch == "error":
                raise DataError(source, where, f"{e}; pass on_mismatch='drop' or 'common' to load anyway") from e
            out.dropped.append(f"{where}: {e}")
            continue
        pair.meta.update(source=source, where=where)
        out.append(pair)
    if out.dropped:
        warnings.warn(
            f"{source}: dropped {len(out.dropped)} of {len(out) + len(out.dropped)} HH pairs whose chosen and "
            "rejected prompts differ (see .dropped; on_mismatch='common' keeps them)",
            stacklevel=3,
        )
    return out


def hh_rlhf(
    path: str | os.PathLike | None = None,
    *,
    subset: str = "harmless-base",
    split: str = "test",
    on_mismatch: OnMismatch = "drop",
) -> Loaded:
    """HH-RLHF preference pairs from a .jsonl / .jsonl.gz file (or a folder holding
    `<subset>-<split>.jsonl[.gz]`); default `data_dir()/hh-rlhf/<subset>-<split>.jsonl.gz`.

    Without `path` and with no local file, the public `Anthropic/hh-rlhf` is loaded when the hub
    is reachable (see interp.data._files).
    """
    explicit = path is not None
    file = _locate(Path(path), subset, split) if explicit else _in_folder(default_path("hh-rlhf"), subset, split)
    id_prefix = f"hh-rlhf/{subset}-{split}"
    if file.is_file():
        return pairs_from_rows(((f"line {i}", r) for i, r in read_jsonl(file)), str(file), on_mismatch, id_prefix)
    if explicit:
        raise FileNotFoundError(
            f"HH-RLHF: no file at {file}; expected a .jsonl or .jsonl.gz with 'chosen' and 'rejected' dialogues"
        )
    rows = hub_rows(HUB_NAME, "HH-RLHF", file, data_dir=subset, split=split)
    source = f"hub:{HUB_NAME}/{subset}/{split}"
    return pairs_from_rows(((f"row {i}", r) for i, r in enumerate(rows, start=1)), source, on_mismatch, id_prefix)


def _locate(path: Path, subset: str, split: str) -> Path:
    return _in_folder(path, subset, split) if path.is_dir() else path


def _in_folder(path: Path, subset: str, split: str) -> Path:
    for name in (f"{subset}-{split}.jsonl.gz", f"{subset}-{split}.jsonl"):
        if (path / name).is_file():
            return path / name
    return path / f"{subset}-{split}.jsonl.gz"


def _normalise(text: str) -> str:
    """Accept dialogues that start "Human:" without the leading blank line."""
    return "\n\n" + text if text.startswith(("Human:", "Assistant:")) else text


def _common_cut(a: str, b: str) -> int:
    """End of the last "\\n\\nAssistant:" inside the common prefix of `a` and `b`."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    i = a.rfind(ASSISTANT, 0, n)
    if i < 0:
        raise PromptMismatch("chosen and rejected share no assistant turn")
    return i + len(ASSISTANT)
