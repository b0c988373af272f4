"""Result files: the small committed record behind every number a method README publishes.

`runs/` is not committed, so a README number needs a file that is: `methods/<method>/results/<run>.json`,

    {"kind": "interp-result", "method": ..., "run": ..., "source": the run directory it was read from,
     "config": {step: the settings it recorded}, "versions": {package: version},
     "data": {prompt ids, seeds, splits}, "table": [{"label": ..., numbers ...}, ...], "notes": {...}}

with no weights and no generations. A method turns one of its run directories into the parts
(config, data, table); `result_record` adds what every file holds, `write_result` writes it atomically,
and `read_result` refuses a file that is not one. `interp results write RUN_DIR --out FILE` regenerates
a file from its run directory; `tests/test_readme_results.py` checks each README table against its file.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from interp.io import read_json, write_json

KIND = "interp-result"
REQUIRED = ("kind", "method", "run", "config", "versions", "data", "table")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


class ResultFileError(ValueError):
    """A result file is missing a part, is not a result file, or holds something it must not."""


def recorded_versions(run_dir: str | Path) -> dict[str, str]:
    """The package versions the run's steps recorded (the first step that has them), else those installed now,
    marked as such."""
    run_dir = Path(run_dir)
    for cfg in sorted(run_dir.glob("*/config.json")):
        versions = read_json(cfg).get("versions")
        if isinstance(versions, dict) and versions:
            return {str(k): str(v) for k, v in versions.items()}
    from interp.versions import installed_versions

    return {**installed_versions(), "recorded": "no (installed when the file was written)"}


def step_configs(run_dir: str | Path, steps: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """{step: its config.json without the package versions} for the finished steps of a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    out = {}
    names = steps if steps is not None else sorted(p.parent.name for p in run_dir.glob("*/metrics.json"))
    for name in names:
        step = run_dir / name
        if not (step / "metrics.json").exists():
            raise FileNotFoundError(f"{step} is not a finished step (no metrics.json): finish the run before "
                                    "writing its result file")
        out[name] = {k: v for k, v in read_json(step / "config.json").items() if k != "versions"}
    if not out:
        raise FileNotFoundError(f"{run_dir} holds no finished step (no */metrics.json)")
    return out


