"""The RE-Control pipeline: collect -> label -> train-value -> evaluate, each a step of a run directory.

    run_all(REControlConfig(model="stories260k", dataset="rt-polarity-prompts", reward="vader-sentiment"),
            "runs/re-control-stories")

The steps are an `interp.pipeline`: each writes `run_dir/<step>/{config.json, artifacts,
metrics.json}`, is skipped when already finished with the same settings, and refuses a changed one
unless `force`. Later steps record a fingerprint of the step they read, so stale results are never
mixed. collect, label and train-value run on every process under `accelerate launch` (each takes
its share); evaluate on the main process.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from interp import distributed, faults
from interp.checkpoint import Checkpoints
from interp.io import read_json, read_jsonl, write_json, write_jsonl
from interp.metrics.selection import choose_within_limits
from interp.pipeline import Context, Pipeline, register, run
from methods.re_control import demo
from methods.re_control.baselines import make_static_edit, pair_vector, reward_contrast_vector
from methods.re_control.collect import collect_trajectories, load_trajectories, real_states
from methods.re_control.config import REControlConfig, step_config
from methods.re_control.control import ControlConfig
from methods.re_control.data import evaluation_split, load_task, raw_prompts, render_prompts, response_text
from methods.re_control.evaluate import (CachedEmbed, Evaluator, Outputs, best_of_samples, control_vs_base, quality,
                                        summarize, tradeoff_curve)
from methods.re_control.train import TrainConfig, group_centred, train_value
from methods.re_control.value import ValueConfig, ValueFunction

if TYPE_CHECKING:
    from interp.models.model import Model

log = logging.getLogger(__name__)
TRADEOFF_FILE = "tradeoff.json"  # evaluate/: the validation trade-off curve the explorer's Trade-off page reads


def _report(results: dict[str, dict[str, Any]]) -> None:
    from methods.re_control.report import report

    report(results)


PIPELINE = Pipeline("re-control", REControlConfig, help="RE-Control: value-guided representation editing at decoding time",
                    report=_report, title="RE-Control", demo_config=demo.demo_config, summarize=demo.summarize,
                    demo_rank=1)


def _model(ctx: Context) -> "Model":
    """The base model, loaded once: spread over devices with `device_map`, else on this process's device."""
    cfg = ctx.cfg
    if cfg.model not in ctx.models:
        from interp.models import load_model

        if cfg.device_map is not None:  # one process: the layers spread over the devices
            ctx.models[cfg.model] = load_model(cfg.model, device_map=cfg.device_map)
        else:  # under `accelerate launch` each process takes its own device (cuda:<local rank>)
            ctx.models[cfg.model] = load_model(cfg.model, device=distributed.default_device(cfg.device))
    return ctx.models[cfg.model]


def _reward(ctx: Context):
    if "reward" not in ctx.scratch:
        from interp.rewards import get_reward

        cfg = ctx.cfg
        device = cfg.device or (str(distributed.default_device()) if distributed.launched() else None)
        ctx.scratch["reward"] = get_reward(cfg.reward, device=device)
    return ctx.scratch["reward"]


class _Lazy:
    """The earlier API's handle for separate step calls: the model (and reward) they share, loaded once."""

    def __init__(self, cfg: REControlConfig, model: "Model | None" = None):
        self.cfg = cfg
        self.models: dict[str, Any] = {cfg.model: model} if model is not None else {}
        self.scratch: dict[str, Any] = {}


def _settings(step: str):
    return lambda ctx: step_config(ctx.cfg, step, ctx.run_dir)


def _task(cfg: REControlConfig):
    return load_task(cfg.dataset, cfg.source_split, cfg.fractions, cfg.split_seed)


@PIPELINE.step(all_processes=True, settings=_settings("collect"))
def collect(ctx: Context) -> dict[str, Any]:
    """Generate for the training prompts and store the site's state at every step."""
    cfg = ctx.cfg
    task = _task(cfg)
    examples = task.part("train", cfg.n_train)
    # K responses per prompt, consecutive: trajectory i answers prompt i // K
    examples = [e for e in examples for _ in range(cfg.samples_per_prompt)]
    model = _model(ctx)
    t0 = time.perf_counter()
    metrics = collect_trajectories(
        model, render_prompts(model, examples, cfg.chat), raw_prompts(examples), ctx.step_dir, site=cfg.site,
        batch_size=cfg.batch_size, progress=ctx.progress, max_new_tokens=cfg.max_new_tokens, do_sample=cfg.do_sample,
        temperature=cfg.temperature, seed=cfg.seed, max_prompt_tokens=cfg.max_prompt_tokens,
    )
    metrics.update(model=cfg.model, tokenizer_size=len(model.tokenizer), dataset=task.name, dataset_source=task.source,
                   samples_per_prompt=cfg.samples_per_prompt, seconds=time.perf_counter() - t0)
    return metrics


