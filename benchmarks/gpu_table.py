"""The markdown table of a benchmark run directory: one row per ratio, one column per batch size.

    python -m benchmarks.gpu_table OUT_DIR      (reads OUT_DIR/*.jsonl written by benchmarks/gpu_suite.sh, or committed *.json lists)

A ratio is any numeric field whose name says it is one (`_over_`, `ratio`); each row keeps the
benchmark's own field name, so a number in the README can be traced to its file and field.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def rows(out: Path) -> dict[tuple[str, str], dict[str, float]]:
    """{(benchmark, field [value model]): {batch: ratio}} from every JSON line under `out`."""
    table: dict[tuple[str, str], dict[str, float]] = {}
    for path in sorted([*out.glob("*.jsonl"), *out.glob("*.json")]):
        for d in _records(path):
            argv = d.get("argv") or []
            batch = str(d.get("batch", d.get("batch_size", _flag(argv, "--batch") or _flag(argv, "--batch-size") or "?")))
            tag = f" (value model: {d['value_layers']} layers)" if "value_layers" in d else ""
            flat = dict(d)
            for key, value in d.items():  # one level of nesting: reprpo's {"ratio_to_dpo": {variant: ratio}}
                if isinstance(value, dict) and ("ratio" in key or "_over_" in key):
                    flat.update({f"{key}.{k}_ratio": v for k, v in value.items()})
            for key, value in flat.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                        and ("_over_" in key or key.endswith("ratio")) and "_cpu" not in key:
                    table.setdefault((path.stem, key + tag), {})[batch] = float(value)
    return table


def _records(path: Path) -> list[dict]:
    """The runs in a suite's `NAME.jsonl` (one per line) or a committed `NAME.json` (a list of them)."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        return [d for d in (data if isinstance(data, list) else [data]) if isinstance(d, dict)]
    out = []
    for line in path.read_text().splitlines():
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(d, dict):
            out.append(d)
    return out


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None


def markdown(table: dict[tuple[str, str], dict[str, float]]) -> str:
    batches = sorted({b for v in table.values() for b in v}, key=lambda b: (not b.isdigit(), int(b) if b.isdigit() else 0))
    lines = ["| benchmark | ratio | " + " | ".join(f"batch {b}" for b in batches) + " |",
             "|---|---|" + "---|" * len(batches)]
    for (bench, key), vals in table.items():
        lines.append(f"| {bench} | {key} | " + " | ".join(f"{vals[b]:.3g}" if b in vals else "" for b in batches) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        raise SystemExit("usage: python -m benchmarks.gpu_table OUT_DIR (a folder of *.jsonl from benchmarks/gpu_suite.sh)")
    print(markdown(rows(Path(args[0]))))


if __name__ == "__main__":
    main()
