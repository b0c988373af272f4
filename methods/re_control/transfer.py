"""Transfer check: a finished RE-Control run's value function and setting, applied with no tuning at all to
another prompt set, base greedy against RE-Control under the same judge.

    python -m methods.re_control.transfer --run runs/re-control-prereg \\
        --setting-from methods/re_control/results/re-control-prereg.json \\
        --prompts anthropic-advanced-ai-risk --n 300 --out runs/re-control-prereg-transfer

The setting (step size x steps) is the one the run chose on its own validation prompts, read from its
result file; nothing is chosen on the transfer prompts. Writes OUT/transfer/{config.json, generations.jsonl,
metrics.json} (interp.runs), from which `interp results write OUT --pipeline re-control` writes a result file.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from interp.io import read_json, write_jsonl

STEP = "transfer"
ADVANCED_AI_RISK = "anthropic-advanced-ai-risk"


def advanced_ai_risk(n: int, seed: int = 0, root: str | Path | None = None) -> list[dict[str, str]]:
    """`n` questions (seeded sample) of the Anthropic advanced-ai-risk human-written evals, with ids FILE/LINE."""
    from interp.models.paths import data_dir

    folder = Path(root) if root else data_dir() / "anthropic_evals" / "advanced-ai-risk-human"
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no advanced-ai-risk files (*.jsonl) in {folder}; set INTERP_DATA to the shared data")
    items = []
    for f in files:
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                items.append({"id": f"{f.stem}/{i}", "text": json.loads(line)["question"]})
    if n > len(items):
        raise ValueError(f"asked for {n} questions; {folder} has {len(items)}")
    return random.Random(seed).sample(items, n)


def transfer_check(run_dir: str | Path, setting_from: str | Path, prompts: str, n: int, out: str | Path,
                   seed: int = 0, batch_size: int = 16, n_boot: int = 2000, force: bool = False) -> dict[str, Any]:
    from interp.data import Prompt
    from interp.runs import open_step
    from methods.re_control.config import REControlConfig
    from methods.re_control.control import ControlConfig
    from methods.re_control.data import Example, raw_prompts, render_prompts
    from methods.re_control.evaluate import CachedEmbed, Evaluator, control_vs_base, summarize
    from methods.re_control.pipeline import _Lazy, _model, _reward
    from methods.re_control.value import ValueFunction

    run_dir = Path(run_dir)
    record = read_json(setting_from)
    sel = record["notes"]["control_selection"]
    value_dir = run_dir if sel.get("value", "this run") == "this run" else Path(sel["value"])  # a compared run
    evaluate_cfg = read_json(run_dir / "evaluate" / "config.json") if (run_dir / "evaluate" / "config.json").exists() else {}
    if prompts != ADVANCED_AI_RISK:
        raise ValueError(f"unknown transfer prompt set {prompts!r}; known: {ADVANCED_AI_RISK}")
    items = advanced_ai_risk(n, seed)
    collect = read_json(run_dir / "collect" / "config.json")
    label = read_json(run_dir / "label" / "config.json")
    settings = {"method": "re-control", "step": STEP, "run": str(run_dir), "setting_from": str(setting_from),
                "step_size": sel["step_size"], "n_steps": sel["n_steps"], "penalty": evaluate_cfg.get("penalty", 0.0),
                "prompts": prompts, "n": n, "seed": seed, "model": collect["model"], "reward": label["reward"],
                "max_new_tokens": collect["max_new_tokens"], "max_prompt_tokens": collect.get("max_prompt_tokens"),
                "chat": collect.get("chat"), "n_boot": n_boot,
                "value": str(value_dir), "value_fingerprint": read_json(value_dir / "train-value" / "config.json").get("upstream")}
    step = open_step(out, STEP, settings, force=force)
    if step.done:
        return step.metrics()
    cfg = REControlConfig(model=collect["model"], reward=label["reward"], batch_size=batch_size)
    lazy = _Lazy(cfg)
    model, reward = _model(lazy), _reward(lazy)
    value = ValueFunction.load(value_dir / "train-value")
    value.check(model)
    examples = [Example(Prompt(text=it["text"], id=it["id"])) for it in items]
    ev = Evaluator(model=model, prompts=render_prompts(model, examples, collect.get("chat")),
                   raw_prompts=raw_prompts(examples), reward=reward, max_new_tokens=collect["max_new_tokens"],
                   batch_size=batch_size, max_prompt_tokens=collect.get("max_prompt_tokens"))
    base = ev.base()
    ctl = ev.re_control(value, ControlConfig(sel["step_size"], sel["n_steps"], settings["penalty"]))
    embed = CachedEmbed()
    rows = [summarize(o, ev.raw_prompts, reward, None, n_boot, seed, embed) for o in (base, ctl)]
    d = control_vs_base(ctl, base, n_boot, seed)
    rows[1].update(minus_base=d["difference"], minus_base_low=d["low"], minus_base_high=d["high"])
    write_jsonl(step.file("generations.jsonl"), [
        {"id": it["id"], "prompt": it["text"], "base": {"response": b, "reward": float(rb)},
         "RE-Control": {"response": c, "reward": float(rc)}}
        for it, b, rb, c, rc in zip(items, base.texts, base.rewards, ctl.texts, ctl.rewards)])
    metrics = {"table": rows, "re_control_minus_base": d, "ids": [it["id"] for it in items],
               "value_function": read_json(value_dir / "train-value" / "metrics.json")}
    step.finish(metrics)
    return metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="the finished RE-Control run whose value function is applied")
    p.add_argument("--setting-from", required=True, help="that run's result file (its control_selection is used)")
    p.add_argument("--prompts", default=ADVANCED_AI_RISK, help=f"the transfer prompt set ({ADVANCED_AI_RISK})")
    p.add_argument("--n", type=int, default=300, help="questions sampled (seeded)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", required=True, help="run directory to write OUT/transfer into")
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    m = transfer_check(a.run, a.setting_from, a.prompts, a.n, a.out, a.seed, a.batch_size, force=a.force)
    print(json.dumps({"re_control_minus_base": m["re_control_minus_base"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
