"""The reward-divergence pipeline: rlhf -> divergence -> collect -> saes -> features -> probe.

Each step writes `runs/<name>/<step>/` (config.json, artifacts, metrics.json last) through
`interp.runs.open_step`: a finished step with the same config is skipped, an unfinished one
resumes (TRL checkpoints, activation stores, SAEs already saved), a changed one is refused
unless `force`. A step's config includes the upstream settings it depends on (e.g. the chosen
layers), so a change upstream is noticed downstream.
"""
from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable


from interp.io import read_json, write_json
from interp.runs import open_step
from interp.sites import mlp_out
from methods.reward_divergence.config import STEPS, PipelineConfig

log = logging.getLogger(__name__)
MODELS = ("base", "tuned")


def resolve_device(device: str | None) -> str:
    from interp import distributed

    # under `accelerate launch` each process takes its own device (cuda:<local rank>)
    return device or str(distributed.default_device())


@dataclass
class Context:
    """What the steps share: the run directory, the config, and models loaded once."""

    run_dir: Path
    cfg: PipelineConfig
    force: bool = False
    device: str = "cpu"
    _models: dict[str, Any] = field(default_factory=dict)

    @property
    def tuned_path(self) -> Path:
        path = Path(self.cfg.tuned) if self.cfg.tuned else self.run_dir / "rlhf" / "model"
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"no tuned model at {path}: run the rlhf step first, or pass --tuned with a Hugging Face folder "
                "fine-tuned from the policy"
            )
        return path

    def spec(self, name: str) -> str:
        return self.cfg.rlhf.policy if name == "base" else str(self.tuned_path)

    def model(self, name: str):
        if name not in self._models:
            from interp import load_model

            self._models[name] = load_model(self.spec(name), device=self.device)
        return self._models[name]

    def release(self) -> None:
        self._models.clear()

    def layers(self) -> list[int]:
        div = self.run_dir / "divergence" / "metrics.json"
        if not div.exists():
            raise FileNotFoundError(f"{div} is missing: run the divergence step first (it chooses the layers)")
        return list(read_json(div)["layers"])

    def base_config(self) -> dict[str, Any]:
        """What every analysis step depends on: the two models."""
        return {"policy": self.cfg.rlhf.policy, "tuned": str(self.tuned_path), "device": self.device}


def analysis_texts(seed: int) -> tuple[list[str], list[str]]:
    """rt-polarity sentences: (training split, held-out split), each shuffled by seed (same split as the RLHF prompts)."""
    from interp.data import rt_polarity, split

    train, _, test = split(list(rt_polarity()), (0.9, 0.0, 0.1), seed=seed)
    train_t, test_t = [s.text for s in train], [s.text for s in test]
    random.Random(seed + 7).shuffle(train_t)
    random.Random(seed + 8).shuffle(test_t)
    return train_t, test_t


# --- steps ----------------------------------------------------------------------------
def step_rlhf(ctx: Context) -> dict[str, Any]:
    from methods.reward_divergence.rlhf import curve_summary, evaluate_policies, train_policy

    cfg = ctx.cfg.rlhf
    step = open_step(ctx.run_dir, "rlhf", {**asdict(cfg), "device": ctx.device}, force=ctx.force)
    if step.done:
        return step.metrics()
    info = train_policy(cfg, step.path, device=ctx.device)
    prompts = read_json(step.file("prompts.json"))["eval"]
    ev = evaluate_policies(cfg.policy, step.path / "model", prompts, cfg, step.path, device=ctx.device)
    return step.finish({**ev, **curve_summary(info["curve"]), "train_seconds": info["train_seconds"],
                        "n_train_prompts": info["n_train_prompts"], "model": str(step.path / "model")})


