"""A ReprPO experiment as run-directory steps: `train/` then `eval/` under runs/<name>/.

train/  config.json, reference cache, checkpoints/ (resumable), adapter/ (LoRA + transforms),
        history.jsonl (loss per step), metrics.json
eval/   config.json, splits.json (per split: base and adapter accuracy, ratio, sign test),
        metrics.json
A finished step is skipped when re-run with the same config; another config is refused
unless `force`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from interp.io import write_json
from interp.runs import open_step
from methods.reprpo.config import ReprPOConfig
from methods.reprpo.data import check_names, load_experiment, rendered

EVAL_SPLITS = ("source_train", "source_test", "target_test", "random_test")


def eval_config(cfg: ReprPOConfig, n_eval: int | None, max_length: int, batch_size: int) -> dict[str, Any]:
    return {"train": cfg.to_dict(), "n_eval": n_eval, "max_length": max_length, "batch_size": batch_size}


def run_train(cfg: ReprPOConfig, run_dir: str | Path, model=None, force: bool = False, device: str | None = None,
              progress: bool = True, accelerator=None) -> tuple[dict[str, Any], Any]:
    """Train (or skip a finished train step); returns (metrics, model or None if skipped)."""
    check_names(cfg.source, cfg.target, cfg.random or None)
    step = open_step(run_dir, "train", cfg.to_dict(), force=force)
    if step.done:
        return step.metrics(), model
    from interp.models import load_model
    from methods.reprpo.trainer import ReprPOTrainer

    if model is None:
        from accelerate import PartialState

        # under `accelerate launch` each process takes its own device (cuda:<local rank>)
        model = load_model(cfg.model, device=device or PartialState().device)
    raw = load_experiment(cfg.source, cfg.target, cfg.random or None, cfg.n_train, n_eval=0)["train"]
    trainer = ReprPOTrainer(model, rendered(model, raw, cfg.chat), cfg, step.path, accelerator, progress)
    try:
        metrics = trainer.train()
    finally:
        trainer.close()
    if trainer.acc.is_main_process:
        step.finish(metrics)
    trainer.acc.wait_for_everyone()
    return metrics, model


def run_eval(cfg: ReprPOConfig, run_dir: str | Path, model=None, n_eval: int | None = 750, max_length: int = 512,
             batch_size: int = 8, force: bool = False, device: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Base vs adapter preference accuracy on the four splits (needs a finished train step)."""
    run_dir = Path(run_dir)
    if not (run_dir / "train" / "metrics.json").exists():
        raise FileNotFoundError(f"{run_dir / 'train'} has no finished training; run `interp reprpo train` first")
    step = open_step(run_dir, "eval", eval_config(cfg, n_eval, max_length, batch_size), force=force)
    if step.done:
        return step.metrics()
    from interp.models import load_model
    from methods.reprpo.adapter import load_adapter, remove_lora
    from methods.reprpo.evaluate import evaluate

    model = model or load_model(cfg.model, device=device)
    raw = load_experiment(cfg.source, cfg.target, cfg.random or None, cfg.n_train, n_eval)
    splits = {k: rendered(model, raw[k], cfg.chat) for k in EVAL_SPLITS if k in raw}
    peft_model = load_adapter(model, run_dir / "train" / "adapter")
    try:
        results = evaluate(model, peft_model, splits, max_length, batch_size, progress)
    finally:
        remove_lora(peft_model)
    write_json(step.file("splits.json"), results)
    summary = {
        "method": cfg.method, "transform": cfg.transform, "seed": cfg.seed, "model": cfg.model,
        "source": cfg.source, "target": cfg.target, "random": cfg.random,
        **{f"{name}.{key}": r[key] for name, r in results.items()
           for key in ("base_accuracy_mean", "adapter_accuracy_mean", "ratio_mean", "p_sign_test_mean",
                       "base_accuracy_sum", "adapter_accuracy_sum", "ratio_sum", "n_scored", "n_identical",
                       "n_too_long")},
    }
    return step.finish(summary)


def run_experiment(cfg: ReprPOConfig, run_dir: str | Path, evaluate: bool = True, n_eval: int | None = 750,
                   eval_max_length: int = 512, eval_batch_size: int = 8, force: bool = False,
                   device: str | None = None, progress: bool = True) -> dict[str, Any]:
    train_metrics, model = run_train(cfg, run_dir, force=force, device=device, progress=progress)
    out = {"train": train_metrics}
    if evaluate:
        from accelerate import PartialState

        if PartialState().is_main_process:
            out["eval"] = run_eval(cfg, run_dir, model, n_eval, eval_max_length, eval_batch_size, force, device, progress)
        PartialState().wait_for_everyone()
    return out
