"""The ReprPO preference-generalisation table from run directories (`interp reprpo train` writes eval/).

One row per (run, split) from eval/splits.json, labelled by eval/metrics.json (method, transform,
seed, source -> target); `aggregate` takes mean and sample std (n-1; 0 for one seed) over seeds,
as methods/reprpo/compare.py does for its report.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from app.explorer.rundata import MissingArtifact, StepInfo, check_shape, discover, read_json
from app.explorer.shapes import ANY, INT, NUM, NUM_OR_NULL, STR, Opt
from methods.reprpo.pipeline import SPLITS_FILE

SPLITS = ("source_train", "source_test", "target_test", "random_test")
_SPLIT = {"base_accuracy_mean": NUM, "adapter_accuracy_mean": NUM, "ratio_mean": NUM,
          "p_sign_test_mean": Opt(NUM_OR_NULL), "n_scored": Opt(NUM_OR_NULL)}
SPLITS_SHAPE = {split: Opt(_SPLIT) for split in SPLITS}
LABELS = {"method": STR, "transform": STR, "seed": INT, "source": Opt(ANY), "target": Opt(ANY)}  # from either file


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
    splits = read_json(step.path / SPLITS_FILE, cmd, dict, SPLITS_SHAPE)
    train = (step.config or {}).get("train", {})
    check_shape(step.path / "config.json", cmd, {"train": train}, {"train": {}})  # an object, whatever it holds
    labels = {k: m[k] if k in m else train.get(k) for k in LABELS}  # the metrics' labels, else the training config's
    check_shape(step.path / "metrics.json", cmd, {k: v for k, v in labels.items() if v is not None or k in m}, LABELS)
    rows = []
    for split in SPLITS:
        if split not in splits:
            continue
        s = splits[split]
        rows.append({
            "run": step.run, "method": labels["method"], "transform": labels["transform"], "seed": labels["seed"],
            "shift": f"{labels['source']} → {labels['target']}",
            "split": split, "base_accuracy": s["base_accuracy_mean"], "adapter_accuracy": s["adapter_accuracy_mean"],
            "ratio": s["ratio_mean"], "p_sign_test": s.get("p_sign_test_mean"), "n_scored": s.get("n_scored"),
        })
    if not rows:
        raise MissingArtifact(step.path / SPLITS_FILE, cmd, f"has none of the splits {', '.join(SPLITS)}")
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