def step_divergence(ctx: Context) -> dict[str, Any]:
    from interp.divergence import activation_divergence, parameter_divergence, rank_layers, ranking_values

    cfg = ctx.cfg.divergence
    step = open_step(ctx.run_dir, "divergence", {**asdict(cfg), **ctx.base_config()}, force=ctx.force)
    if step.done:
        return step.metrics()
    base, tuned = ctx.model("base"), ctx.model("tuned")
    params = parameter_divergence(base, tuned)
    _, held_out = analysis_texts(ctx.cfg.collect.seed)
    acts = activation_divergence(base, tuned, held_out[: cfg.n_texts], batch_size=cfg.batch_size, max_length=cfg.max_length,
                                 skip_first=cfg.skip_first)
    values, descending = ranking_values(cfg.rank_by, params, acts)
    layers = rank_layers(values, cfg.top_k, descending)
    arrays = {"param": params.per_layer, "param_other": params.other, **acts, "rank_by": cfg.rank_by,
              "ranking_values": values, "layers": layers}
    write_json(step.file("divergence.json"), arrays)
    write_json(step.file("param_per_tensor.json"), params.per_tensor)
    return step.finish({"layers": layers, "rank_by": cfg.rank_by, "param_per_layer": params.per_layer,
                        "param_other": params.other, "n_tokens": acts["n_tokens"],
                        "mlp_out_rel_l2": acts["mlp_out"]["rel_l2"], "resid_post_rel_l2": acts["resid_post"]["rel_l2"]})


def step_collect(ctx: Context) -> dict[str, Any]:
    from interp import distributed
    from interp.store import collect

    cfg = ctx.cfg.collect
    layers = ctx.layers()
    # under `accelerate launch` each process collects its share of the texts into its own shard series
    step = distributed.open_step(ctx.run_dir, "collect", {**asdict(cfg), **ctx.base_config(), "layers": layers},
                                 force=ctx.force)
    if step.done:
        return step.metrics()
    train, held_out = analysis_texts(cfg.seed)
    if cfg.n_train_texts > len(train) or cfg.n_eval_texts > len(held_out):
        raise ValueError(f"asked for {cfg.n_train_texts}/{cfg.n_eval_texts} texts; only {len(train)}/{len(held_out)} exist")
    texts = {"train": train[: cfg.n_train_texts], "eval": held_out[: cfg.n_eval_texts]}
    if distributed.is_main():
        write_json(step.file("texts.json"), texts)
    sites = [mlp_out(layer) for layer in layers]
    rows = {}
    for name in MODELS:
        model = ctx.model(name)
        for part, part_texts in texts.items():
            store = collect(model, part_texts, sites, step.path / name / part, batch_size=cfg.batch_size,
                            max_length=cfg.max_length, exclude_padding=True)
            rows[f"{name}/{part}"] = store.n_rows
    return distributed.finish_step(step, {"rows": rows, "layers": layers, "sites": [s.key for s in sites]})


def collected(ctx: Context, name: str, part: str):
    from interp.store import ActivationStore

    return ActivationStore.open(ctx.run_dir / "collect" / name / part)


def collected_texts(ctx: Context) -> dict[str, list[str]]:
    return read_json(ctx.run_dir / "collect" / "texts.json")


RUNNERS = {"rlhf": step_rlhf, "divergence": step_divergence, "collect": step_collect}


def run_pipeline(
    run_dir: str | Path, cfg: PipelineConfig, steps: Iterable[str] = STEPS, force: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run the chosen steps in order (finished ones are skipped); returns each step's metrics."""
    from methods.reward_divergence.analysis import step_features, step_probe, step_saes

    runners = {**RUNNERS, "saes": step_saes, "features": step_features, "probe": step_probe}
    steps = list(steps)
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}: choose among {', '.join(STEPS)}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(run_dir=run_dir, cfg=cfg, force=force, device=resolve_device(cfg.device))
    out = {}
    try:
        for name in STEPS:
            if name in steps:
                log.info("reward-divergence step %s", name)
                out[name] = runners[name](ctx)
    finally:
        ctx.release()
    return out


def summary(run_dir: str | Path) -> dict[str, Any]:
    """The metrics of every finished step of a run (what `interp divergence show` prints)."""
    run_dir = Path(run_dir)
    return {s: read_json(run_dir / s / "metrics.json") for s in STEPS if (run_dir / s / "metrics.json").exists()}