@PIPELINE.step(needs=("collect",), all_processes=True, settings=_settings("label"))
def label(ctx: Context) -> dict[str, Any]:
    """Score every collected (prompt, response) with the reward.

    Scored in chunks of 256 responses (`ctx.scratch["label_chunk"]` overrides), each saved as it is
    done (`labels.parts/`), so a re-run after a crash scores only the rest; under several processes
    the chunks go round-robin to ranks.
    """
    cfg, chunk = ctx.cfg, ctx.scratch.get("label_chunk", 256)
    rows = read_jsonl(ctx.path("collect") / "trajectories.jsonl")
    parts = ctx.step_dir / "labels.parts"
    t0 = time.perf_counter()
    for start in distributed.round_robin(range(0, len(rows), chunk)):
        part = parts / f"{start:08d}.jsonl"
        if part.exists():
            continue
        some = rows[start:start + chunk]
        r = _reward(ctx)([row["prompt"] for row in some], [row["response"] for row in some]).float()
        write_jsonl(part, [{"traj_id": row["traj_id"], "reward": float(v)} for row, v in zip(some, r)])
        faults.point("label chunk")
    distributed.barrier()
    if distributed.is_main():
        labels = [x for start in range(0, len(rows), chunk) for x in read_jsonl(parts / f"{start:08d}.jsonl")]
        write_jsonl(ctx.file("labels.jsonl"), labels)
    distributed.barrier()
    r = torch.tensor([x["reward"] for x in read_jsonl(ctx.file("labels.jsonl"))], dtype=torch.float32)
    q = torch.quantile(r, torch.tensor([0.1, 0.5, 0.9])).tolist()
    metrics = {
        "reward": cfg.reward, "n": len(r), "mean": float(r.mean()), "std": float(r.std()) if len(r) > 1 else 0.0,
        "min": float(r.min()), "max": float(r.max()), "q10": q[0], "median": q[1], "q90": q[2],
        "seconds": time.perf_counter() - t0,
    }
    distributed.barrier()  # every process has read the labels before the parts go
    if distributed.is_main():
        import shutil

        shutil.rmtree(parts, ignore_errors=True)
    return metrics


def load_rewards(run_dir: str | Path) -> torch.Tensor:
    rows = read_jsonl(Path(run_dir) / "label" / "labels.jsonl")
    return torch.tensor([r["reward"] for r in sorted(rows, key=lambda r: r["traj_id"])], dtype=torch.float32)


@PIPELINE.step(name="train-value", needs=("label",), all_processes=True, settings=_settings("train-value"))
def train_value_step(ctx: Context) -> dict[str, Any]:
    """Fit the value function with the Bellman loss; save it with the model it belongs to."""
    cfg, run_dir, step_dir = ctx.cfg, ctx.run_dir, ctx.step_dir
    states, lengths, _rows, site_key = load_trajectories(Path(run_dir) / "collect")
    rewards = load_rewards(run_dir)
    collected = read_json(Path(run_dir) / "collect" / "metrics.json")
    # trajectory i answers prompt i // K; training and validation are split by prompt so that no prompt is in both
    per_prompt = collected.get("samples_per_prompt", 1)
    groups = torch.arange(len(rewards)) // per_prompt
    if cfg.value_target == "advantage":
        if per_prompt < 2:
            raise ValueError(f"value_target='advantage' needs a collect step with samples_per_prompt >= 2; "
                             f"{Path(run_dir) / 'collect'} has one response per prompt: redo collect with "
                             "--samples-per-prompt 4 --do-sample")
        rewards = group_centred(rewards, groups)
    vcfg = ValueConfig(d_model=states.shape[-1], site=site_key, model=cfg.model, tokenizer_size=collected.get("tokenizer_size"),
                       width=cfg.width, depth=cfg.depth, activation=cfg.activation, standardize=cfg.standardize)
    tcfg = TrainConfig(lr=cfg.lr, epochs=cfg.epochs, batch_size=cfg.train_batch_size, val_fraction=cfg.val_fraction,
                       discount=cfg.discount, detach_target=cfg.detach_target, weight_decay=cfg.weight_decay,
                       patience=cfg.patience, select=cfg.value_select, seed=cfg.train_seed)
    t0 = time.perf_counter()
    device = distributed.default_device(cfg.device)
    ckpt = Checkpoints(step_dir / "checkpoints")
    value, hist = train_value(states, lengths, rewards, vcfg, tcfg, device=device, progress=ctx.progress,
                              checkpoints=ckpt.root, groups=groups)
    if distributed.is_main():
        value.save(step_dir, extra={"reward": cfg.reward})
        write_json(step_dir / "history.json", hist["history"])
    metrics = {
        "d_model": vcfg.d_model, "width": vcfg.width, "depth": vcfg.depth, "site": site_key,
        "n_train": hist["n_train"], "n_val": hist["n_val"], "best_epoch": hist["best_epoch"], "epochs_run": hist["epochs_run"],
        "train_loss": hist["train"]["loss"], "val_loss": hist["val"]["loss"], "val_terminal_mse": hist["val"]["terminal_mse"],
        "val_spearman": hist["val"]["spearman"], "val_spearman_first_state": hist["val"]["spearman_first_state"],
        "train_spearman": hist["train"]["spearman"], "value_target": cfg.value_target,
        **({"val_spearman_within_prompt": hist["val"]["spearman_within_group"]} if "spearman_within_group" in hist["val"] else {}),
        "seconds": time.perf_counter() - t0,
    }
    distributed.barrier()
    ckpt.clear()  # the saved value function supersedes them
    return metrics


