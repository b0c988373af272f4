"""Composition: two value estimators steered at once, each with its own beta, on a grid of betas.

For estimators (V_1, R_1) and (V_2, R_2), every cell (beta_1, beta_2) decodes with
logits += beta_1 (Q_1 - mean Q_1) + beta_2 (Q_2 - mean Q_2) and scores the responses with BOTH
rewards. Composition works when each reward follows its own weight: along every line of the grid
with beta_2 fixed, R_1 rises with beta_1 (Spearman over the line), and likewise R_2 with beta_2.
Cells share the sampling seed, so differences between cells are paired.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from methods.vas.decoding import Guide
from methods.vas.evaluate import EvalConfig, run_vas


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    if len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def _nanmin(xs: Sequence[float]) -> float:
    """The smallest value, NaN when any line had no variation to rank."""
    return float("nan") if any(x != x for x in xs) else min(xs)


def composition_grid(
    model: Any,
    prompts: Sequence[str],
    values: Sequence[Any],
    rewards: Sequence[Callable],
    reward_names: Sequence[str],
    betas_1: Sequence[float],
    betas_2: Sequence[float],
    cfg: EvalConfig,
    progress: bool = True,
) -> dict[str, Any]:
    """Mean of both rewards in every (beta_1, beta_2) cell, and the per-axis Spearman correlations."""
    from tqdm.auto import tqdm

    from interp.metrics import bootstrap_mean, diversity

    if len(values) != 2 or len(rewards) != 2:
        raise ValueError(
            f"the composition grid takes exactly two value models and two rewards, got {len(values)} and {len(rewards)}"
        )
    cells = []
    bar = tqdm(total=len(betas_1) * len(betas_2), desc="vas grid", unit="cell", disable=not progress)
    for b1 in betas_1:
        for b2 in betas_2:
            guides = [Guide(values[0], float(b1), "1"), Guide(values[1], float(b2), "2")]
            run = run_vas(model, prompts, rewards[0], guides, cfg, label="vas")
            r2 = rewards[1](list(prompts), run.texts).double()
            m1 = bootstrap_mean(run.rewards, n_boot=cfg.n_boot, seed=cfg.seed)
            m2 = bootstrap_mean(r2, n_boot=cfg.n_boot, seed=cfg.seed)
            cells.append({
                "beta_1": float(b1), "beta_2": float(b2),
                "reward_1": m1.value, "reward_1_low": m1.low, "reward_1_high": m1.high,
                "reward_2": m2.value, "reward_2_low": m2.low, "reward_2_high": m2.high,
                "diversity": diversity(run.texts), "seconds_per_prompt": run.seconds / len(prompts),
            })
            bar.update(1)
    bar.close()
    cell = {(c["beta_1"], c["beta_2"]): c for c in cells}
    axis_1 = [_spearman(list(betas_1), [cell[(float(b1), float(b2))]["reward_1"] for b1 in betas_1]) for b2 in betas_2]
    axis_2 = [_spearman(list(betas_2), [cell[(float(b1), float(b2))]["reward_2"] for b2 in betas_2]) for b1 in betas_1]
    return {
        "rewards": list(reward_names), "betas_1": [float(b) for b in betas_1], "betas_2": [float(b) for b in betas_2],
        "cells": cells,
        "spearman_axis_1": axis_1, "spearman_axis_2": axis_2,  # one per line of the grid
        "spearman_axis_1_min": _nanmin(axis_1), "spearman_axis_2_min": _nanmin(axis_2),
    }
