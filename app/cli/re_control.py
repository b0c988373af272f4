"""`interp re-control run|collect|label|train-value|evaluate`: the RE-Control pipeline, whole or step by step.

Every step writes into RUNS/NAME/<step>/ and is skipped when already finished with the same
settings (`--force` redoes it); an interrupted step resumes from what it saved when re-run.
Collection, labelling and value training split over processes under
`accelerate launch --num_processes N -m app.cli re-control ...`. Each setting of
methods.re_control.REControlConfig is a flag
(`--n-train 500`, `--step-size 0.5`, `--no-detach-target` ...); `--config FILE.json` reads them
from a file, and flags override the file.
"""
from __future__ import annotations

import argparse
import json
import typing
from dataclasses import fields

HELP = {
    "model": "model spec (default smollm2-135m-instruct; stories260k for a fast run)",
    "dataset": "hh-rlhf[:SUBSET] | rt-polarity-prompts | jsonl:PATH (see interp.data)",
    "source_split": "file split to load before splitting (hh-rlhf: test, the one in the offline data)",
    "fractions": "train / validation / test fractions of the distinct prompts",
    "chat": "render prompts through the chat template: auto (when the model has one), yes or no",
    "site": "site whose state is controlled, e.g. final or resid_post:-1",
    "device_map": "Accelerate device map for a model too big for one device, e.g. auto (one process; not with "
                  "accelerate launch, where every process holds a whole model)",
    "n_train": "training prompts to collect trajectories from",
    "samples_per_prompt": "sampled responses per training prompt (needs --do-sample; for --value-target advantage)",
    "value_target": "reward: fit V to r (the paper); advantage: to r minus the mean r of the prompt's responses",
    "max_new_tokens": "response length for collection and evaluation",
    "do_sample": "sample the training responses (with --seed) instead of greedy",
    "reward": "reward name: vader-sentiment, vader-utility, rm:PATH, hf-rm:PATH",
    "depth": "hidden layers of the value MLP",
    "width": "hidden width of the value MLP (default: the model's d_model)",
    "standardize": "standardise value-network inputs with the training states' mean and std",
    "detach_target": "semi-gradient TD (target V(s_t+1) detached); --no-detach-target: residual gradient",
    "discount": "discount in the Bellman target",
    "step_size": "gradient-ascent step size on V(h + u)",
    "n_steps": "gradient-ascent steps per decoding step",
    "penalty": "lambda in V(h + u) - lambda ||u||^2",
    "n_eval": "held-out test prompts",
    "n_val": "validation prompts (static-editing scale, trade-off curve)",
    "instruction": "the instruction the prompting baseline puts in front (system message for chat models)",
    "static_scales": "static-editing scales tried on validation (x mean state norm)",
    "n_static_pairs": "training pairs behind the static chosen-minus-rejected vector",
    "best_of": "N values for Best-of-N",
    "baselines": "run prompting, static editing and Best-of-N too",
    "tradeoff": "save the step size x steps trade-off curve",
}
STEPS = {
    "run": "all steps in order (finished ones are skipped)",
    "collect": "1. generate for training prompts and store the state at the site at every step",
    "label": "2. score the collected responses with the reward",
    "train-value": "3. fit the value function with the Bellman loss",
    "evaluate": "5. compare with base, prompting, static editing and Best-of-N on held-out prompts",
}


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    from methods.re_control import REControlConfig

    hints = typing.get_type_hints(REControlConfig)
    for f in fields(REControlConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        args = typing.get_args(kind)
        help_ = f"{HELP.get(f.name, f.name.replace('_', ' '))} (default: {f.default})"
        if f.name == "chat":
            p.add_argument(flag, choices=["auto", "yes", "no"], default=None, help=help_)
        elif kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_)
        elif typing.get_origin(kind) is tuple:
            p.add_argument(flag, nargs="+", type=args[0], default=None, help=help_)
        else:
            base = next((a for a in args if a is not type(None)), kind) if args else kind
            p.add_argument(flag, type=base, default=None, help=help_)


def register(sub) -> None:
    p = sub.add_parser("re-control", help="RE-Control: value-guided representation editing at decoding time")
    rsub = p.add_subparsers(dest="re_control_command", metavar="STEP")
    for name, help_ in STEPS.items():
        s = rsub.add_parser(name, help=help_, description=help_)
        s.add_argument("--run", required=True, help="run name: results go to RUNS/NAME/<step>/")
        s.add_argument("--runs", "--runs-dir", dest="runs", default="runs", help="runs directory (default: runs)")
        s.add_argument("--config", help="JSON file of settings (flags override it)")
        s.add_argument("--force", action="store_true", help="redo this step (for run: every step) even if finished")
        s.add_argument("--quiet", action="store_true", help="no progress bars")
        _add_config_flags(s)
        s.set_defaults(func=run, step=name)
    p.set_defaults(func=lambda a: p.print_help())


def build_config(args):
    from methods.re_control import REControlConfig

    values = {}
    if args.config:
        from interp.io import read_json

        values.update(read_json(args.config))
    for f in fields(REControlConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = {"auto": None, "yes": True, "no": False}[v] if f.name == "chat" else v
    for k, v in list(values.items()):
        if isinstance(v, list):
            values[k] = tuple(v)
    return REControlConfig.from_dict(values)


def run(args) -> int:
    from pathlib import Path

    from interp.runs import safe_name
    from methods.re_control import pipeline

    cfg = build_config(args)
    run_dir = Path(args.runs) / safe_name(args.run)
    progress = not args.quiet
    if args.step == "run":
        out = pipeline.run_all(cfg, run_dir, force=args.force, progress=progress)
        metrics = out["evaluate"]
    elif args.step == "collect":
        metrics = pipeline.run_collect(cfg, run_dir, force=args.force, progress=progress)
    elif args.step == "label":
        metrics = pipeline.run_label(cfg, run_dir, force=args.force)
    elif args.step == "train-value":
        metrics = pipeline.run_train_value(cfg, run_dir, force=args.force, progress=progress)
    else:
        metrics = pipeline.run_evaluate(cfg, run_dir, force=args.force, progress=progress)
    from interp import distributed

    if not distributed.is_main():  # under `accelerate launch` the main process reports
        return 0
    if "table" in metrics:
        print_table(metrics)
    else:
        print(json.dumps(metrics, indent=2))
    print(f"\nrun directory: {run_dir}")
    return 0


def print_table(metrics: dict) -> None:
    from app.cli.common import table

    rows = []
    for r in metrics["table"]:
        row = {"method": r["method"], "reward [95% CI]": f"{r['reward']:+.3f} [{r['reward_low']:+.3f}, {r['reward_high']:+.3f}]",
               "diversity": r["diversity"], "coherence": r["coherence"]}
        if "win_rate" in r:
            row["win rate vs chosen"] = f"{r['win_rate']:.3f} [{r['win_rate_low']:.3f}, {r['win_rate_high']:.3f}]"
        row["s/prompt"] = r["seconds_per_prompt"]
        rows.append(row)
    print(f"RE-Control on {metrics['model']}, {metrics['dataset']}, reward {metrics['reward']}, {metrics['n_eval']} test prompts")
    print(table(rows))
    d = metrics["re_control_minus_base"]
    print(f"\nRE-Control minus base, mean reward: {d['difference']:+.4f} (paired bootstrap {int(d['ci'] * 100)}% "
          f"interval [{d['low']:+.4f}, {d['high']:+.4f}], {d['n']} prompts)")
    if "static_editing" in metrics:
        s = metrics["static_editing"]
        print(f"static editing: {s['source']}; scale {s['best_scale']} x mean state norm (tuned on validation)")
