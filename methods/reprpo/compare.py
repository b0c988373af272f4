"""One table over methods and seeds: adapter accuracy and adapter/base ratio per split, mean and std.

Reads every `<run>/eval/metrics.json` under the given run directories, groups runs by
(method, transform, variant), and over the seeds of each group reports the mean and sample standard
deviation (n-1; 0 for one seed) of the adapter's preference accuracy (mean per-token
log-probability variant) and of its ratio to the base model, per split. Writes compare.json,
compare.csv and compare.md into the output directory.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Iterable

from interp.io import read_json, write_json, write_text

SPLITS = ("source_train", "source_test", "target_test", "random_test")


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories (holding eval/metrics.json) at or below each path."""
    found: set[Path] = set()
    for p in paths:
        p = Path(p)
        if (p / "eval" / "metrics.json").exists():
            found.add(p)
        elif p.is_dir():
            found.update(m.parent.parent for m in p.rglob("eval/metrics.json"))
        else:
            raise FileNotFoundError(f"{p} is not a directory; pass run directories or a folder holding them")
    return sorted(found)


def _mean_std(xs: list[float]) -> tuple[float, float]:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    if not xs:
        return float("nan"), float("nan")
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def compare_rows(runs: list[Path]) -> list[dict[str, Any]]:
    """One row per (method, transform): n seeds, base accuracy and adapter accuracy / ratio mean and std per split."""
    if not runs:
        raise FileNotFoundError("no finished ReprPO evaluations found (expected <run>/eval/metrics.json)")
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in runs:
        m = read_json(r / "eval" / "metrics.json")
        groups.setdefault((m["method"], m["transform"], m.get("variant", "ours")), []).append(m)
    rows = []
    for (method, transform, variant), ms in sorted(groups.items()):
        row: dict[str, Any] = {"method": method, "transform": transform, "variant": variant, "n_seeds": len(ms),
                               "seeds": sorted(m["seed"] for m in ms)}
        for split in SPLITS:
            key = f"{split}.adapter_accuracy_mean"
            if not any(key in m for m in ms):
                continue
            row[f"{split}.base"] = _mean_std([m.get(f"{split}.base_accuracy_mean") for m in ms])[0]
            row[f"{split}.acc"], row[f"{split}.acc_std"] = _mean_std([m.get(key) for m in ms])
            row[f"{split}.ratio"], row[f"{split}.ratio_std"] = _mean_std([m.get(f"{split}.ratio_mean") for m in ms])
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    splits = [s for s in SPLITS if any(f"{s}.acc" in r for r in rows)]
    head = ["method", "transform", "variant", "seeds"] + [f"{s} acc (base)" for s in splits] + [f"{s} ratio" for s in splits]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["method"], r["transform"], r.get("variant", "ours"), str(r["n_seeds"])]
        cells += [f"{r[f'{s}.acc']:.3f} ± {r[f'{s}.acc_std']:.3f} ({r[f'{s}.base']:.3f})" if f"{s}.acc" in r else "" for s in splits]
        cells += [f"{r[f'{s}.ratio']:.3f} ± {r[f'{s}.ratio_std']:.3f}" if f"{s}.ratio" in r else "" for s in splits]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_comparison(runs: list[Path], out_dir: str | Path) -> list[dict[str, Any]]:
    rows = compare_rows(runs)
    out = Path(out_dir)
    write_json(out / "compare.json", {"runs": [str(r) for r in runs], "rows": rows})
    buf = io.StringIO()
    cols = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("method", "transform", "variant", "n_seeds", "seeds"), k))
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    for r in rows:
        w.writerow({k: (";".join(map(str, v)) if isinstance(v, list) else v) for k, v in r.items()})
    write_text(out / "compare.csv", buf.getvalue())
    write_text(out / "compare.md", markdown(rows))
    return rows
