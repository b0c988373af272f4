"""The VAS evaluation table: base sampling, VAS at several beta, and Best-of-N under one reward.

Every method answers the same prompts with the same sampling seed, so per-prompt rewards are
paired: each row reports its mean reward with a bootstrap interval and its difference from the
base model with a PAIRED bootstrap interval (prompts resampled together). Best-of-N draws sample
j of every prompt with seed `seed + j` (sample 0 is the base run itself) and keeps the sample the
reward likes best; its time counts generating all N samples and scoring them.

Columns: reward (mean, 95% interval), delta vs base (paired 95% interval), diversity
(RE-Control's n-gram formula), coherence (MiniLM cosine of prompt and response, optional),
seconds per prompt.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from torch import Tensor

from interp.best_of import best_of_first_n
from interp.responses import Responses
from interp.validate import check
from methods.vas.decoding import Guide, VASProcessor
from methods.vas.defaults import DEFAULT_TOP_K


@dataclass
class EvalConfig:
    betas: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0])
    best_of: list[int] = field(default_factory=lambda: [2, 4, 8, 16])
    top_k: int = DEFAULT_TOP_K  # the reference's 20 (defaults.py)
    drop_others: bool = False
    max_new_tokens: int = 32
    do_sample: bool = True
    temperature: float = 1.0
    seed: int = 0
    batch_size: int = 16
    chat: bool | None = False
    coherence: bool = True
    n_boot: int = 2000

    def __post_init__(self) -> None:
        check(self, counts=("best_of", "top_k", "max_new_tokens", "batch_size", "n_boot"), positive=("temperature",),
              finite=("betas",))


@dataclass
class Run(Responses):
    """One decoding method's responses (RE-Control's `Outputs` too), plus what names its table row: the beta
    it was guided with and the N of best-of-N; `info` adds columns to the row."""

    beta: float | None = None
    n: int | None = None


def _generate(model: Any, prompts: Sequence[str], cfg: EvalConfig, seed: int, processors: Sequence[Any] = ()) -> Any:
    from interp.generation import generate

    return generate(model, list(prompts), processors=list(processors), max_new_tokens=cfg.max_new_tokens,
                    do_sample=cfg.do_sample, temperature=cfg.temperature, seed=seed, batch_size=cfg.batch_size,
                    chat=cfg.chat, progress=False)


def _scored(reward: Callable, prompts: Sequence[str], texts: list[str]) -> tuple[Tensor, float]:
    t = time.perf_counter()
    r = reward(list(prompts), texts).double().cpu()
    return r, time.perf_counter() - t


def run_base(model: Any, prompts: Sequence[str], reward: Callable, cfg: EvalConfig) -> Run:
    gen = _generate(model, prompts, cfg, cfg.seed)
    r, _ = _scored(reward, prompts, gen.texts)
    return Run("base", gen.texts, r, gen.seconds, beta=0.0)


def run_vas(
    model: Any, prompts: Sequence[str], reward: Callable, guides: Sequence[Guide], cfg: EvalConfig, label: str = "vas"
) -> Run:
    proc = VASProcessor(model, guides, top_k=cfg.top_k, drop_others=cfg.drop_others)
    gen = _generate(model, prompts, cfg, cfg.seed, [proc])
    r, _ = _scored(reward, prompts, gen.texts)
    betas = [g.beta for g in guides]
    return Run(label, gen.texts, r, gen.seconds, beta=betas[0] if len(betas) == 1 else None,
               info={"betas": betas, "mean_abs_bonus": proc.stats["mean_abs_bonus"]})


def run_best_of_n(
    model: Any, prompts: Sequence[str], reward: Callable, ns: Sequence[int], cfg: EvalConfig, base: Run | None = None
) -> list[Run]:
    """Best-of-N for each N in `ns`, sharing samples: the first N of max(ns) seeded samples per prompt."""
    if not cfg.do_sample:
        raise ValueError("Best-of-N needs sampling (do_sample=True): greedy decoding gives N identical responses")
    if not ns:
        return []
    texts, rewards, seconds = [], [], []
    for j in range(max(ns)):
        if j == 0 and base is not None:  # the base run is sample 0 (same seed)
            t, r, s = base.texts, base.rewards, base.seconds + _scored(reward, prompts, base.texts)[1]
        else:
            gen = _generate(model, prompts, cfg, cfg.seed + j)
            r, rs = _scored(reward, prompts, gen.texts)
            t, s = gen.texts, gen.seconds + rs
        texts.append(t)
        rewards.append(r)
        seconds.append(s)
    return [Run(f"best-of-{n}", chosen, best, sum(seconds[:n]), n=n)
            for n, chosen, best in best_of_first_n(texts, rewards, ns)]


def relative_change(row: dict[str, Any], base: dict[str, Any], key: str) -> float | None:
    """(row - base) / |base| of one column, or None where either side lacks it (coherence off) or base is 0."""
    if row.get(key) is None or not base.get(key):
        return None
    return (row[key] - base[key]) / abs(base[key])


def table_row(run: Run, prompts: Sequence[str], base: Run | None, cfg: EvalConfig) -> dict[str, Any]:
    """Mean reward with its interval, paired difference from base, diversity, coherence, seconds per prompt."""
    from interp.metrics import bootstrap_mean, diversity, paired_bootstrap_diff

    m = bootstrap_mean(run.rewards, n_boot=cfg.n_boot, seed=cfg.seed)
    row: dict[str, Any] = {
        "method": run.method, "beta": run.beta, "n": run.n,
        "reward": m.value, "reward_low": m.low, "reward_high": m.high,
        "diversity": diversity(run.texts),
        "seconds_per_prompt": run.seconds / len(prompts),
    }
    if base is not None:
        d = paired_bootstrap_diff(run.rewards, base.rewards, n_boot=cfg.n_boot, seed=cfg.seed)
        row.update(delta=d.value, delta_low=d.low, delta_high=d.high)
    if cfg.coherence:
        from interp.metrics import coherence

        row["coherence"] = coherence(list(prompts), run.texts)
    row.update(run.info)
    return row


def evaluate(
    model: Any,
    prompts: Sequence[str],
    reward: Callable,
    value: Any,
    cfg: EvalConfig,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], list[Run]]:
    """The evaluation table (one row per method) and the runs behind it."""
    from tqdm.auto import tqdm

    jobs = 1 + len(cfg.betas) + (1 if cfg.best_of else 0)
    bar = tqdm(total=jobs, desc="vas evaluate", unit="method", disable=not progress)
    base = run_base(model, prompts, reward, cfg)
    bar.update(1)
    runs = [base]
    for beta in cfg.betas:
        runs.append(run_vas(model, prompts, reward, [Guide(value, float(beta))], cfg))
        bar.update(1)
    if cfg.best_of:
        runs.extend(run_best_of_n(model, prompts, reward, cfg.best_of, cfg, base))
        bar.update(1)
    bar.close()
    rows = [table_row(r, prompts, base, cfg) for r in runs]
    return rows, runs


def choose_beta(
    model: Any,
    prompts: Sequence[str],
    reward: Callable,
    value: Any,
    cfg: EvalConfig,
    max_diversity_drop: float = 0.05,
    max_coherence_drop: float = 0.10,
    progress: bool = True,
) -> dict[str, Any]:
    """The beta to test, chosen on validation `prompts` only: base and VAS at every beta of `cfg.betas`, then
    RE-Control's pre-registered rule (`choose_within_limits`: the largest reward gain whose diversity and
    coherence stay within the given relative drops of base; ties: the smaller beta). Returns the choice,
    the reason and the validation rows."""
    from interp.metrics.selection import choose_within_limits

    if not cfg.coherence:
        raise ValueError("choosing beta on validation needs the coherence column (EvalConfig.coherence=True): the "
                         "rule keeps coherence within a margin of base")
    if not cfg.betas:
        raise ValueError("choosing beta needs at least one candidate in EvalConfig.betas")
    rows, _ = evaluate(model, prompts, reward, value, replace(cfg, best_of=[]), progress=progress)
    base = rows[0]
    points = [{**r, "reward_gain": r["delta"]} for r in rows[1:]]
    best, ok, reason = choose_within_limits(base, points, "reward_gain", max_diversity_drop, max_coherence_drop,
                                            strength=lambda p: p["beta"])
    return {"beta": best["beta"], "reason": reason, "feasible": [p["beta"] for p in ok], "n_prompts": len(prompts),
            "max_diversity_drop": max_diversity_drop, "max_coherence_drop": max_coherence_drop, "rows": rows}