@PIPELINE.step(needs=("train-value",), settings=_settings("evaluate"))
def evaluate(ctx: Context) -> dict[str, Any]:
    """The comparison table on held-out prompts, the paired intervals, and the trade-off curve (main process).

    Order: the validation trade-off curve (and with `auto_control` the choice of value function and
    setting on it), RE-Control and base on the test prompts, then the baselines, so that an interrupted
    run has its main comparison first; every method's outputs are kept under outputs/, so a re-run resumes.
    """
    cfg, run_dir, progress = ctx.cfg, ctx.run_dir, ctx.progress
    model, reward = _model(ctx), _reward(ctx)
    value = ValueFunction.load(Path(run_dir) / "train-value")
    value.check(model)
    candidates = {"this run": value}
    for path in cfg.compare_values:
        other = ValueFunction.load(path)
        other.check(model)
        candidates[str(path)] = other
    task = _task(cfg)
    test, val = evaluation_split(task, cfg.n_eval, cfg.n_val, cfg.retired_test, cfg.retired_validation)
    common = dict(model=model, reward=reward, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                  max_prompt_tokens=cfg.max_prompt_tokens)
    ev = Evaluator(prompts=render_prompts(model, test, cfg.chat), raw_prompts=raw_prompts(test), **common)
    ev_val = Evaluator(prompts=render_prompts(model, val, cfg.chat), raw_prompts=raw_prompts(val), **common)
    references = [e.chosen for e in test] if all(e.chosen is not None for e in test) else None
    control = ControlConfig(cfg.step_size, cfg.n_steps, cfg.penalty)

    def say(msg: str) -> None:
        if progress:
            print(f"[re-control evaluate] {msg}", flush=True)

    def method(name: str, fn) -> Outputs:
        """Run one method, or reuse its outputs from an interrupted run of this same step."""
        file = ctx.file(f"outputs/{name}.json")
        if file.exists():
            return Outputs.from_dict(read_json(file))
        say(name)
        out = fn()
        write_json(file, out.to_dict())
        return out

    extra: dict[str, Any] = {"data": {"test_ids": [e.prompt.id for e in test],
                                      "validation_ids": [e.prompt.id for e in val]}}
    embed = CachedEmbed()
    if cfg.baselines or cfg.tradeoff or cfg.auto_control:
        base_val = method("validation-base", ev_val.base)
    chosen = value
    if cfg.tradeoff or cfg.auto_control:
        # validation prompts only; it comes first so that auto_control can pick the test setting from it
        curves = {}
        for i, (tag, v) in enumerate(candidates.items()):
            say(f"trade-off curve on validation prompts ({tag})")
            prefix = "" if i == 0 else f"value{i}-"
            curves[tag] = tradeoff_curve(ev_val, v, base_val, cfg.tradeoff_step_sizes, cfg.tradeoff_n_steps,
                                         cfg.penalty, n_boot=cfg.n_boot, seed=cfg.eval_seed, progress=progress,
                                         embed=embed, run=lambda name, fn, p=prefix: method(p + name, fn))
        curve = curves["this run"]
        if cfg.auto_control:
            points = [{**p, "value": tag} for tag, c in curves.items() for p in c["points"]]
            extra["control_selection"] = choose_control({**curve, "points": points}, cfg.max_diversity_drop,
                                                        cfg.max_coherence_drop)
            sel = extra["control_selection"]
            chosen = candidates[sel["value"]]
            control = ControlConfig(sel["step_size"], sel["n_steps"], cfg.penalty)
            say(f"chose {sel['value']}, step size {control.step_size} x {control.n_steps} steps on validation "
                f"({sel['reason']})")
        write_json(ctx.file(TRADEOFF_FILE), {"reward": cfg.reward, "model": cfg.model,
                                                **({"selection": extra["control_selection"]} if cfg.auto_control else {}),
                                                **curve, **({"candidates": curves} if len(curves) > 1 else {})})
        extra["tradeoff"] = curve
        if len(curves) > 1:
            extra["tradeoff_candidates"] = curves
    ctl = method("re-control", lambda: ev.re_control(chosen, control))
    base = method("base", ev.base)
    outputs = [base]
    if cfg.baselines:
        instructed = render_prompts(model, test, cfg.chat, instruction=cfg.instruction)
        outputs.append(method("prompting", lambda: ev.prompting(instructed, cfg.instruction)))
        say("static representation editing (scale tuned on validation)")
        edit, tuning = _static_edit(cfg, run_dir, model, task, ev_val, base_val, method, progress, embed)
        extra["static_editing"] = tuning
        outputs.append(method("static-editing", lambda: ev.static(edit, tuning["best_scale"])))
        if cfg.best_of:  # sampled passes shared by every N: pass j is seeded eval_seed + j
            samples = [method(f"sample-{j}", lambda j=j: ev.sample(seed=cfg.eval_seed + j)) for j in range(max(cfg.best_of))]
            outputs.extend(best_of_samples(samples, cfg.best_of))
    outputs.append(ctl)
    say("scoring diversity, coherence and win rates")
    rows = [summarize(o, ev.raw_prompts, reward, references, cfg.n_boot, cfg.eval_seed, embed) for o in outputs]
    for o, r in zip(outputs, rows):  # every method against base on the same prompts: paired interval
        if o is not base:
            d = control_vs_base(o, base, cfg.n_boot, cfg.eval_seed)
            r.update(minus_base=d["difference"], minus_base_low=d["low"], minus_base_high=d["high"])
    diff = control_vs_base(ctl, base, cfg.n_boot, cfg.eval_seed)
    limits = test_limits(rows[0], rows[-1], cfg.test_diversity_limit, cfg.test_coherence_limit)
    if limits:
        extra["test_limits"] = limits
    write_json(ctx.file("table.json"), rows)
    write_jsonl(ctx.file("generations.jsonl"), [
        {"prompt": p, "id": test[i].prompt.id, **({"reference": references[i]} if references else {}),
         **{o.method: {"response": o.texts[i], "reward": float(o.rewards[i])} for o in outputs}}
        for i, p in enumerate(ev.raw_prompts)])
    return {
        "model": cfg.model, "dataset": cfg.dataset, "reward": cfg.reward, "n_eval": len(test),
        "control": {"step_size": control.step_size, "n_steps": control.n_steps, "penalty": control.penalty},
        "table": rows, "re_control_minus_base": diff, **extra,
    }


