"""The reward-divergence pipeline on the protocol: rlhf -> divergence -> collect -> saes -> features -> probe.

Each step writes `runs/<name>/<step>/` (config.json, artifacts, metrics.json last) through
`interp.pipeline`: a finished step with the same settings is skipped, an unfinished one resumes
(TRL checkpoints, activation stores, SAEs already saved), a changed one is refused unless `force`.
A step's recorded settings include the upstream ones it depends on (the models, the chosen layers),
so a change upstream is noticed downstream. rlhf, collect and saes run on every process under
`accelerate launch` (TRL's GRPO, one shard series and a round-robin share of the SAEs per process);
the others on the main process.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from interp.io import read_json, write_json
from interp.pipeline import Context, Pipeline, register, run
from interp.sites import mlp_out
from methods.reward_divergence import analysis, demo
from methods.reward_divergence.artifacts import (
    DIVERGENCE_FILE, MODELS, TEXTS_FILE, analysis_texts, base_config, layers, model_spec, resolve_device, upstream,
)
from methods.reward_divergence.config import STEPS, PipelineConfig

log = logging.getLogger(__name__)


def _check(cfg: PipelineConfig) -> None:
    expansion = cfg.probe.expansion or max(cfg.saes.expansions)
    if expansion not in cfg.saes.expansions:
        raise ValueError(f"probe expansion {expansion:g} is not among the trained sizes {cfg.saes.expansions}")


PIPELINE = Pipeline(
    "reward-divergence", PipelineConfig, command="divergence", model_spec=model_spec, check=_check,
    help="reward-model divergence: RL-tune, compare layers, SAEs, reward features",
    title="Reward divergence", demo_config=demo.demo_config, summarize=demo.summarize, demo_rank=4,
    # rlhf's recorded settings name the device it ran on: the config's (cpu unless set) when no --device is given
    resolve_device=lambda cfg, device: resolve_device(device or cfg.device),
)


def make_context(run_dir: str | Path, cfg: PipelineConfig, force: bool = False, device: str | None = None) -> Context:
    """A context for calling this pipeline's helpers outside `run` (tests, notebooks)."""
    return Context(PIPELINE, cfg, Path(run_dir), force=force, device=device or resolve_device(cfg.device))


# --- steps ----------------------------------------------------------------------------
@PIPELINE.step(all_processes=True, settings=lambda ctx: {**asdict(ctx.cfg.rlhf), "device": ctx.device})
def rlhf(ctx: Context) -> dict[str, Any]:
    """RL-tune the policy against the reward (TRL GRPO/RLOO), then score base and tuned on held-out prompts."""
    from methods.reward_divergence.rlhf import curve_summary, evaluate_policies, train_policy

    cfg = ctx.cfg.rlhf
    info = train_policy(cfg, ctx.step_dir, device=ctx.device)
    prompts = read_json(ctx.file("prompts.json"))["eval"]
    ev = evaluate_policies(cfg.policy, ctx.step_dir / "model", prompts, cfg, ctx.step_dir, device=ctx.device)
    return {**ev, **curve_summary(info["curve"]), "train_seconds": info["train_seconds"],
            "n_train_prompts": info["n_train_prompts"], "model": str(ctx.step_dir / "model")}


@PIPELINE.step(settings=lambda ctx: {**asdict(ctx.cfg.divergence), **base_config(ctx)})
def divergence(ctx: Context) -> dict[str, Any]:
    """Parameter and activation divergence per layer; the top-k layers go on to the SAEs."""
    from interp.divergence import activation_divergence, parameter_divergence, rank_layers, ranking_values

    cfg = ctx.cfg.divergence
    base, tuned = ctx.model("base"), ctx.model("tuned")
    params = parameter_divergence(base, tuned)
    _, held_out = analysis_texts(ctx.cfg.collect.seed)
    acts = activation_divergence(base, tuned, held_out[: cfg.n_texts], batch_size=cfg.batch_size, max_length=cfg.max_length,
                                 skip_first=cfg.skip_first)
    values, descending = ranking_values(cfg.rank_by, params, acts)
    chosen = rank_layers(values, cfg.top_k, descending)
    arrays = {"param": params.per_layer, "param_other": params.other, **acts, "rank_by": cfg.rank_by,
              "ranking_values": values, "layers": chosen}
    write_json(ctx.file(DIVERGENCE_FILE), arrays)
    write_json(ctx.file("param_per_tensor.json"), params.per_tensor)
    return {"layers": chosen, "rank_by": cfg.rank_by, "param_per_layer": params.per_layer,
            "param_other": params.other, "n_tokens": acts["n_tokens"],
            "mlp_out_rel_l2": acts["mlp_out"]["rel_l2"], "resid_post_rel_l2": acts["resid_post"]["rel_l2"]}


