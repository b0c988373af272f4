"""The demo's summary: measured effects read back from the files each pipeline wrote.

Every row names the file (relative to the demo's runs folder) and the key its number comes from,
so the table can be checked against the runs. A reader that fails (a missing file or key) raises;
the caller reports that in the table instead of the row.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from interp.io import read_json


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

    def as_dict(self) -> dict[str, Any]:
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
    return f"{what}: ~{need} pairs would show it at this effect (n = {row.n})"


def _read(root: Path, rel: str) -> Any:
    return read_json(root / rel)


def _value_row(root: Path, title: str, rel: str, key: str, what: str, unit: str) -> Row:
    """A value function's validation Spearman, with its train/validation sizes."""
    m = _read(root, rel)
    return Row(title, what, m[key], f"{rel}:{key}", detail=f"{m['n_train']} train / {m['n_val']} val {unit}")


def re_control_rows(root: Path, title: str) -> list[Row]:
    rel = "re_control/evaluate/metrics.json"
    m = _read(root, rel)
    d = m["re_control_minus_base"]
    base, ctl = m["table"][0], m["table"][-1]  # the pipeline puts base greedy first and RE-Control last
    rows = [Row(title, f"reward gain over base greedy ({m['reward']}, {d['n']} test prompts)", d["difference"],
                f"{rel}:re_control_minus_base.difference", d["low"], d["high"],
                f"base {base['reward']:.3f} -> {ctl['reward']:.3f}", n=d.get("n"))]
    rows.append(_value_row(root, title, "re_control/train-value/metrics.json", "val_spearman",
                           "value function: validation Spearman(V(s_T), reward)", "trajectories"))
    return rows


def vas_rows(root: Path, title: str) -> list[Row]:
    rel = "vas/evaluate/table.json"
    t = _read(root, rel)
    base = next(r for r in t["rows"] if r["method"] == "base")
    rows = []
    for i, r in enumerate(t["rows"]):
        if r["method"] != "vas":
            continue
        rows.append(Row(title, f"reward gain at beta={r['beta']:g} over base sampling ({t['reward']})", r["delta"],
                        f"{rel}:rows[{i}].delta", r["delta_low"], r["delta_high"],
                        f"base {base['reward']:.3f} -> {r['reward']:.3f}", n=r.get("n")))
    rows.append(_value_row(root, title, "vas/train/metrics.json", "val_spearman_end",
                           "value model: validation Spearman(V at last token, reward)", "rollouts"))
    return rows


def reprpo_rows(root: Path, title: str) -> list[Row]:
    rel = "reprpo/eval/metrics.json"
    m = _read(root, rel)
    names = {"source_test": f"source test ({m['source']})", "target_test": f"OOD target ({m['target']})"}
    rows = []
    for split, name in names.items():
        if f"{split}.ratio_mean" not in m:
            continue
        rows.append(Row(title, f"{m['method']} preference accuracy adapter/base, {name}", m[f"{split}.ratio_mean"],
                        f"{rel}:{split}.ratio_mean",
                        detail=f"{m[f'{split}.base_accuracy_mean']:.3f} -> {m[f'{split}.adapter_accuracy_mean']:.3f}, "
                               f"sign test p={m[f'{split}.p_sign_test_mean']:.2g}, n={m[f'{split}.n_scored']}",
                        n=m[f"{split}.n_scored"], p=m[f"{split}.p_sign_test_mean"]))
    return rows


def divergence_rows(root: Path, title: str) -> list[Row]:
    rows = []
    rel = "divergence/rlhf/metrics.json"
    m = _read(root, rel)
    reward = _read(root, "divergence/rlhf/config.json").get("reward", "reward")
    d = m["tuned_minus_base"]
    rows.append(Row(title, f"RL-tuned minus base reward ({reward}, {m['n_prompts']} held-out prompts)", d["mean"],
                    f"{rel}:tuned_minus_base.mean", d["low"], d["high"],
                    f"base {m['base_reward']['mean']:.3f} -> {m['tuned_reward']['mean']:.3f}", n=m["n_prompts"]))
    rel = "divergence/divergence/metrics.json"
    m = _read(root, rel)
    layers = m["layers"]
    rows.append(Row(title, f"top divergent layers (by {m['rank_by']})", ", ".join(str(x) for x in layers),
                    f"{rel}:layers",
                    detail="param divergence " + ", ".join(f"{m['param_per_layer'][x]:.3g}" for x in layers)))
    rel = "divergence/saes/metrics.json"
    saes = _read(root, rel)["saes"]
    for e in sorted({s["expansion"] for s in saes}):
        ev = [s["explained_variance"] for s in saes if s["expansion"] == e]
        rows.append(Row(title, f"SAE explained variance, {e:g}x d_model (mean of {len(ev)})", sum(ev) / len(ev),
                        f"{rel}:saes[expansion={e:g}].explained_variance",
                        detail=f"min {min(ev):.3f}, max {max(ev):.3f}"))
    rel = "divergence/features/metrics.json"
    counts = _read(root, rel)["counts"]
    totals = {name: sum(n for site in by_site.values() for n in site.values()) for name, by_site in counts.items()}
    rows.append(Row(title, "reward-related SAE features (all SAEs), base / tuned",
                    f"{totals.get('base', 0)} / {totals.get('tuned', 0)}", f"{rel}:counts",
                    detail="|corr with token valence| > threshold, permutation p < 0.01"))
    rel = "divergence/probe/metrics.json"
    p = _read(root, rel)
    if "tuned" in p:
        rows.append(Row(title, "implicit-reward probe: Kendall tau on held-out words (tuned)", p["tuned"]["kendall_tau"],
                        f"{rel}:tuned.kendall_tau",
                        detail=f"R^2 {p['tuned']['r2_test']:.3f}, {p['tuned']['n_recovered']}/{p['tuned']['n_test_words']} "
                               "words recovered"))
    return rows


READERS: dict[str, Callable[[Path, str], list[Row]]] = {
    "re_control": re_control_rows, "vas": vas_rows, "reprpo": reprpo_rows, "divergence": divergence_rows,
}


def registered_reader(name: str, pipeline) -> Callable[[Path, str], list[Row]]:
    """Rows from a registered pipeline's own `summarize(run_dir)`; sources are relative to its run dir."""
    def read(root: Path, title: str) -> list[Row]:
        if pipeline.summarize is None:
            return [Row(title, "finished (the pipeline defines no summary)", "-", f"{name}/")]
        return [Row(title, r["effect"], r.get("value"), f"{name}/{r['source']}", r.get("low"), r.get("high"),
                    r.get("detail", "")) for r in pipeline.summarize(root / name)]

    return read


def render(rows: list[Row]) -> str:
    from interp.text_table import table

    return table([{"pipeline": r.pipeline, "measured effect": r.effect, "value": value_text(r),
                   "95% interval": interval(r), "shows an effect?": verdict(r), "detail": r.detail,
                   "from": r.source.partition(":")[0]}
                  for r in rows])