def test_limits(base: dict[str, Any], control: dict[str, Any], max_diversity_drop: float | None,
                max_coherence_drop: float | None) -> dict[str, Any]:
    """RE-Control's relative diversity and coherence drops from base on test, and whether they are within the
    limits stated in advance (empty when no limit is set)."""
    out: dict[str, Any] = {}
    for key, limit in (("diversity", max_diversity_drop), ("coherence", max_coherence_drop)):
        if limit is None:
            continue
        drop = (base[key] - control[key]) / max(abs(base[key]), 1e-12)
        out[key] = {"base": base[key], "re_control": control[key], "drop": drop, "limit": limit,
                    "within": bool(drop <= limit)}
    if out:
        out["within_all"] = all(v["within"] for v in out.values() if isinstance(v, dict))
    return out


def choose_control(curve: dict[str, Any], max_diversity_drop: float = 0.10,
                   max_coherence_drop: float = 0.15) -> dict[str, Any]:
    """Step size x steps from a validation trade-off curve, by `choose_within_limits` (weaker control on ties)."""
    points = curve["points"]
    if not points:
        raise ValueError("auto_control needs at least one trade-off setting (tradeoff_step_sizes x tradeoff_n_steps)")
    best, ok, reason = choose_within_limits(curve["base"], points, "reward_gain", max_diversity_drop,
                                            max_coherence_drop, strength=lambda p: p["step_size"] * p["n_steps"])
    return {"step_size": best["step_size"], "n_steps": best["n_steps"], "reason": reason,
            **({"value": best["value"]} if "value" in best else {}),
            "validation": {k: best[k] for k in ("reward_gain", "reward_gain_low", "reward_gain_high", "diversity",
                                                "coherence")},
            "feasible": [(p["step_size"], p["n_steps"], *([p["value"]] if "value" in p else [])) for p in ok]}


