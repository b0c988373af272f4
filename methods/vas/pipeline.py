"""VAS as run-directory steps (the contract with the explorer), used by `interp vas ...` and tests.

  OUT/rollouts/   rollouts.jsonl (base-model samples with rewards), metrics.json
  OUT/train/      value.safetensors, value.json, history.json, metrics.json (checkpoints/ while unfinished)
  OUT/evaluate/   table.json, generations.jsonl, metrics.json
  OUT/generate/   generations.jsonl, metrics.json
  OUT/grid/       grid.json, metrics.json (composition of two estimators)

Each step writes config.json first and metrics.json last; a finished step with the same config
is skipped, another config is refused unless `force`.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from interp import distributed
from interp.checkpoint import Checkpoints
from interp.io import read_json, write_json, write_jsonl
from interp.runs import Step, open_step
from methods.vas.decoding import Guide, VASProcessor
from methods.vas.evaluate import EvalConfig, evaluate
from interp.rewards import get_reward
from methods.vas.rollouts import load_rollouts, reward_summary, sample_rollouts, save_rollouts
from methods.vas.train import TrainConfig, train_value_model
from methods.vas.value_model import ValueConfig, ValueModel


def prompts_digest(prompts: Sequence[str]) -> str:
    """A short hash of the prompt list, so a config names exactly which prompts it used."""
    return hashlib.sha256(json.dumps(list(prompts)).encode("utf-8")).hexdigest()[:16]


def train(
    out: str | Path,
    model: Any,
    prompts: Sequence[str],
    reward_name: str,
    value_cfg: ValueConfig,
    train_cfg: TrainConfig,
    samples_per_prompt: int = 1,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    batch_size: int = 32,
    chat: bool | None = False,
    prompt_source: str = "",
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Steps rollouts + train; returns the train step's metrics (the value model is OUT/train)."""
    out = Path(out)
    t0 = time.perf_counter()
    roll_cfg = {
        "model": model.spec, "reward": reward_name, "prompts": prompt_source, "n_prompts": len(prompts),
        "prompts_sha": prompts_digest(prompts), "samples_per_prompt": samples_per_prompt,
        "max_new_tokens": max_new_tokens, "temperature": temperature, "seed": train_cfg.seed, "chat": chat,
    }
    roll = distributed.open_step(out, "rollouts", roll_cfg, force=force)
    if not roll.done and distributed.is_main():  # one seeded sampling run (other processes wait for it)
        reward = get_reward(reward_name)
        rollouts = sample_rollouts(model, prompts, reward, samples_per_prompt, max_new_tokens, temperature,
                                   train_cfg.seed, batch_size, chat, progress)
        save_rollouts(roll.file("rollouts.jsonl"), rollouts)
        roll.finish({**reward_summary(rollouts), "seconds": time.perf_counter() - t0})
    distributed.barrier()
    rollouts = load_rollouts(roll.file("rollouts.jsonl"))

    step = distributed.open_step(out, "train", {"rollouts": roll_cfg, "value": asdict(value_cfg), "train": asdict(train_cfg)},
                                 force=force)
    if step.done:
        return step.metrics()
    t1 = time.perf_counter()
    value = ValueModel(value_cfg, device=model.device)
    value.check_tokenizer(model)
    ckpt = Checkpoints(step.path / "checkpoints")
    result = train_value_model(value, rollouts, train_cfg, model.pad_token_id, progress=progress, checkpoints=ckpt.root)
    if distributed.is_main():
        value.save(step.path, extra={"base_model": model.spec, "reward": reward_name, "train": asdict(train_cfg)})
        write_json(step.file("history.json"), result["history"])
    metrics = {k: v for k, v in result.items() if k not in ("history", "config")}
    metrics.update(seconds=time.perf_counter() - t1, n_trainable=sum(p.numel() for p in value.parameters() if p.requires_grad))
    metrics = distributed.finish_step(step, metrics)
    ckpt.clear()  # the saved value model supersedes them
    return metrics


def parse_value_specs(specs: Sequence[str]) -> list[tuple[str, float]]:
    """`PATH:BETA` strings -> (path, beta); the beta is after the LAST colon."""
    out = []
    for s in specs:
        path, sep, beta = s.rpartition(":")
        try:
            if not sep or not path:
                raise ValueError
            out.append((path, float(beta)))
        except ValueError:
            raise ValueError(f"--value {s!r}: expected PATH:BETA, e.g. runs/vas/train:2.0") from None
    return out


def load_guides(specs: Sequence[tuple[str, float]], model: Any) -> list[Guide]:
    guides = []
    for path, beta in specs:
        value = ValueModel.load(path, device=model.device)
        value.check_tokenizer(model, what=f"value model {path}")
        guides.append(Guide(value, beta, name=str(path)))
    return guides


