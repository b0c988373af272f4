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

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from interp import distributed
from interp.checkpoint import Checkpoints
from interp.fingerprint import json_digest
from interp.io import read_json, write_json, write_jsonl
from interp.pipeline import Context, Pipeline, register
from interp.runs import Step, open_step, writes_run, writing
from interp.validate import check
from methods.vas import demo
from methods.vas.decoding import Guide, VASProcessor
from methods.vas.defaults import DEFAULT_TOP_K
from methods.vas.evaluate import EvalConfig, choose_beta, evaluate
from interp.rewards import get_reward
from methods.vas.rollouts import load_rollouts, reward_summary, sample_rollouts, save_rollouts
from methods.vas.train import TrainConfig, train_value_model
from methods.vas.value_model import ValueConfig, ValueModel


ROLLOUTS_FILE = "rollouts.jsonl"  # rollouts/: the base model's samples with their rewards
TABLE_FILE = "table.json"  # evaluate/: the evaluation table the explorer's trade-off views read
CHOICE_FILE = "choice.json"  # evaluate/: beta chosen on validation prompts, with the validation rows


def prompts_digest(prompts: Sequence[str]) -> str:
    """A short hash of the prompt list, so a config names exactly which prompts it used."""
    return json_digest(list(prompts), 16)


def rollouts_settings(model_spec: str, reward_name: str, prompts: Sequence[str], prompt_source: str,
                      samples_per_prompt: int, max_new_tokens: int, temperature: float, seed: int,
                      chat: bool | None) -> dict[str, Any]:
    """What the rollouts step records: the model, the reward, exactly which prompts, the sampling."""
    return {
        "model": model_spec, "reward": reward_name, "prompts": prompt_source, "n_prompts": len(prompts),
        "prompts_sha": prompts_digest(prompts), "samples_per_prompt": samples_per_prompt,
        "max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed, "chat": chat,
    }


def sample_into(step_dir: Path, model: Any, prompts: Sequence[str], reward_name: str, samples_per_prompt: int,
                max_new_tokens: int, temperature: float, seed: int, batch_size: int, chat: bool | None,
                progress: bool) -> dict[str, Any]:
    """One seeded sampling run of the base model, scored by the reward, into step_dir/rollouts.jsonl."""
    t0 = time.perf_counter()
    rollouts = sample_rollouts(model, prompts, get_reward(reward_name), samples_per_prompt, max_new_tokens,
                               temperature, seed, batch_size, chat, progress)
    save_rollouts(step_dir / ROLLOUTS_FILE, rollouts)
    return {**reward_summary(rollouts), "seconds": time.perf_counter() - t0}


def fit_into(step_dir: Path, model: Any, rollouts_dir: Path, reward_name: str, value_cfg: ValueConfig,
             train_cfg: TrainConfig, progress: bool) -> dict[str, Any]:
    """TD(lambda) on the rollouts; the value model (value.safetensors + value.json) and history into step_dir.
    Every process trains (DDP under `accelerate launch`); the main one saves."""
    t1 = time.perf_counter()
    rollouts = load_rollouts(rollouts_dir / ROLLOUTS_FILE)
    torch.manual_seed(train_cfg.seed)  # the head and the LoRA adapter start from the seed's weights: runs repeat
    value = ValueModel(value_cfg, device=model.device)
    value.check_tokenizer(model)
    ckpt = Checkpoints(step_dir / "checkpoints")
    result = train_value_model(value, rollouts, train_cfg, model.pad_token_id, progress=progress, checkpoints=ckpt.root)
    if distributed.is_main():
        value.save(step_dir, extra={"base_model": model.spec, "reward": reward_name, "train": asdict(train_cfg)})
        write_json(step_dir / "history.json", result["history"])
    metrics = {k: v for k, v in result.items() if k not in ("history", "config")}
    metrics.update(seconds=time.perf_counter() - t1, n_trainable=sum(p.numel() for p in value.parameters() if p.requires_grad))
    distributed.barrier()
    ckpt.clear()  # the saved value model supersedes them
    return metrics


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
    """Steps rollouts + train for given prompts (`interp vas train`); returns the train step's metrics."""
    out = Path(out)
    with writing(out):  # one writer for both steps: a second `vas train --out` is refused, never interleaved
        roll_cfg = rollouts_settings(model.spec, reward_name, prompts, prompt_source, samples_per_prompt, max_new_tokens,
                                     temperature, train_cfg.seed, chat)
        roll = distributed.open_step(out, "rollouts", roll_cfg, force=force)
        if not roll.done and distributed.is_main():  # one seeded sampling run (other processes wait for it)
            roll.finish(sample_into(roll.path, model, prompts, reward_name, samples_per_prompt, max_new_tokens,
                                    temperature, train_cfg.seed, batch_size, chat, progress))
        distributed.barrier()
        step = distributed.open_step(out, "train", {"rollouts": roll_cfg, "value": asdict(value_cfg),
                                                    "train": asdict(train_cfg)}, force=force)
        if step.done:
            return step.metrics()
        metrics = fit_into(step.path, model, roll.path, reward_name, value_cfg, train_cfg, progress)
        return distributed.finish_step(step, metrics)


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


