"""A reward-divergence run directory as a result file (`interp.results`): what its README tables show.

Rows: the held-out reward of base and tuned (rlhf), one row per (model, site, dictionary size) with the
SAE's quality and its reward-related feature counts (uncorrected, and at the false discovery rate by
Benjamini-Hochberg), and one row per (probe, model) with Kendall's tau and p on held-out words.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.io import read_json
from interp.results import result_record, step_configs
from methods.reward_divergence.artifacts import PROBE_FILE, SAE_TABLE_FILE

METHOD = "reward_divergence"


def result_from_run(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    config = step_configs(run_dir, ["rlhf", "divergence", "collect", "saes", "features", "probe"])
    m = {s: read_json(run_dir / s / "metrics.json") for s in config}
    table: list[dict[str, Any]] = []
    rl = m["rlhf"]
    table.append({"label": "held-out reward, tuned minus base", "n_prompts": rl.get("n_prompts"),
                  **{f"base_{k}": v for k, v in rl["base_reward"].items()},
                  **{f"tuned_{k}": v for k, v in rl["tuned_reward"].items()},
                  **{f"diff_{k}": v for k, v in rl["tuned_minus_base"].items()}})
    sae_rows = {(r["model"], r["site"], float(r["expansion"])): r for r in read_json(run_dir / "saes" / SAE_TABLE_FILE)}
    for s in m["features"]["summaries"]:
        key = (s["model"], s["site"], float(s["expansion"]))
        q = sae_rows.get(key, {})
        table.append({"label": f"{s['model']} {s['site']} x{float(s['expansion']):g}",
                      **{k: v for k, v in s.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
                      **{f"sae_{k}": v for k, v in q.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}})
    probe = read_json(run_dir / "probe" / PROBE_FILE)
    for name, r in probe.items():
        keep = ("kendall_tau", "kendall_p", "n_test_words", "r2_test", "alpha", "n_recovered")
        table.append({"label": f"ridge probe, {name}", **{k: r[k] for k in keep if k in r}})
        if "triple" in r:
            t = r["triple"]
            table.append({"label": f"paper's probe, {name}",
                          **{k: t[k] for k in ("kendall_tau", "kendall_p", "n_test_words", "r2_test", "alpha",
                                               "kendall_tau_target", "kendall_p_target", "n_pairs")}})
    texts = read_json(run_dir / "collect" / "texts.json")
    from methods.reward_divergence.texts import SPLIT_SEED

    data = {"text_split_seed": SPLIT_SEED, "rlhf_seed": config["rlhf"].get("seed"),
            "collect_seed": config["collect"].get("seed"), "layers": m["divergence"].get("layers"),
            "n_train_texts": len(texts["train"]), "held_out_texts": texts["eval"]}
    notes = {"fdr": m["features"].get("fdr"), "counts": m["features"].get("counts"),
             "counts_fdr": m["features"].get("counts_fdr")}
    return result_record(METHOD, run_dir, config, data, table, notes)
