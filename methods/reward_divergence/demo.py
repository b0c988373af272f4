"""Reward divergence in `interp demo`: its compact settings and the rows it adds to the demo's table.

Two sizes: compact (a real model, the default SmolLM2-135M-Instruct, within the demo's 15 minutes on
2 CPU cores; the comment on each size says why) and tiny (stories260k and the tiny-random models, the
CI settings of `PipelineConfig.small`: seconds).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.io import read_json
from interp.models.registry import is_tiny


def demo_config(model: str) -> Any:
    from methods.reward_divergence.config import (
        CollectConfig, DivergenceConfig, FeatureConfig, PipelineConfig, ProbeConfig, RLHFConfig, SAEStepConfig,
    )

    if is_tiny(model):
        cfg = PipelineConfig.small(model)
        cfg.features.n_permutations = 100
        return cfg
    return PipelineConfig(
        rlhf=RLHFConfig(
            # the settings of the 2-core acceptance run, at 32 steps: GRPO with LoRA on q/v/up/down at
            # lr 1e-3, 2 prompts x 4 completions of 16 tokens per step (the costliest step of the demo;
            # 40 steps raised held-out vader-utility by +0.25 [+0.14, +0.36])
            policy=model, lora_r=16, lora_targets=("q_proj", "v_proj", "up_proj", "down_proj"), lr=1e-3,
            steps=32, prompts_per_step=2, num_generations=4, max_new_tokens=16,
            n_eval_prompts=64,  # base vs tuned on the same 64 held-out prefixes: a paired interval
            save_steps=8, n_boot=1000,
        ),
        divergence=DivergenceConfig(top_k=2, n_texts=48, max_length=32),  # SAEs on the 2 most-changed layers
        # ~8k training tokens per model and layer (the full run: 6,000 texts); both models read every text
        collect=CollectConfig(n_train_texts=400, n_eval_texts=100, max_length=32, batch_size=16),
        saes=SAEStepConfig(
            expansions=(1.0, 4.0),  # two dictionary sizes, so MMCS small-vs-big is measured
            k=64, lr=1e-3, batch_size=512,
            training_tokens=60_000,  # ~7 passes over the collected tokens, 117 steps per SAE, 8 SAEs
            dead_feature_window=100, ce_texts=16, mmcs_sims=2,
        ),
        features=FeatureConfig(n_permutations=200, max_tokens=3000, top_contexts=5),  # p < 0.01 needs >= 100
        probe=ProbeConfig(max_tokens=3000),
    )


def summarize(run_dir: Path) -> list[dict[str, Any]]:
    """The RL step's reward gain (paired interval), the layers that moved most, SAE quality, reward features, the probe."""
    rows: list[dict[str, Any]] = []
    rel = "rlhf/metrics.json"
    m = read_json(run_dir / rel)
    reward = read_json(run_dir / "rlhf" / "config.json").get("reward", "reward")
    d = m["tuned_minus_base"]
    rows.append({"effect": f"RL-tuned minus base reward ({reward}, {m['n_prompts']} held-out prompts)",
                 "value": d["mean"], "source": f"{rel}:tuned_minus_base.mean", "low": d["low"], "high": d["high"],
                 "detail": f"base {m['base_reward']['mean']:.3f} -> {m['tuned_reward']['mean']:.3f}",
                 "n": m["n_prompts"]})
    rel = "divergence/metrics.json"
    m = read_json(run_dir / rel)
    layers = m["layers"]
    rows.append({"effect": f"top divergent layers (by {m['rank_by']})", "value": ", ".join(str(x) for x in layers),
                 "source": f"{rel}:layers",
                 "detail": "param divergence " + ", ".join(f"{m['param_per_layer'][x]:.3g}" for x in layers)})
    rel = "saes/metrics.json"
    saes = read_json(run_dir / rel)["saes"]
    for e in sorted({s["expansion"] for s in saes}):
        ev = [s["explained_variance"] for s in saes if s["expansion"] == e]
        rows.append({"effect": f"SAE explained variance, {e:g}x d_model (mean of {len(ev)})", "value": sum(ev) / len(ev),
                     "source": f"{rel}:saes[expansion={e:g}].explained_variance",
                     "detail": f"min {min(ev):.3f}, max {max(ev):.3f}"})
    rel = "features/metrics.json"
    counts = read_json(run_dir / rel)["counts"]
    totals = {name: sum(n for site in by_site.values() for n in site.values()) for name, by_site in counts.items()}
    rows.append({"effect": "reward-related SAE features (all SAEs), base / tuned",
                 "value": f"{totals.get('base', 0)} / {totals.get('tuned', 0)}", "source": f"{rel}:counts",
                 "detail": "|corr with token valence| > threshold, permutation p < 0.01"})
    rel = "probe/metrics.json"
    p = read_json(run_dir / rel)
    if "tuned" in p:
        t = p["tuned"]
        rows.append({"effect": "implicit-reward probe: Kendall tau on held-out words (tuned)", "value": t["kendall_tau"],
                     "source": f"{rel}:tuned.kendall_tau",
                     "detail": f"R^2 {t['r2_test']:.3f}, {t['n_recovered']}/{t['n_test_words']} words recovered"})
    return rows
