"""What `interp re-control run|evaluate` prints: the evaluation table and the paired difference, else the metrics."""
from __future__ import annotations

import json
from typing import Any


def report(results: dict[str, dict[str, Any]]) -> None:
    """The last step's metrics; the evaluate step's as a table."""
    if not results:
        return
    metrics = list(results.values())[-1]
    if "table" in metrics:
        print_table(metrics)
    else:
        print(json.dumps(metrics, indent=2))


def print_table(metrics: dict) -> None:
    from interp.text_table import table

    rows = []
    for r in metrics["table"]:
        row = {"method": r["method"], "reward [95% CI]": f"{r['reward']:+.3f} [{r['reward_low']:+.3f}, {r['reward_high']:+.3f}]",
               "diversity": r["diversity"], "coherence": r["coherence"]}
        if "win_rate" in r:
            row["win rate vs chosen"] = f"{r['win_rate']:.3f} [{r['win_rate_low']:.3f}, {r['win_rate_high']:.3f}]"
        row["s/prompt"] = r["seconds_per_prompt"]
        rows.append(row)
    print(f"RE-Control on {metrics['model']}, {metrics['dataset']}, reward {metrics['reward']}, {metrics['n_eval']} test prompts")
    print(table(rows))
    d = metrics["re_control_minus_base"]
    print(f"\nRE-Control minus base, mean reward: {d['difference']:+.4f} (paired bootstrap {int(d['ci'] * 100)}% "
          f"interval [{d['low']:+.4f}, {d['high']:+.4f}], {d['n']} prompts)")
    if "static_editing" in metrics:
        s = metrics["static_editing"]
        print(f"static editing: {s['source']}; scale {s['best_scale']} x mean state norm (tuned on validation)")