@PIPELINE.step(needs=("divergence",), all_processes=True,
               settings=lambda ctx: {**asdict(ctx.cfg.collect), **base_config(ctx), "layers": layers(ctx)})
def collect(ctx: Context) -> dict[str, Any]:
    """MLP outputs at the chosen layers of both models on analysis texts, into activation stores."""
    from interp import distributed
    from interp.store import collect as collect_store

    cfg = ctx.cfg.collect
    chosen = layers(ctx)
    train, held_out = analysis_texts(cfg.seed)
    if cfg.n_train_texts > len(train) or cfg.n_eval_texts > len(held_out):
        raise ValueError(f"asked for {cfg.n_train_texts}/{cfg.n_eval_texts} texts; only {len(train)}/{len(held_out)} exist")
    texts = {"train": train[: cfg.n_train_texts], "eval": held_out[: cfg.n_eval_texts]}
    if distributed.is_main():
        write_json(ctx.file(TEXTS_FILE), texts)
    sites = [mlp_out(layer) for layer in chosen]
    rows = {}
    # under `accelerate launch` each process collects its share of the texts into its own shard series
    for name in MODELS:
        model = ctx.model(name)
        for part, part_texts in texts.items():
            store = collect_store(model, part_texts, sites, ctx.step_dir / name / part, batch_size=cfg.batch_size,
                                  max_length=cfg.max_length, exclude_padding=True)
            rows[f"{name}/{part}"] = store.n_rows
    return {"rows": rows, "layers": chosen, "sites": [s.key for s in sites]}


PIPELINE.step(name="saes", needs=("collect",), all_processes=True,
              settings=lambda ctx: {**asdict(ctx.cfg.saes), **upstream(ctx)})(analysis.saes)
PIPELINE.step(name="features", needs=("saes",),
              settings=lambda ctx: {**asdict(ctx.cfg.features), **upstream(ctx), "saes": asdict(ctx.cfg.saes)})(analysis.features)
PIPELINE.step(name="probe", needs=("saes",),
              settings=lambda ctx: {**asdict(ctx.cfg.probe), **upstream(ctx), "saes": asdict(ctx.cfg.saes),
                                    "valence": ctx.cfg.features.valence})(analysis.probe)
assert tuple(PIPELINE.step_names()) == STEPS
register(PIPELINE)


def run_pipeline(
    run_dir: str | Path, cfg: PipelineConfig, steps: Iterable[str] = STEPS, force: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run the chosen steps in order (finished ones are skipped); returns each step's metrics."""
    steps = list(steps)
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}: choose among {', '.join(STEPS)}")
    models: dict[str, Any] = {}
    try:
        return run(PIPELINE, cfg, run_dir, steps=steps, force=force, device=resolve_device(cfg.device), models=models)
    finally:
        models.clear()


def _one_step(name: str):
    def run_one(ctx: Context) -> dict[str, Any]:
        return run(PIPELINE, ctx.cfg, ctx.run_dir, steps=[name], force=ctx.force, device=ctx.device,
                   models=ctx.models)[name]

    run_one.__doc__ = f"Run (or skip when finished) the {name} step for `ctx` (see `make_context`)."
    return run_one


step_divergence, step_collect = _one_step("divergence"), _one_step("collect")


def summary(run_dir: str | Path) -> dict[str, Any]:
    """The metrics of every finished step of a run (what `interp divergence show` prints)."""
    run_dir = Path(run_dir)
    return {s: read_json(run_dir / s / "metrics.json") for s in STEPS if (run_dir / s / "metrics.json").exists()}