@writes_run("out")  # held for the whole generation: a second writer of OUT is refused until it ends
def generate(
    out: str | Path | None,
    model: Any,
    prompts: Sequence[str],
    specs: Sequence[tuple[str, float]],
    top_k: int = DEFAULT_TOP_K,
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


def evaluate_settings(model_spec: str, value_path: str | Path, reward_name: str, prompts: Sequence[str],
                      prompt_source: str, cfg: EvalConfig) -> dict[str, Any]:
    return {"model": model_spec, "value": str(value_path), "reward": reward_name, "prompts": prompt_source,
            "n_prompts": len(prompts), "prompts_sha": prompts_digest(prompts), **asdict(cfg)}


def evaluate_into(step_dir: Path, model: Any, prompts: Sequence[str], value_path: str | Path, reward_name: str,
                  cfg: EvalConfig, progress: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The table (base, VAS at each beta, Best-of-N) into step_dir/table.json, every response into
    generations.jsonl; returns the rows and the step's metrics."""
    value = ValueModel.load(value_path, device=model.device)
    value.check_tokenizer(model, what=f"value model {value_path}")
    rows, runs = evaluate(model, prompts, get_reward(reward_name), value, cfg, progress=progress)
    write_json(step_dir / TABLE_FILE, {"reward": reward_name, "model": model.spec, "value": str(value_path), "rows": rows})
    write_jsonl(step_dir / "generations.jsonl", [
        {"method": r.method, "beta": r.beta, "n": r.n, "prompt": p, "response": t, "reward": float(s)}
        for r in runs for p, t, s in zip(prompts, r.texts, r.rewards.tolist())
    ])
    by = {r["method"] + (f"@{r['beta']}" if r["method"] == "vas" else ""): r for r in rows}
    return rows, {k: {"reward": v["reward"], "delta": v.get("delta"), "delta_low": v.get("delta_low"),
                      "seconds_per_prompt": v["seconds_per_prompt"]} for k, v in by.items()}


@writes_run("out")
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
    """OUT/evaluate for a given value model (`interp vas evaluate`)."""
    step = open_step(out, "evaluate", evaluate_settings(model.spec, value_path, reward_name, prompts, prompt_source, cfg),
                     force=force)
    if step.done:
        return read_json(step.file(TABLE_FILE))["rows"], step
    rows, metrics = evaluate_into(step.path, model, prompts, value_path, reward_name, cfg, progress)
    step.finish(metrics)
    return rows, step


@writes_run("out")
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


# --- the VAS experiment on the pipeline protocol: rollouts -> train -> evaluate -------------------
@dataclass
class VASConfig:
    """A whole VAS experiment: prompts, reward, the value model and its training, the evaluation."""

    model: str = field(default="smollm2-135m-instruct", metadata={"help": "base model spec"})
    prompts: str = field(default="rt-polarity-prompts", metadata={
        "help": "a data set name (rt-polarity-prompts, hh-rlhf-prompts, ...) or a prompt file (.txt, .jsonl)"})
    train_split: str = field(default="train", metadata={"help": "split the value model learns from"})
    eval_split: str = field(default="test", metadata={"help": "split the evaluation uses"})
    n_train_prompts: int | None = field(default=64, metadata={"help": "first N training prompts (all: unset)"})
    n_eval_prompts: int | None = field(default=32, metadata={"help": "first N evaluation prompts (all: unset)"})
    val_split: str = field(default="validation", metadata={"help": "split that chooses beta (with n_val_prompts)"})
    n_val_prompts: int | None = field(default=None, metadata={
        "help": "choose beta among eval.betas on the first N validation prompts and test only that one (unset: "
                "test every beta, nothing chosen)"})
    max_diversity_drop: float = field(default=0.05, metadata={"help": "choice margin: diversity within this of base"})
    max_coherence_drop: float = field(default=0.10, metadata={"help": "choice margin: coherence within this of base"})
    seed: int = field(default=0, metadata={"help": "data split and order"})
    reward: str = field(default="vader-sentiment", metadata={"help": "reward name (vader-sentiment, rm:PATH, neg:NAME, ...)"})
    samples_per_prompt: int = 1
    max_new_tokens: int = 32
    temperature: float = 1.0
    batch_size: int = 16
    chat: bool | None = field(default=False, metadata={"help": "render prompts through the chat template"})
    value: ValueConfig = field(default_factory=ValueConfig)  # backbone "" = the base model
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        check(self, counts=("n_train_prompts", "n_eval_prompts", "n_val_prompts", "samples_per_prompt", "max_new_tokens",
                            "batch_size"), positive=("temperature",), non_negative=("max_diversity_drop", "max_coherence_drop"))
        if self.n_val_prompts is not None and self.val_split == self.eval_split:
            raise ValueError(f"val_split and eval_split are both {self.eval_split!r}: beta would be chosen on the prompts "
                             "it is tested on; choose on another split")

    def to_dict(self) -> dict[str, Any]:
        """The whole experiment as plain JSON values (nested configs included), as a result file records it."""
        return json.loads(json.dumps(asdict(self)))


def _value_config(cfg: VASConfig) -> ValueConfig:
    return replace(cfg.value, backbone=cfg.value.backbone or cfg.model)


def _prompts(ctx: Context, which: str) -> tuple[list[str], str]:
    """The run's training or evaluation prompts and where they came from, read once per invocation."""
    from methods.vas.prompts import load_prompts

    key = f"vas-prompts-{which}"
    if key not in ctx.scratch:
        cfg: VASConfig = ctx.cfg
        split, n = {"train": (cfg.train_split, cfg.n_train_prompts), "eval": (cfg.eval_split, cfg.n_eval_prompts),
                    "val": (cfg.val_split, cfg.n_val_prompts)}[which]
        ctx.scratch[key] = load_prompts(cfg.prompts, split, n, cfg.seed)
    return ctx.scratch[key]


def _rollouts_settings(ctx: Context) -> dict[str, Any]:
    cfg: VASConfig = ctx.cfg
    prompts, source = _prompts(ctx, "train")
    return rollouts_settings(cfg.model, cfg.reward, prompts, source, cfg.samples_per_prompt, cfg.max_new_tokens,
                             cfg.temperature, cfg.train.seed, cfg.chat)


PIPELINE = Pipeline("vas", VASConfig, help="Value Augmented Sampling: value-guided decoding (Han, Shenfeld et al. 2024)",
                    title="VAS", demo_config=demo.demo_config, summarize=demo.summarize, demo_rank=2)


@PIPELINE.step(settings=_rollouts_settings)
def rollouts(ctx: Context) -> dict[str, Any]:
    """Sample the base model on the training prompts and score the responses with the reward."""
    cfg: VASConfig = ctx.cfg
    prompts, _ = _prompts(ctx, "train")
    return sample_into(ctx.step_dir, ctx.model(), prompts, cfg.reward, cfg.samples_per_prompt, cfg.max_new_tokens,
                       cfg.temperature, cfg.train.seed, cfg.batch_size, cfg.chat, ctx.progress)


@PIPELINE.step(name="train", needs=("rollouts",), all_processes=True, settings=lambda ctx: {
    "rollouts": _rollouts_settings(ctx), "value": asdict(_value_config(ctx.cfg)), "train": asdict(ctx.cfg.train)})
def train_value(ctx: Context) -> dict[str, Any]:
    """Fit the value model on the rollouts by TD(lambda)."""
    return fit_into(ctx.step_dir, ctx.model(), ctx.path("rollouts"), ctx.cfg.reward, _value_config(ctx.cfg),
                    ctx.cfg.train, ctx.progress)


def _evaluate_settings(ctx: Context) -> dict[str, Any]:
    cfg: VASConfig = ctx.cfg
    settings = evaluate_settings(cfg.model, ctx.path("train"), cfg.reward, *_prompts(ctx, "eval"), cfg.eval)
    if cfg.n_val_prompts is not None:
        val, source = _prompts(ctx, "val")
        settings["choose_beta"] = {"prompts": source, "n_prompts": len(val), "prompts_sha": prompts_digest(val),
                                   "max_diversity_drop": cfg.max_diversity_drop, "max_coherence_drop": cfg.max_coherence_drop}
    return settings


@PIPELINE.step(name="evaluate", needs=("train",), settings=_evaluate_settings)
def evaluate_value(ctx: Context) -> dict[str, Any]:
    """Base vs VAS at each beta (and Best-of-N) on the evaluation prompts, with paired intervals; with
    n_val_prompts, beta is first chosen on validation prompts (CHOICE_FILE) and only that beta is tested."""
    cfg: VASConfig = ctx.cfg
    prompts, _ = _prompts(ctx, "eval")
    eval_cfg, choice = cfg.eval, None
    if cfg.n_val_prompts is not None:
        value = ValueModel.load(ctx.path("train"), device=ctx.model().device)
        value.check_tokenizer(ctx.model(), what=f"value model {ctx.path('train')}")
        choice = choose_beta(ctx.model(), _prompts(ctx, "val")[0], get_reward(cfg.reward), value, cfg.eval,
                             cfg.max_diversity_drop, cfg.max_coherence_drop, ctx.progress)
        write_json(ctx.step_dir / CHOICE_FILE, choice)
        eval_cfg = replace(cfg.eval, betas=[choice["beta"]])
    _, metrics = evaluate_into(ctx.step_dir, ctx.model(), prompts, ctx.path("train"), cfg.reward, eval_cfg, ctx.progress)
    if choice is not None:
        metrics["chosen_beta"] = {k: v for k, v in choice.items() if k != "rows"}
    return metrics


register(PIPELINE)
