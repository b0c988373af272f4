"""The demo's summary: measured effects read back from the files each pipeline wrote.

Each pipeline reads its own files (its `summarize(run_dir)`, beside its writers). Every row names the
file (relative to the demo's runs folder) and the key its number comes from, so the table can be
checked against the runs. A summary that fails (a missing file or key) raises; the caller reports
that in the table instead of the row.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class Row:
    pipeline: str
    effect: str
    value: float | str | None  # a number from a run file, or text (an error, a list of layers)
    source: str  # FILE:KEY the value comes from, FILE relative to the demo's runs folder
    low: float | None = None  # 95% interval, when the pipeline measured one
    high: float | None = None
    detail: str = ""
    n: int | None = None  # paired sample behind the interval or the test
    p: float | None = None  # a test's p-value, for rows judged by a test rather than an interval

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fmt(x: Any, signed: bool = False) -> str:
    """How numbers appear in the printed table (the test formats the file values the same way)."""
    if isinstance(x, float):
        return f"{x:+.3f}" if signed else f"{x:.3f}"
    return "" if x is None else str(x)


def has_interval(row: Row) -> bool:
    return row.low is not None and row.high is not None


def value_text(row: Row) -> str:
    """A difference (a row with an interval) carries its sign; levels and ratios do not."""
    return fmt(row.value, signed=has_interval(row))


def interval(row: Row) -> str:
    return f"[{fmt(row.low, True)}, {fmt(row.high, True)}]" if has_interval(row) else ""


Z95 = 1.959964


def needed_size(n: int, z: float) -> int | None:
    """Paired sample at which an effect now `z` standard errors from 0 would be `Z95` from it, if the effect
    stayed as measured (the standard error shrinks as 1/sqrt(n)). None when there is no effect to size."""
    if z < 0.05:
        return None
    return math.ceil(n * (Z95 / z) ** 2)


def verdict(row: Row) -> str:
    """Whether the row's effect is clear of 0, and if not, about what size would make it so."""
    if has_interval(row) and isinstance(row.value, (int, float)):
        if row.low > 0 or row.high < 0:
            return "clear of 0"
        half = (row.high - row.low) / 2
        z = abs(row.value) / (half / Z95) if half > 0 else 0.0
        what = "interval includes 0"
    elif row.p is not None:
        if row.p < 0.05:
            return "p < 0.05"
        z = NormalDist().inv_cdf(1 - min(max(row.p, 1e-12), 1.0) / 2)
        what = f"p = {row.p:.2g}"
    else:
        return ""
    need = needed_size(row.n, z) if row.n else None
    if need is None:
        return f"{what}: no effect at this size" if row.n else what
    # a difference below 0 or a ratio below 1: what more pairs would show is a drop, not the method working
    drop = isinstance(row.value, (int, float)) and row.value < (0 if has_interval(row) else 1)
    return f"{what}: ~{need} pairs would show it at this effect{', a drop' if drop else ''} (n = {row.n})"


def pipeline_rows(pipeline: Any, run_dir: Path, name: str, title: str) -> list[Row]:
    """The rows of a pipeline's own `summarize(run_dir)`; sources become relative to the demo's runs folder."""
    if pipeline.summarize is None:
        return [Row(title, "finished (the pipeline defines no summary)", "-", f"{name}/")]
    return [Row(title, r["effect"], r.get("value"), f"{name}/{r['source']}", r.get("low"), r.get("high"),
                r.get("detail", ""), r.get("n"), r.get("p")) for r in pipeline.summarize(run_dir)]


def render(rows: list[Row]) -> str:
    from interp.text_table import table

    return table([{"pipeline": r.pipeline, "measured effect": r.effect, "value": value_text(r),
                   "95% interval": interval(r), "shows an effect?": verdict(r), "detail": r.detail,
                   "from": r.source.partition(":")[0]}
                  for r in rows])


def markdown(summary: dict[str, Any]) -> str:
    """A demo's summary.json as the README's markdown table: the rows with a number and an interval or a test
    (the headline effects), then the wall time of each pipeline and of all of them."""
    from dataclasses import fields

    names = {f.name for f in fields(Row)}
    rows = [Row(**{k: v for k, v in r.items() if k in names}) for r in summary["rows"]]
    lines = ["| pipeline | measured effect | value | 95% interval | shows an effect? |", "|---|---|---|---|---|"]
    lines += [f"| {r.pipeline} | {r.effect} | {value_text(r)} | {interval(r)} | {verdict(r)} |"
              for r in rows if has_interval(r) or r.p is not None]
    times = ", ".join(f"{name} {st['seconds']:.0f} s" for name, st in sorted(summary["pipelines"].items()))
    return "\n".join(lines) + f"\n\nWall time: {times}; all four {summary['seconds']:.0f} s.\n"

