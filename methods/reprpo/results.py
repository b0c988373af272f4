"""A committed result file from finished ReprPO runs: configs, versions, data ids, the table, sign tests.

Runs are grouped by (method, variant, transform) and, per split, reported as the adapter's
preference accuracy (mean per-token log-probability) over seeds, mean and sample sd, its ratio to
the base model's, and two sign tests:
  vs base  the run's own one-sided test (eval/splits.json), one p per seed;
  vs DPO   paired over the split's pairs: each pair scores the group's mean correctness over its
           seeds against DPO's over DPO's seeds; pairs where they differ are counted for each side
           and tested two-sided (exact binomial, p = 1/2). Every run scores the same pairs of a
           split (the selection is seeded and the tokenization does not depend on the adapter).

    python -m methods.reprpo.results OUT/runs --name alpaca-2026-12-04 --out methods/reprpo/results
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

from interp.fingerprint import digest
from interp.io import read_json
from interp.results import KIND, write_result
from methods.reprpo.data import DATA_SEED, load_experiment

SPLITS = ("source_train", "source_test", "target_test", "random_test")


def _group(cfg: dict) -> str:
    variant = cfg.get("variant", "ours")
    label = cfg["method"] + ("" if cfg["transform"] == "none" else f"-{cfg['transform']}")
    return label + ("-ref" if variant == "reference" else "")


def _mean_sd(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, (math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0)


def _sha(pairs) -> str:
    return digest(("\x1f".join((p.prompt, p.chosen, p.rejected)) + "\x1e" for p in pairs), 16)


def paired_vs(a: list[str], b: list[str]) -> dict[str, Any]:
    """Sign test of group a against group b over pairs: a, b = per-seed 0/1 strings of one split."""
    n = len(a[0])
    if any(len(s) != n for s in a + b):
        raise ValueError("runs scored different numbers of pairs on one split; they cannot be paired")
    sa = [sum(s[i] == "1" for s in a) / len(a) for i in range(n)]
    sb = [sum(s[i] == "1" for s in b) / len(b) for i in range(n)]
    up = sum(x > y for x, y in zip(sa, sb))
    down = sum(x < y for x, y in zip(sa, sb))
    p = float(binomtest(up, up + down, 0.5).pvalue) if up + down else 1.0
    return {"n_better": up, "n_worse": down, "p_two_sided": p}


def collect(runs_dir: str | Path) -> dict[str, Any]:
    runs_dir = Path(runs_dir)
    found = sorted(p.parent.parent for p in runs_dir.rglob("eval/metrics.json"))
    if not found:
        raise FileNotFoundError(f"no finished ReprPO runs under {runs_dir} (expected <run>/eval/metrics.json)")
    runs: dict[str, Any] = {}
    for r in found:
        train_cfg = read_json(r / "train" / "config.json")
        runs[r.name] = {"config": train_cfg, "train": read_json(r / "train" / "metrics.json"),
                        "splits": read_json(r / "eval" / "splits.json"),
                        "eval_config": {k: v for k, v in read_json(r / "eval" / "config.json").items() if k != "train"}}
    return runs


def build(runs: dict[str, Any], name: str, note: str = "", status: dict | None = None,
          source: str = "") -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for run, r in runs.items():
        groups.setdefault(_group(r["config"]), []).append(run)
    table, tests = [], {}
    if "dpo" in groups:
        for g, members in groups.items():
            if g == "dpo":
                continue
            tests[g] = {}
            for split in SPLITS:
                a = [runs[m]["splits"][split]["adapter_correct_mean"] for m in members if split in runs[m]["splits"]]
                b = [runs[m]["splits"][split]["adapter_correct_mean"] for m in groups["dpo"] if split in runs[m]["splits"]]
                if a and b:
                    tests[g][split] = paired_vs(a, b)
    for g, members in sorted(groups.items(), key=lambda kv: (kv[0] != "dpo", kv[0])):
        row: dict[str, Any] = {"label": g, "n_seeds": len(members),
                               "seeds": sorted(runs[m]["config"]["seed"] for m in members)}
        for split in SPLITS:
            got = [runs[m]["splits"][split] for m in members if split in runs[m]["splits"]]
            if not got:
                continue
            acc, acc_sd = _mean_sd([s["adapter_accuracy_mean"] for s in got])
            ratio, ratio_sd = _mean_sd([s["ratio_mean"] for s in got])
            row[split] = {"base": got[0]["base_accuracy_mean"], "acc": acc, "acc_sd": acc_sd, "ratio": ratio,
                          "ratio_sd": ratio_sd, "n_scored": got[0]["n_scored"],
                          "p_vs_base": [s["p_sign_test_mean"] for s in got]}
            if g in tests and split in tests[g]:
                row[split]["vs_dpo"] = tests[g][split]
        table.append(row)
    first = next(iter(runs.values()))["config"]
    return {
        "kind": KIND, "method": "reprpo", "run": name, "source": source,
        "config": {run: {k: v for k, v in r["config"].items() if k != "versions"} for run, r in runs.items()},
        "versions": first.get("versions") or {}, "data": {}, "table": table,
        "notes": {
            "note": note, "model": first["model"], "interp_version": first.get("interp_version"),
            "status": status or {}, "eval": next(iter(runs.values()))["eval_config"],
            "train_metrics": {run: r["train"] for run, r in runs.items()},
            "per_run": {run: {split: {k: s[k] for k in ("base_accuracy_mean", "adapter_accuracy_mean", "ratio_mean",
                                                        "p_sign_test_mean", "n_scored", "n_too_long", "n_identical",
                                                        "adapter_correct_mean", "base_correct_mean") if k in s}
                              for split, s in r["splits"].items()} for run, r in runs.items()},
        },
    }


def data_ids(cfg: dict, n_eval: int | None) -> dict[str, Any]:
    """Which pairs: the seeded selection and a hash of each split's (prompt, chosen, rejected) texts."""
    raw = load_experiment(cfg["source"], cfg["target"], cfg.get("random") or None, cfg["n_train"], n_eval)
    return {"data_seed": DATA_SEED, "selection": "random.Random(data_seed).shuffle, then the first n "
            "(methods/reprpo/data.py load_experiment)", "source": cfg["source"], "target": cfg["target"],
            "random": cfg.get("random"), "n_train": cfg["n_train"], "n_eval": n_eval,
            "splits": {k: {"n": len(v), "sha256_16": _sha(v)} for k, v in raw.items()}}