def result_record(method: str, run_dir: str | Path, config: dict[str, Any], data: dict[str, Any],
                  table: list[dict[str, Any]], notes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A result file's content; `table` rows each name themselves with `label` (the README row's first cell)."""
    run_dir = Path(run_dir)
    record = {"kind": KIND, "method": method, "run": run_dir.name, "source": str(run_dir), "config": config,
              "versions": recorded_versions(run_dir), "data": data, "table": table, "notes": notes or {}}
    check_record(record, where=f"the result of {run_dir}")
    return record


def check_record(record: Any, where: str) -> None:
    """Refuse a record that lacks a part, has unlabelled rows, or names a weight file."""
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise ResultFileError(f"{where} is not an interp result file (expected \"kind\": \"{KIND}\")")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ResultFileError(f"{where} lacks {missing}: regenerate it with `interp results write RUN_DIR --out FILE`")
    if not isinstance(record["table"], list) or not record["table"]:
        raise ResultFileError(f"{where} has an empty table")
    for i, row in enumerate(record["table"]):
        if not isinstance(row, dict) or not isinstance(row.get("label"), str):
            raise ResultFileError(f"{where}: table row {i} has no \"label\" (the README row it backs)")
    labels = [row["label"] for row in record["table"]]
    if len(set(labels)) != len(labels):
        raise ResultFileError(f"{where}: table labels repeat ({labels}); each README row needs its own")
    weights = [s for s in _strings(record) if s.endswith(WEIGHT_SUFFIXES)]
    if any(_looks_inline_weights(v) for v in _lists(record)) or weights:
        raise ResultFileError(f"{where} carries weights or weight files ({weights[:3]}): a result file holds "
                              "settings, data ids and the table only")


def _strings(obj: Any):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _lists(obj: Any):
    if isinstance(obj, list):
        yield obj
        for v in obj:
            yield from _lists(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _lists(v)


def _looks_inline_weights(values: list) -> bool:
    """A long list of floats (a tensor dumped to JSON); prompt ids and per-prompt rewards stay under the limit."""
    return len(values) > 20_000 and all(isinstance(v, float) for v in values[:100])


def write_result(path: str | Path, record: dict[str, Any]) -> Path:
    """Check `record` and write it to `path` atomically (a crash leaves the old file or none, never half of one)."""
    check_record(record, where=str(path))
    write_json(path, record)
    return Path(path)


def read_result(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no result file at {path}")
    record = read_json(path)
    check_record(record, where=str(path))
    return record


def row(record: dict[str, Any], label: str) -> dict[str, Any]:
    """The table row backing the README row `label`."""
    for r in record["table"]:
        if r["label"] == label:
            return r
    raise KeyError(f"result file of run {record.get('run')!r} has no row {label!r}; its rows: "
                   f"{[r['label'] for r in record['table']]}")


# --- README tables against their result files -------------------------------------------------
# A README backs each results table with a visible line before it, in the same section:
#     Result file: [`results/NAME.json`](results/NAME.json)
#     Result file: none (exploratory: WHY no file exists)
# A table is a results table when one of its body cells is a number (or numbers joined by / [ ] , ± ( )).
# Each body row's first cell is its label, which must be a row of the file; every number in its other
# cells must equal one of that row's values at the README's rounding (a percentage may also be the
# value x 100).
_MARKER = re.compile(r"^\s*Result file:\s*(.*)$")
_FILE = re.compile(r"results/[A-Za-z0-9._\-]+\.json")
_NUMBER = re.compile(r"(?<![\w.])[+\-\u2212]?\d+(?:\.\d+)?(?:e[+\-\u2212]?\d+)?%?")
_HEADING = re.compile(r"^#{1,6}\s")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def numbers_in(text: str) -> list[str]:
    """The number tokens of a README cell, as written (sign, decimals, exponent and % kept)."""
    return [m.group(0) for m in _NUMBER.finditer(text.replace("`", ""))]


def _is_numeric_cell(cell: str) -> bool:
    text = cell.replace("`", "").replace("*", "")
    return bool(numbers_in(text)) and not re.search(r"[A-Za-z]", _NUMBER.sub("", text))


def number_matches(token: str, values: list[float]) -> bool:
    """Whether README token `token` is one of `values` rounded as the README rounds it."""
    t = token.replace("\u2212", "-")
    percent = t.endswith("%")
    t = t.rstrip("%")
    mantissa, _, exponent = t.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    x = float(t)
    tol = 0.5 * 10 ** (-decimals) * (10 ** int(exponent) if exponent else 1) + 1e-12
    candidates = [(x, tol)] + ([(x / 100, tol / 100)] if percent else [])
    return any(math.isfinite(v) and abs(v - c) <= t_ for v in values for c, t_ in candidates)


def _numeric_leaves(obj: Any) -> list[float]:
    if isinstance(obj, bool):
        return []
    if isinstance(obj, (int, float)):
        return [float(obj)]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numeric_leaves(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numeric_leaves(v)]
    return []


def readme_tables(text: str) -> list[dict[str, Any]]:
    """Every markdown table of a README with its line number, rows and the `Result file:` line governing it."""
    tables, marker, i = [], None, 0
    lines = text.splitlines()
    while i < len(lines):
        line = lines[i]
        if _HEADING.match(line):
            marker = None
        m = _MARKER.match(line)
        if m:
            marker = (i + 1, m.group(1).strip())
        if line.lstrip().startswith("|"):
            start = i
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            rows = [_cells(b) for b in block if not re.fullmatch(r"[\s|:\-]+", b)]
            tables.append({"line": start + 1, "header": rows[0] if rows else [], "rows": rows[1:], "marker": marker})
            continue
        i += 1
    return tables


def check_readme(path: str | Path) -> list[str]:
    """Problems with the results tables of a method README (empty when every number matches its file)."""
    path = Path(path)
    problems = []
    for t in readme_tables(path.read_text(encoding="utf-8")):
        if not any(_is_numeric_cell(c) for r in t["rows"] for c in r[1:]):
            continue  # not a results table (a list of files, steps, departures)
        where = f"{path}:{t['line']}"
        if t["marker"] is None:
            problems.append(f"{where}: a results table with no 'Result file:' line before it in its section "
                            "(name its file, or say 'Result file: none (exploratory: why)')")
            continue
        mline, spec = t["marker"]
        found = _FILE.search(spec)
        if found is None:
            if not re.search(r"\b(exploratory|unrecoverable)\b", spec, re.IGNORECASE):
                problems.append(f"{path}:{mline}: 'Result file:' names no results/NAME.json and does not say the "
                                "numbers are exploratory or unrecoverable")
            continue
        file = path.parent / found.group(0)
        try:
            record = read_result(file)
        except (FileNotFoundError, ValueError) as e:
            problems.append(f"{where}: {e}")
            continue
        for r in t["rows"]:
            label = r[0].replace("`", "").replace("**", "").strip()
            try:
                values = _numeric_leaves(row(record, label))
            except KeyError as e:
                problems.append(f"{where}: {e.args[0]}")
                continue
            for cell, head in zip(r[1:], t["header"][1:]):
                for tok in numbers_in(cell):
                    if not number_matches(tok, values):
                        problems.append(f"{where}: row {label!r}, column {head!r}: {tok} is not in {file.name}")
    return problems
