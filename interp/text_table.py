"""A plain-text table for summaries printed to the terminal (no extra dependency)."""
from __future__ import annotations


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
