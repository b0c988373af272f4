"""A VAS run directory as a result file (`interp.results`): what its README tables show.

Rows: the test table (base, VAS at each tested beta, Best-of-N), labelled `test: <method> ...`, and, when
beta was chosen on validation prompts (`evaluate/choice.json`), the validation rows it was chosen from,
labelled `validation: ...`; the value model's training metrics go into the notes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.io import read_json, read_jsonl
from interp.results import result_record, step_configs

METHOD = "vas"


def _label(part: str, row: dict[str, Any]) -> str:
    if row["method"] == "vas":
        return f"{part}: VAS beta {row['beta']:g}"
    return f"{part}: {row['method']}"


def _change(row: dict[str, Any], base: dict[str, Any]) -> dict[str, float]:
    """Diversity and coherence relative to base, as the tables print them."""
    from methods.vas.evaluate import relative_change

    changes = {f"{k}_change": relative_change(row, base, k) for k in ("diversity", "coherence")}
    return {k: v for k, v in changes.items() if v is not None}


def result_from_run(run_dir: str | Path) -> dict[str, Any]:
    from methods.vas.pipeline import CHOICE_FILE, TABLE_FILE

    run_dir = Path(run_dir)
    config = step_configs(run_dir, ["rollouts", "train", "evaluate"])
    test = read_json(run_dir / "evaluate" / TABLE_FILE)["rows"]
    table = [{"label": _label("test", r), **r, **_change(r, test[0])} for r in test]
    notes: dict[str, Any] = {"value_model": read_json(run_dir / "train" / "metrics.json")}
    choice_file = run_dir / "evaluate" / CHOICE_FILE
    if choice_file.exists():
        choice = read_json(choice_file)
        table += [{"label": _label("validation", r), **r, **_change(r, choice["rows"][0])} for r in choice["rows"]]
        notes["choice"] = {k: v for k, v in choice.items() if k != "rows"}
    prompts = sorted({g["prompt"] for g in read_jsonl(run_dir / "evaluate" / "generations.jsonl")})
    data = {"eval_prompts": config["evaluate"].get("prompts"), "eval_prompts_sha": config["evaluate"].get("prompts_sha"),
            "n_eval_prompts": len(prompts), "choose_beta": config["evaluate"].get("choose_beta"),
            "seed": config["evaluate"].get("seed"), "train_seed": config["train"].get("train", {}).get("seed")}
    return result_record(METHOD, run_dir, config, data, table, notes)