def markdown(result: dict[str, Any]) -> str:
    """The README table: accuracy (base) and ratio per split, sign test p vs DPO."""
    splits = [s for s in SPLITS if any(s in r for r in result["table"])]
    head = ["variant", "seeds"] + [f"{s} acc (base)" for s in splits] + [f"{s} ratio" for s in splits] + \
        [f"{s} vs DPO (+/-, p)" for s in splits]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["table"]:
        cells = [r["label"], str(r["n_seeds"])]
        for s in splits:
            c = r.get(s)
            cells.append(f"{c['acc']:.3f} ± {c['acc_sd']:.3f} ({c['base']:.3f})" if c else "")
        for s in splits:
            c = r.get(s)
            cells.append(f"{c['ratio']:.3f} ± {c['ratio_sd']:.3f}" if c else "")
        for s in splits:
            t = r.get(s, {}).get("vs_dpo")
            cells.append(f"{t['n_better']}/{t['n_worse']}, {t['p_two_sided']:.2g}" if t else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", help="folder holding the run directories")
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", default="methods/reprpo/results")
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    runs = collect(args.runs)
    status_file = Path(args.runs) / "sweep-status.json"
    result = build(runs, args.name, args.note, read_json(status_file) if status_file.exists() else None,
                   source=str(args.runs))
    first = next(iter(runs.values()))
    result["data"] = data_ids(first["config"], first["eval_config"].get("n_eval"))
    out = Path(args.out) / f"{args.name}.json"
    write_result(out, result)
    print(markdown(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