def generate(
    out: str | Path | None,
    model: Any,
    prompts: Sequence[str],
    specs: Sequence[tuple[str, float]],
    top_k: int = 10,
    drop_others: bool = False,
    reward_name: str | None = None,
    force: bool = False,
    **gen_kwargs: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """VAS generation with one or more `(value path, beta)`; rows and metrics (written to OUT/generate when given)."""
    from interp.generation import generate as interp_generate

    settings = {k: v for k, v in gen_kwargs.items() if k != "progress"}
    cfg = {"model": model.spec, "values": [[str(p), b] for p, b in specs], "top_k": top_k, "drop_others": drop_others,
           "reward": reward_name, "prompts_sha": prompts_digest(prompts), "n_prompts": len(prompts), **settings}
    step = open_step(out, "generate", cfg, force=force) if out is not None else None
    if step is not None and step.done:
        from interp.io import read_jsonl

        return read_jsonl(step.file("generations.jsonl")), step.metrics()
    proc = VASProcessor(model, load_guides(specs, model), top_k=top_k, drop_others=drop_others)
    gen = interp_generate(model, list(prompts), processors=[proc], **gen_kwargs)
    rows = [{"prompt": p, "response": t, "n_tokens": len(k)} for p, t, k in zip(prompts, gen.texts, gen.tokens)]
    metrics: dict[str, Any] = {"seconds": gen.seconds, "seconds_per_prompt": gen.seconds / len(prompts),
                               "mean_abs_bonus": proc.stats["mean_abs_bonus"]}
    if reward_name:
        scores = get_reward(reward_name)(list(prompts), gen.texts).tolist()
        for r, s in zip(rows, scores):
            r["reward"] = s
        metrics["reward_mean"] = sum(scores) / len(scores)
    if step is not None:
        write_jsonl(step.file("generations.jsonl"), rows)
        step.finish(metrics)
    return rows, metrics


def evaluate_step(
    out: str | Path,
    model: Any,
    prompts: Sequence[str],
    value_path: str | Path,
    reward_name: str,
    cfg: EvalConfig,
    prompt_source: str = "",
    force: bool = False,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], Step]:
    """OUT/evaluate: the table (base, VAS at each beta, Best-of-N) as table.json, plus every response."""
    conf = {"model": model.spec, "value": str(value_path), "reward": reward_name, "prompts": prompt_source,
            "n_prompts": len(prompts), "prompts_sha": prompts_digest(prompts), **asdict(cfg)}
    step = open_step(out, "evaluate", conf, force=force)
    if step.done:
        return read_json(step.file("table.json"))["rows"], step
    value = ValueModel.load(value_path, device=model.device)
    value.check_tokenizer(model, what=f"value model {value_path}")
    rows, runs = evaluate(model, prompts, get_reward(reward_name), value, cfg, progress=progress)
    write_json(step.file("table.json"), {"reward": reward_name, "model": model.spec, "value": str(value_path), "rows": rows})
    write_jsonl(step.file("generations.jsonl"), [
        {"method": r.method, "beta": r.beta, "n": r.n, "prompt": p, "response": t, "reward": float(s)}
        for r in runs for p, t, s in zip(prompts, r.texts, r.rewards.tolist())
    ])
    by = {r["method"] + (f"@{r['beta']}" if r["method"] == "vas" else ""): r for r in rows}
    step.finish({k: {"reward": v["reward"], "delta": v.get("delta"), "delta_low": v.get("delta_low"),
                     "seconds_per_prompt": v["seconds_per_prompt"]} for k, v in by.items()})
    return rows, step


def grid_step(
    out: str | Path,
    model: Any,
    prompts: Sequence[str],
    value_paths: Sequence[str | Path],
    reward_names: Sequence[str],
    betas_1: Sequence[float],
    betas_2: Sequence[float],
    cfg: EvalConfig,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """OUT/grid/grid.json: both rewards in every (beta_1, beta_2) cell (see `grid.py`), for the explorer."""
    from methods.vas.grid import composition_grid

    conf = {"model": model.spec, "values": [str(p) for p in value_paths], "rewards": list(reward_names),
            "betas_1": list(betas_1), "betas_2": list(betas_2), "n_prompts": len(prompts),
            "prompts_sha": prompts_digest(prompts), **asdict(cfg)}
    step = open_step(out, "grid", conf, force=force)
    if step.done:
        return read_json(step.file("grid.json"))
    values = []
    for p in value_paths:
        v = ValueModel.load(p, device=model.device)
        v.check_tokenizer(model, what=f"value model {p}")
        values.append(v)
    grid = composition_grid(model, prompts, values, [get_reward(r) for r in reward_names], reward_names,
                            betas_1, betas_2, cfg, progress=progress)
    grid.update(model=model.spec, values=[str(p) for p in value_paths])
    write_json(step.file("grid.json"), grid)
    step.finish({k: grid[k] for k in ("spearman_axis_1", "spearman_axis_2", "spearman_axis_1_min", "spearman_axis_2_min")})
    return grid
