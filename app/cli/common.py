"""Helpers shared by CLI commands: reading prompt files, printing tables."""
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


def table(rows: list[dict], columns: list[str] | None = None, floatfmt: str = "{:.3f}") -> str:
    """A plain-text table (no extra dependency) for summaries printed to the terminal."""
    if not rows:
        return "(empty)"
    columns = columns or list(rows[0])
    cells = [[(floatfmt.format(r.get(c)) if isinstance(r.get(c), float) else str(r.get(c, ""))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join([line, sep, *body])