def _static_edit(cfg, run_dir, model, task, ev_val, base_val, method, progress, embed):
    """The static vector (pairs when the data set has them, else reward quartiles) and its tuned scale."""
    states, lengths, _rows, site_key = load_trajectories(Path(run_dir) / "collect")
    state_norm = float(real_states(states, lengths).norm(dim=-1).mean())
    if task.has_pairs:
        pairs = task.part("train", min(cfg.n_static_pairs, len(task.train)))
        vec = pair_vector(model, render_prompts(model, pairs, cfg.chat), [response_text(model, e.chosen, cfg.chat) for e in pairs],
                          [response_text(model, e.rejected, cfg.chat) for e in pairs], site_key, cfg.batch_size, progress)
        source = f"chosen minus rejected response states, {len(pairs)} training pairs"
    else:
        vec = reward_contrast_vector(states, lengths, load_rewards(run_dir))
        source = "top-quartile minus bottom-quartile reward trajectory states"
    edit = make_static_edit(vec, site_key, state_norm)
    outs = {s: method(f"validation-static-{s}", lambda s=s: ev_val.static(edit, s)) for s in cfg.static_scales}
    scores = {s: float(o.rewards.mean()) for s, o in outs.items()}
    tuning = {"source": source, "vector_norm": float(vec.norm()), "state_norm": state_norm,
              "validation_reward_by_scale": {str(k): v for k, v in scores.items()},
              "validation_base_reward": float(base_val.rewards.mean())}
    if not cfg.auto_control:
        return edit, {**tuning, "best_scale": max(scores, key=scores.get), "reason": "largest validation reward"}
    # under auto_control static editing is held to RE-Control's limits: tuned on reward alone it can win by
    # collapsing into one repeated answer (SmolLM2 / HH: diversity 0.69 -> 0.25 at the reward-best scale)
    base = quality(ev_val, base_val, embed)
    points = [{"scale": s, **quality(ev_val, o, embed), "reward_gain": scores[s] - base["reward"]} for s, o in outs.items()]
    best, _ok, reason = choose_within_limits(base, points, "reward_gain", cfg.max_diversity_drop, cfg.max_coherence_drop,
                                             strength=lambda p: p["scale"])
    return edit, {**tuning, "best_scale": best["scale"], "reason": reason, "validation_base": base,
                  "validation_by_scale": points}


register(PIPELINE)


# --- the functions behind the earlier API, now through the protocol ---------------------------
def _one(step: str, cfg: REControlConfig, run_dir: str | Path, force: bool, lazy: _Lazy | None,
         progress: bool = True) -> dict[str, Any]:
    lazy = lazy or _Lazy(cfg)
    ctx_models, scratch = lazy.models, lazy.scratch
    out = run(PIPELINE, cfg, run_dir, steps=[step], force=force, progress=progress, models=ctx_models, scratch=scratch)
    return out.get(step, {})


def run_collect(cfg: REControlConfig, run_dir: str | Path, force: bool = False, lazy: _Lazy | None = None,
                progress: bool = True) -> dict[str, Any]:
    return _one("collect", cfg, run_dir, force, lazy, progress)


def run_label(cfg: REControlConfig, run_dir: str | Path, force: bool = False, lazy: _Lazy | None = None,
              chunk: int = 256) -> dict[str, Any]:
    lazy = lazy or _Lazy(cfg)
    lazy.scratch["label_chunk"] = chunk
    return _one("label", cfg, run_dir, force, lazy)


def run_train_value(cfg: REControlConfig, run_dir: str | Path, force: bool = False, progress: bool = True) -> dict[str, Any]:
    return _one("train-value", cfg, run_dir, force, None, progress)


def run_evaluate(cfg: REControlConfig, run_dir: str | Path, force: bool = False, lazy: _Lazy | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """The evaluate step; under `accelerate launch` the main process evaluates, the others return {}."""
    if not distributed.is_main():
        return {}
    return _one("evaluate", cfg, run_dir, force, lazy, progress)


def run_all(cfg: REControlConfig, run_dir: str | Path, force: bool = False, model: "Model | None" = None,
            progress: bool = True) -> dict[str, dict[str, Any]]:
    """All four steps in order (finished ones skipped); returns each step's metrics."""
    lazy = _Lazy(cfg, model)
    return run(PIPELINE, cfg, run_dir, force=force, progress=progress, models=lazy.models, scratch=lazy.scratch)
