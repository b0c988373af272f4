"""A ReprPO experiment as an `interp.pipeline`: `train/` then `eval/` under runs/<name>/.

train/  config.json (ReprPOConfig.to_dict: what defines the adapter), reference cache,
        checkpoints/ (resumable), adapter/ (LoRA + transforms), history.jsonl, metrics.json
eval/   config.json ({"train": ..., "n_eval", "max_length", "batch_size"}), splits.json (per split:
        base and adapter accuracy, ratio, sign test), metrics.json
The protocol skips a finished step with the same config and refuses another unless `force`. Train
runs on every process under `accelerate launch`; eval on the main process.

    interp reprpo run --method mse --transform ortho --run my-run
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from interp.pipeline import Context, Pipeline, register, run
from methods.reprpo.config import EVAL_SPLITS, ReprPOConfig
from methods.reprpo import demo
from methods.reprpo.data import check_names, load_experiment, rendered

SPLITS_FILE = "splits.json"  # eval/: per split results (the explorer's Preference page reads it)
SUMMARY_KEYS = ("base_accuracy_mean", "adapter_accuracy_mean", "ratio_mean", "p_sign_test_mean", "base_accuracy_sum",
                "adapter_accuracy_sum", "ratio_sum", "n_scored", "n_identical", "n_too_long")


def eval_config(cfg: ReprPOConfig, n_eval: int | None, max_length: int, batch_size: int) -> dict[str, Any]:
    out = {"train": cfg.to_dict(), "n_eval": n_eval, "max_length": max_length, "batch_size": batch_size}
    if cfg.eval_splits != EVAL_SPLITS:  # recorded only when narrowed, so earlier runs' eval steps still match
        out["splits"] = list(cfg.eval_splits)
    return out


def default_run(cfg: ReprPOConfig) -> str:
    ref = "-ref" if cfg.is_reference else ""
    return f"reprpo/{cfg.source}-{cfg.method}-{cfg.transform}{ref}-s{cfg.seed}"


PIPELINE = Pipeline(
    "reprpo", ReprPOConfig,
    help="ReprPO: preference training on hidden states vs DPO, evaluated out of distribution",
    check=lambda cfg: check_names(cfg.source, cfg.target, cfg.random or None),
    default_run=default_run, title="ReprPO", demo_config=demo.demo_config, summarize=demo.summarize, demo_rank=3,
)


@PIPELINE.step(all_processes=True, settings=lambda ctx: ctx.cfg.to_dict())
def train(ctx: Context) -> dict[str, Any]:
    """Train a LoRA adapter with the configured method (resumable from its checkpoints)."""
    from methods.reprpo.trainer import ReprPOTrainer

    cfg: ReprPOConfig = ctx.cfg
    model = ctx.model()
    raw = load_experiment(cfg.source, cfg.target, cfg.random or None, cfg.n_train, n_eval=0)["train"]
    trainer = ReprPOTrainer(model, rendered(model, raw, cfg.chat), cfg, ctx.step_dir, None, ctx.progress)
    try:
        return trainer.train()
    finally:
        trainer.close()


@PIPELINE.step(needs=("train",), when=lambda cfg: cfg.n_eval is None or cfg.n_eval > 0,
               settings=lambda ctx: eval_config(ctx.cfg, ctx.cfg.n_eval, ctx.cfg.eval_max_length, ctx.cfg.eval_batch_size))
def eval(ctx: Context) -> dict[str, Any]:  # noqa: A001 - the step's name
    """Base vs adapter preference accuracy on the GENIES splits (all four unless `eval_splits` narrows them)."""
    from interp.io import write_json
    from methods.reprpo.adapter import load_adapter, remove_lora
    from methods.reprpo.evaluate import evaluate

    cfg: ReprPOConfig = ctx.cfg
    model = ctx.model()
    raw = load_experiment(cfg.source, cfg.target, cfg.random or None, cfg.n_train, cfg.n_eval)
    splits = {k: rendered(model, raw[k], cfg.chat) for k in EVAL_SPLITS if k in raw and k in cfg.eval_splits}
    peft_model = load_adapter(model, ctx.path("train") / "adapter")
    try:
        results = evaluate(model, peft_model, splits, cfg.eval_max_length, cfg.eval_batch_size, ctx.progress)
    finally:
        remove_lora(peft_model)
    write_json(ctx.file(SPLITS_FILE), results)
    return {
        "method": cfg.method, "transform": cfg.transform, "variant": cfg.variant, "seed": cfg.seed, "model": cfg.model,
        "source": cfg.source, "target": cfg.target, "random": cfg.random,
        **{f"{name}.{key}": r[key] for name, r in results.items() for key in SUMMARY_KEYS},
    }


register(PIPELINE)


# --- the functions behind the earlier API (and `interp reprpo train`), now through the protocol ---
def run_train(cfg: ReprPOConfig, run_dir: str | Path, model=None, force: bool = False, device: str | None = None,
              progress: bool = True, accelerator=None) -> tuple[dict[str, Any], Any]:
    """Train (or skip a finished train step); returns (metrics, the model used, None if none was loaded)."""
    models = {cfg.model: model} if model is not None else {}
    out = run(PIPELINE, cfg, run_dir, steps=["train"], force=force, progress=progress, device=device, models=models)
    return out["train"], models.get(cfg.model)


def run_eval(cfg: ReprPOConfig, run_dir: str | Path, model=None, n_eval: int | None = 750, max_length: int = 512,
             batch_size: int = 8, force: bool = False, device: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Base vs adapter preference accuracy on the four splits (needs a finished train step)."""
    cfg = replace(cfg, n_eval=n_eval, eval_max_length=max_length, eval_batch_size=batch_size)
    models = {cfg.model: model} if model is not None else {}
    return run(PIPELINE, cfg, run_dir, steps=["eval"], force=force, progress=progress, device=device,
               models=models)["eval"]


def run_experiment(cfg: ReprPOConfig, run_dir: str | Path, evaluate: bool = True, n_eval: int | None = 750,
                   eval_max_length: int = 512, eval_batch_size: int = 8, force: bool = False,
                   device: str | None = None, progress: bool = True) -> dict[str, Any]:
    cfg = replace(cfg, n_eval=n_eval if evaluate else 0, eval_max_length=eval_max_length, eval_batch_size=eval_batch_size)
    return run(PIPELINE, cfg, run_dir, force=force, progress=progress, device=device)
