"""VAS in `interp demo`: its compact settings and the rows it adds to the demo's table.

Two sizes: compact (a real model, the default SmolLM2-135M-Instruct, within the demo's 20 minutes on
2 CPU cores; the comment on each size says why) and tiny (stories260k and the tiny-random models:
seconds).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.io import read_json
from interp.models.registry import is_tiny


def demo_config(model: str) -> Any:
    from methods.vas.evaluate import EvalConfig
    from methods.vas.pipeline import VASConfig
    from methods.vas.train import TrainConfig
    from methods.vas.value_model import ValueConfig

    if is_tiny(model):
        return VASConfig(
            model=model,
            value=ValueConfig(backbone=model, adapter="lora", head="linear"),
            train=TrainConfig(epochs=1, seed=0),
            eval=EvalConfig(betas=[8.0], best_of=[], max_new_tokens=12, chat=False, coherence=False, n_boot=200),
            n_train_prompts=48, n_eval_prompts=8, max_new_tokens=16,
        )
    return VASConfig(
        model=model,
        value=ValueConfig(
            backbone=model, adapter="lora", head="linear",
            n_layers=6,  # the first 6 of 30 blocks: V costs a fifth of the base model inside the decoding loop
        ),
        # keep the last epoch: with ~10 validation rollouts "best" often keeps the untrained (zero) head
        train=TrainConfig(epochs=4, batch_size=16, lr=1e-3, val_fraction=0.1, keep="last", seed=0),
        eval=EvalConfig(
            betas=[32.0],  # a 384-rollout run on this model moved the reward at beta 32 and not at 2 or 8
            best_of=[],  # Best-of-N costs N generations per prompt; the full `interp vas evaluate` has it
            top_k=10, max_new_tokens=24, batch_size=16, chat=False, coherence=True, n_boot=1000,
        ),
        n_train_prompts=96,  # 96 sampled responses x 24 tokens: TD targets for every prefix (full run: 384+)
        n_eval_prompts=32,  # base and VAS answer the same 32 prompts with the same seed: a paired interval
        max_new_tokens=24,
    )


def summarize(run_dir: Path) -> list[dict[str, Any]]:
    """The reward gain of VAS at each beta over base sampling (paired interval) and the value model's Spearman."""
    from methods.vas.pipeline import TABLE_FILE

    rel = f"evaluate/{TABLE_FILE}"
    t = read_json(run_dir / rel)
    base = next(r for r in t["rows"] if r["method"] == "base")
    rows = []
    for i, r in enumerate(t["rows"]):
        if r["method"] != "vas":
            continue
        rows.append({"effect": f"reward gain at beta={r['beta']:g} over base sampling ({t['reward']})",
                     "value": r["delta"], "source": f"{rel}:rows[{i}].delta", "low": r["delta_low"],
                     "high": r["delta_high"], "detail": f"base {base['reward']:.3f} -> {r['reward']:.3f}",
                     "n": r.get("n")})
    rel = "train/metrics.json"
    m = read_json(run_dir / rel)
    rows.append({"effect": "value model: validation Spearman(V at last token, reward)", "value": m["val_spearman_end"],
                 "source": f"{rel}:val_spearman_end", "detail": f"{m['n_train']} train / {m['n_val']} val rollouts"})
    return rows
