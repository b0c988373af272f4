"""An RE-Control run directory as a result file (`interp.results`): what its README tables show.

Rows: each evaluated method on the test prompts (reward with its bootstrap interval, minus base with
the paired interval, diversity and coherence with their change from base, win rate, seconds per
prompt), then each validation trade-off point (value function, step size x steps, reward gain with
its paired interval, diversity and coherence changes, and whether it was within the margins).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.io import read_json
from interp.results import result_record, step_configs

METHOD = "re_control"


def _label(row: dict[str, Any], value_kind: str) -> str:
    m = row["method"]
    if m == "static editing":
        return f"static editing (scale {row['scale']:g})"
    if m.startswith("best-of-"):
        return f"Best-of-{m.split('-')[-1]}"
    if m == "RE-Control":
        return f"RE-Control ({value_kind} state, {row['step_size']:g} x {row['n_steps']})"
    return m


def _value_kind(folder: Path) -> str:
    for f in (folder / "value.json", folder / "train-value" / "value.json"):
        if f.exists():
            return "standardised" if read_json(f).get("standardize") else "raw"
    raise FileNotFoundError(f"no value function (value.json) at {folder}")


def _changes(row: dict[str, Any], base: dict[str, Any]) -> dict[str, float]:
    return {f"{k}_change": (row[k] - base[k]) / abs(base[k]) for k in ("diversity", "coherence") if base.get(k)}


def _value_rows(runs: dict[str, Path]) -> list[dict[str, Any]]:
    """One row per value function: how well V(s_T) and V(s_0) rank the validation trajectories' rewards."""
    rows = []
    for tag, rd in runs.items():
        cfg = read_json(rd / "train-value" / "config.json")
        m = read_json(rd / "train-value" / "metrics.json")
        kind = "standardised" if cfg.get("standardize") else "raw"
        grad = "semi-gradient" if cfg.get("detach_target", True) else "full gradient"
        rows.append({"label": f"value function: {kind} state, {grad}", "run": tag,
                     **{k: m[k] for k in ("val_spearman", "val_spearman_first_state", "val_loss", "val_terminal_mse",
                                          "train_spearman", "best_epoch", "n_train", "n_val") if k in m}})
    return rows


def result_from_run(run_dir: str | Path, others: list[str | Path] = (), notes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The result record of a finished RE-Control run (collect, label, train-value, evaluate); `others`: more run
    directories trained on the same trajectories, whose value functions get a row each; `notes`: extra
    measurements to keep with the record."""
    run_dir = Path(run_dir)
    if (run_dir / "transfer" / "metrics.json").exists():
        return _transfer_record(run_dir)
    config = step_configs(run_dir, ["collect", "label", "train-value", "evaluate"])
    metrics = read_json(run_dir / "evaluate" / "metrics.json")
    rows = metrics["table"]
    base = rows[0]
    kinds = {"this run": _value_kind(run_dir / "train-value")}
    for path in config["evaluate"].get("compare_values", []):
        kinds[str(path)] = _value_kind(Path(path))
        config[f"train-value of {path}"] = step_configs(Path(path), ["train-value"])["train-value"]
    selection = metrics.get("control_selection", {})
    chosen_kind = kinds[selection.get("value", "this run")]
    table = [{"label": _label(r, chosen_kind), **r, **_changes(r, base)} for r in rows]

    curves = metrics.get("tradeoff_candidates") or ({"this run": metrics["tradeoff"]} if "tradeoff" in metrics else {})
    feasible = {tuple(f) if len(f) > 2 else (*f, "this run") for f in selection.get("feasible", [])}
    for tag, curve in curves.items():
        vb = curve["base"]
        for p in curve["points"]:
            table.append({"label": f"validation: {kinds[tag]} state, {p['step_size']:g} x {p['n_steps']}",
                          "value_function": tag, **p, **_changes(p, vb),
                          "within_margins": (p["step_size"], p["n_steps"], tag) in feasible,
                          "chosen": bool(selection) and (p["step_size"], p["n_steps"], tag) ==
                          (selection["step_size"], selection["n_steps"], selection.get("value", "this run"))})
    if curves:
        vb = next(iter(curves.values()))["base"]
        table.append({"label": "validation: base (greedy)", **vb})

    value_runs = {"this run": run_dir, **{str(p): Path(p) for p in config["evaluate"].get("compare_values", [])},
                  **{str(p): Path(p) for p in others}}
    table.extend(_value_rows(value_runs))
    for p in others:
        config[f"train-value of {p}"] = step_configs(Path(p), ["train-value"])["train-value"]

    data = {k: metrics["data"][k] for k in ("test_ids", "validation_ids") if k in metrics.get("data", {})}
    data.update(dataset=config["collect"]["dataset"], split_seed=config["collect"]["split_seed"],
                fractions=config["collect"]["fractions"], collect_seed=config["collect"]["seed"],
                train_seed=config["train-value"]["train_seed"], eval_seed=config["evaluate"]["eval_seed"],
                n_trajectories=read_json(run_dir / "collect" / "metrics.json").get("n_trajectories"))
    notes = {**(notes or {}), "re_control_minus_base": metrics["re_control_minus_base"], "control": metrics["control"]}
    for key in ("control_selection", "test_limits", "static_editing"):
        if key in metrics:
            notes[key] = {k: v for k, v in metrics[key].items() if k != "validation_by_scale"} \
                if key == "static_editing" else metrics[key]
    judge = config["label"]["reward"]
    if judge.startswith("rm:"):
        rm = Path(judge[3:])
        if (rm / "train" / "metrics.json").exists():
            notes["judge"] = {"path": str(rm), "train_config": {k: v for k, v in read_json(rm / "train" / "config.json").items()
                                                                  if k != "versions"},
                              "metrics": read_json(rm / "train" / "metrics.json")}
    value = read_json(run_dir / "train-value" / "metrics.json")
    notes["value_function"] = {k: value[k] for k in ("val_spearman", "val_spearman_first_state", "best_epoch",
                                                      "n_train", "n_val") if k in value}
    return result_record(METHOD, run_dir, config, data, table, notes)


def _transfer_record(run_dir: Path) -> dict[str, Any]:
    """A transfer check (transfer.py): base and RE-Control on prompts nothing was chosen on."""
    config = step_configs(run_dir, ["transfer"])
    m = read_json(run_dir / "transfer" / "metrics.json")
    base = m["table"][0]
    cfg = config["transfer"]
    table = [{"label": "transfer: base (greedy)", **base},
             {"label": f"transfer: RE-Control ({cfg['step_size']:g} x {cfg['n_steps']})", **m["table"][1],
              **_changes(m["table"][1], base)}]
    data = {"prompt_ids": m["ids"], "prompts": cfg["prompts"], "seed": cfg["seed"]}
    notes = {"re_control_minus_base": m["re_control_minus_base"], "value_function": {
        k: m["value_function"][k] for k in ("val_spearman", "val_spearman_first_state", "best_epoch") if k in m["value_function"]}}
    return result_record(METHOD, run_dir, config, data, table, notes)
