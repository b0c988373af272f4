"""VAS in `interp demo`: its compact settings and the rows it adds to the demo's table.

Two sizes: compact (a real model, the default SmolLM2-135M-Instruct, within the demo's 15 minutes on
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
            betas=[2.0, 8.0, 32.0],  # candidates; one is chosen on validation prompts (n_val_prompts below)
            best_of=[],  # Best-of-N costs N generations per prompt; the full `interp vas evaluate` has it
            max_new_tokens=24, batch_size=16, chat=False, coherence=True, n_boot=1000,  # top_k: the reference's 20
            # greedy decoding of the adjusted logits, base greedy too (as RE-Control's row): sampled responses at this
            # size diverge after a token or two whatever the value says, and 64 sampled pairs measured noise
            # (chosen beta 8: -0.080 [-0.187, +0.032]); greedily, validation showed beta 8 at +0.298 [+0.143, +0.468]
            do_sample=False,
        ),
        n_train_prompts=96,  # 96 sampled responses x 24 tokens: TD targets for every prefix (full run: 384+)
        # beta by RE-Control's rule (the largest gain within the margins below) on 32 validation prompts; the test
        # prompts never choose anything
        n_val_prompts=32,
        # margins 15% / 15% (the method's defaults are 5% / 10%): 32 validation prompts move n-gram diversity and
        # coherence by several percent on their own, and greedy VAS trades diversity for reward (beta 8: -13%);
        # set after that validation look, never after a test number
        max_diversity_drop=0.15, max_coherence_drop=0.15,
        n_eval_prompts=64,  # base and VAS answer the same 64 prompts with the same seed: a paired interval (32 left +0.10 [-0.13, +0.31])
        max_new_tokens=24,
    )


def summarize(run_dir: Path) -> list[dict[str, Any]]:
    """The reward gain of VAS at each beta over base sampling (paired interval) and the value model's Spearman."""
    from methods.vas.pipeline import CHOICE_FILE, TABLE_FILE

    rel = f"evaluate/{TABLE_FILE}"
    t = read_json(run_dir / rel)
    settings = read_json(run_dir / "evaluate" / "config.json")
    n = settings["n_prompts"]  # a row's "n" is Best-of-N's N, not the sample
    decoding = "sampling" if settings.get("do_sample", True) else "greedy"
    chosen = run_dir / "evaluate" / CHOICE_FILE
    how = f", chosen on {read_json(chosen)['n_prompts']} validation prompts" if chosen.exists() else ""
    base = next(r for r in t["rows"] if r["method"] == "base")
    rows = []
    for i, r in enumerate(t["rows"]):
        if r["method"] != "vas":
            continue
        rows.append({"effect": f"reward gain at beta={r['beta']:g}{how}, over base {decoding} ({t['reward']}, {n} test prompts)",
                     "value": r["delta"], "source": f"{rel}:rows[{i}].delta", "low": r["delta_low"],
                     "high": r["delta_high"], "detail": f"base {base['reward']:.3f} -> {r['reward']:.3f}, diversity {_change(r, base, 'diversity')}, "
                               f"coherence {_change(r, base, 'coherence')}", "n": n})
    rel = "train/metrics.json"
    m = read_json(run_dir / rel)
    rows.append({"effect": "value model: validation Spearman(V at last token, reward)", "value": m["val_spearman_end"],
                 "source": f"{rel}:val_spearman_end", "detail": f"{m['n_train']} train / {m['n_val']} val rollouts"})
    return rows


def _change(row: dict[str, Any], base: dict[str, Any], key: str) -> str:
    """A column's relative change from base, or 'not measured'."""
    from methods.vas.evaluate import relative_change

    change = relative_change(row, base, key)
    return "not measured" if change is None else f"{change:+.0%}"

