"""Users' own data: one JSON object per line (.jsonl or .jsonl.gz), fields named by the caller.

Every malformed line is an error naming the file, the line and the field, e.g.
"data.jsonl, line 3: missing field 'chosen'". Fields not used become `meta`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from interp.data._files import DataError, field_messages, field_str, read_jsonl
from interp.data.types import LabelledText, Loaded, PreferencePair, Prompt


def jsonl_prompts(
    path: str | os.PathLike,
    text_field: str = "prompt",
    id_field: str | None = None,
    messages_field: str | None = None,
) -> Loaded:
    """Prompts from `text_field` (and, when named, a [{role, content}] history from `messages_field`)."""
    path = Path(path)
    out = Loaded(source=str(path))
    for line, row in read_jsonl(path):
        where = f"line {line}"
        text = field_str(row, text_field, path, where)
        messages = field_messages(row, messages_field, path, where) if messages_field else None
        used = {text_field, id_field, messages_field}
        out.append(Prompt(text=text, id=_id(row, id_field, path, where), messages=messages, meta=_meta(row, used, line)))
    return out


def jsonl_pairs(
    path: str | os.PathLike,
    prompt_field: str = "prompt",
    chosen_field: str = "chosen",
    rejected_field: str = "rejected",
    id_field: str | None = None,
    messages_field: str | None = None,
) -> Loaded:
    """Preference pairs from three string fields (and an optional prompt history)."""
    path = Path(path)
    out = Loaded(source=str(path))
    for line, row in read_jsonl(path):
        where = f"line {line}"
        prompt = field_str(row, prompt_field, path, where)
        chosen = field_str(row, chosen_field, path, where)
        rejected = field_str(row, rejected_field, path, where)
        messages = field_messages(row, messages_field, path, where) if messages_field else None
        used = {prompt_field, chosen_field, rejected_field, id_field, messages_field}
        out.append(PreferencePair(
            prompt=prompt, chosen=chosen, rejected=rejected, id=_id(row, id_field, path, where),
            messages=messages, meta=_meta(row, used, line),
        ))
    return out


def jsonl_labelled(
    path: str | os.PathLike, text_field: str = "text", label_field: str = "label", id_field: str | None = None
) -> Loaded:
    """Labelled texts; the label must be an integer (or a bool)."""
    path = Path(path)
    out = Loaded(source=str(path))
    for line, row in read_jsonl(path):
        where = f"line {line}"
        text = field_str(row, text_field, path, where)
        if label_field not in row:
            raise DataError(path, where, f"missing field {label_field!r}", field=label_field)
        label = row[label_field]
        if not isinstance(label, (int, bool)):
            raise DataError(path, where, f"field {label_field!r} must be an integer, got {type(label).__name__}", field=label_field)
        out.append(LabelledText(text=text, label=int(label), id=_id(row, id_field, path, where)))
    return out


def jsonl_auto(path: str | os.PathLike) -> Loaded:
    """Guess the kind from the first record: chosen+rejected (+prompt) -> pairs (HH dialogues when
    there is no prompt), prompt -> prompts, text+label -> labelled texts, text -> prompts."""
    path = Path(path)
    _, first = next(read_jsonl(path))
    keys = set(first)
    if {"chosen", "rejected"} <= keys:
        if "prompt" in keys:
            return jsonl_pairs(path)
        from interp.data.hh_rlhf import hh_rlhf

        return hh_rlhf(path)
    if "prompt" in keys:
        return jsonl_prompts(path, "prompt")
    if "text" in keys:
        return jsonl_labelled(path) if "label" in keys else jsonl_prompts(path, "text")
    raise DataError(
        path, "line 1", f"cannot tell what this file holds from its fields {sorted(keys)}; expected prompt/chosen/rejected, "
        "prompt, or text(+label). Use jsonl_pairs / jsonl_prompts / jsonl_labelled with your field names",
    )


def _id(row: dict[str, Any], id_field: str | None, path: Path, where: str) -> str:
    if id_field is None:
        return f"{path.name}/{where.split()[-1]}"
    if id_field not in row:
        raise DataError(path, where, f"missing field {id_field!r}", field=id_field)
    value = row[id_field]
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise DataError(path, where, f"field {id_field!r} must be a string or integer, got {type(value).__name__}", field=id_field)
    return str(value)


def _meta(row: dict[str, Any], used: set[str | None], line: int) -> dict[str, Any]:
    return {**{k: v for k, v in row.items() if k not in used}, "line": line}
