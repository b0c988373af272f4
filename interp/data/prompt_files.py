"""Prompts from a file a user hands the CLI: `.txt` one per line, or `.jsonl` with a `prompt` (or `text`) field."""
from __future__ import annotations

import json
from pathlib import Path


def read_prompts(path: str, field: str = "prompt") -> list[str]:
    """Prompts from a .txt file (one per line) or a .jsonl file (field `field`, or `text`)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"prompt file {path} does not exist")
    lines = p.read_text(encoding="utf-8").splitlines()
    if p.suffix == ".jsonl":
        out = []
        for i, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}, line {i}: not valid JSON ({e.msg})") from e
            if field in row:
                out.append(str(row[field]))
            elif "text" in row:
                out.append(str(row["text"]))
            else:
                raise ValueError(f"{path}, line {i}: missing field {field!r} (or 'text')")
    else:
        out = [line for line in lines if line.strip()]
    if not out:
        raise ValueError(f"prompt file {path} holds no prompts")
    return out
