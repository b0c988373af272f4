"""The ReprPO preference-generalisation table from run directories (`interp reprpo train` writes eval/).

One row per (run, split) from eval/splits.json, labelled by eval/metrics.json (method, transform,
seed, source -> target); `aggregate` takes mean and sample std (n-1; 0 for one seed) over seeds,
as methods/reprpo/compare.py does for its report.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from app.explorer.rundata import MissingArtifact, StepInfo, discover, read_json

SPLITS = ("source_train", "source_test", "target_test", "random_test")


def reprpo_evals(root: Path, steps: list[StepInfo] | None = None) -> list[StepInfo]:
    """The `eval` steps of ReprPO runs (their config holds the training config under 'train')."""
    steps = discover(root) if steps is None else steps
    train_runs = {s.run for s in steps if s.step == "train" and "method" in (s.config or {}) and "transform" in (s.config or {})}
    return [s for s in steps if s.step == "eval" and (isinstance((s.config or {}).get("train"), dict) or s.run in train_runs)]


def command(root: Path, run: str, force: bool) -> str:
    return (f"interp reprpo train --run {run} --runs-dir {root}{' --force' if force else ''} "
            "(with the options the run was trained with)")


def run_rows(root: Path, step: StepInfo) -> list[dict]:
    """One row per split of one evaluated run."""
    cmd = command(root, step.run, force=(step.path / "metrics.json").exists())
    m = read_json(step.path / "metrics.json", cmd, dict)  # the mark of a finished evaluation
    splits = read_json(step.path / "splits.json", cmd, dict)
    train = (step.config or {}).get("train", {})
    rows = []
    for split in SPLITS:
        if split not in splits:
            continue
        s = splits[split]
        try:
            rows.append({
                "run": step.run, "method": m.get("method", train.get("method")),
                "transform": m.get("transform", train.get("transform")), "seed": m.get("seed", train.get("seed")),
                "shift": f"{m.get('source', train.get('source'))} → {m.get('target', train.get('target'))}",
                "split": split, "base_accuracy": s["base_accuracy_mean"], "adapter_accuracy": s["adapter_accuracy_mean"],
                "ratio": s["ratio_mean"], "p_sign_test": s.get("p_sign_test_mean"), "n_scored": s.get("n_scored"),
            })
        except KeyError as e:
            raise MissingArtifact(step.path / "splits.json", cmd, f"lacks {e} for split {split}") from e
    if not rows:
        raise MissingArtifact(step.path / "splits.json", cmd, f"has none of the splits {', '.join(SPLITS)}")
    return rows


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of the ratio and accuracies, per (shift, method, transform, split)."""
    keys = ["shift", "method", "transform", "split"]
    g = table.groupby(keys, sort=False)
    out = g.agg(n_seeds=("seed", "nunique"), base_accuracy=("base_accuracy", "mean"),
                adapter_accuracy=("adapter_accuracy", "mean"), ratio_mean=("ratio", "mean"),
                ratio_std=("ratio", lambda x: float(x.std(ddof=1)) if len(x) > 1 else 0.0)).reset_index()
    out["label"] = out["method"] + " / " + out["transform"]
    order = {s: i for i, s in enumerate(SPLITS)}
    return out.sort_values(["shift", "label", "split"], key=lambda c: c.map(order) if c.name == "split" else c,
                           kind="stable").reset_index(drop=True)
