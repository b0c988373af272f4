"""`interp reprpo train|eval|compare`: Representation Preference Optimisation on GENIES shifts.

  interp reprpo train --method mse --transform ortho --source alpaca_easy --target alpaca_hard \\
      --random ranking_logic --model smollm2-135m-instruct --seed 0
  interp reprpo compare runs/reprpo --out runs/reprpo/compare
Multi-device: `accelerate launch -m app.cli reprpo train ...`.
"""
from __future__ import annotations

import json

from app.cli.options import add_chat, chat_value, count, count_or_zero, non_negative, positive, probability


def register(sub) -> None:
    from methods.reprpo.config import METHODS, SCHEDULES, TRANSFORMS

    p = sub.add_parser("reprpo", help="ReprPO: preference training on hidden states vs DPO, evaluated out of distribution")
    rsub = p.add_subparsers(dest="reprpo_command", metavar="ACTION")

    t = rsub.add_parser("train", help="train a LoRA adapter with one method, then evaluate base vs adapter")
    t.add_argument("--model", default="smollm2-135m-instruct", help="model spec")
    t.add_argument("--method", choices=METHODS, default="dpo")
    t.add_argument("--transform", choices=TRANSFORMS, default="none", help="hidden-state transform (mse/rank/prefvec)")
    t.add_argument("--source", default="alpaca_easy", help="GENIES set to train on (needs a train split)")
    t.add_argument("--target", default="alpaca_hard", help="GENIES set of the shift's target (test split)")
    t.add_argument("--random", default="ranking_logic", help="unrelated GENIES set (test split); '' for none")
    t.add_argument("--n-train", type=count, default=1500, help="distinct training pairs (one pass by default)")
    t.add_argument("--n-eval", type=count_or_zero, default=750, help="pairs per evaluation split (0: skip evaluation)")
    t.add_argument("--epochs", type=count, default=1)
    t.add_argument("--max-steps", type=count, default=None)
    t.add_argument("--batch-size", type=count, default=4, help="pairs per step and process")
    t.add_argument("--lr", type=positive, default=1e-3)
    t.add_argument("--warmup-steps", type=count_or_zero, default=10)
    t.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    t.add_argument("--max-grad-norm", type=non_negative, default=1.0)
    t.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no", help="autocast of the policy forward")
    t.add_argument("--beta", type=positive, default=None, help="DPO/IPO beta, rank softness (method default if unset)")
    t.add_argument("--alpha", type=non_negative, default=None, help="weight of the retain term (hidden-state methods)")
    t.add_argument("--eps", type=non_negative, default=None, help="mse: log-distance softening, a fraction of the reference distance")
    t.add_argument("--orth-weight", type=non_negative, default=None, help="prefvec: penalty on orthogonal movement")
    t.add_argument("--orth-scale", type=probability, default=None, help="projgrad/projbp: share of the orthogonal gradient kept")
    t.add_argument("--ipo-per-token", action="store_true", help="IPO on per-token log-ratios (TRL's form)")
    t.add_argument("--layers", default="0.3:-3", help="collection layers: 'a:b' inclusive, indices or depth fractions")
    t.add_argument("--lora-r", type=count, default=16)
    t.add_argument("--lora-alpha", type=positive, default=32.0)
    t.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
    t.add_argument("--max-length", type=count, default=256)
    t.add_argument("--max-prompt-length", type=count, default=192)
    t.add_argument("--eval-max-length", type=count, default=512, help="evaluation never cuts responses; prompts lose their start")
    t.add_argument("--eval-batch-size", type=count, default=8)
    add_chat(t, default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--save-every", type=count, default=100)
    t.add_argument("--run", default=None, help="run name (default reprpo/<source>-<method>-<transform>-s<seed>)")
    t.add_argument("--runs-dir", "--runs", dest="runs_dir", default="runs", help="runs directory (default: runs)")
    t.add_argument("--device", default=None)
    t.add_argument("--force", action="store_true", help="redo finished steps / replace a run of another config")
    t.set_defaults(func=run_train)

    c = rsub.add_parser("compare", help="one table over methods and seeds from finished runs")
    c.add_argument("paths", nargs="+", help="run directories, or folders holding them")
    c.add_argument("--out", required=True, help="directory to write compare.{json,csv,md} into")
    c.set_defaults(func=run_compare)
    p.set_defaults(func=lambda a: p.print_help())


def config_from_args(args):
    from methods.reprpo.config import ReprPOConfig

    return ReprPOConfig(
        model=args.model, method=args.method, transform=args.transform, beta=args.beta, alpha=args.alpha,
        eps=args.eps, orth_weight=args.orth_weight, orth_scale=args.orth_scale, ipo_per_token=args.ipo_per_token,
        layers=args.layers, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
        lora_targets=tuple(x.strip() for x in args.lora_targets.split(",") if x.strip()),
        lr=args.lr, warmup_steps=args.warmup_steps, schedule=args.schedule, max_grad_norm=args.max_grad_norm, mixed_precision=args.mixed_precision,
        batch_size=args.batch_size, epochs=args.epochs, max_steps=args.max_steps, seed=args.seed,
        max_length=args.max_length, max_prompt_length=args.max_prompt_length,
        chat=chat_value(args.chat),
        source=args.source, target=args.target, random=args.random, n_train=args.n_train, save_every=args.save_every,
    )


def run_train(args) -> int:
    from pathlib import Path

    from interp.runs import safe_name
    from methods.reprpo.data import check_names
    from methods.reprpo.pipeline import run_experiment

    import sys

    print("note: `interp reprpo run` is the new spelling of `interp reprpo train` (same settings as flags, "
          "plus --config FILE); `interp reprpo train` keeps working for this release", file=sys.stderr)
    cfg = config_from_args(args)
    check_names(cfg.source, cfg.target, cfg.random or None)  # before any model is loaded
    name = safe_name(args.run or f"reprpo/{cfg.source}-{cfg.method}-{cfg.transform}-s{cfg.seed}")
    run_dir = Path(args.runs_dir) / name
    out = run_experiment(cfg, run_dir, evaluate=args.n_eval > 0, n_eval=args.n_eval, eval_max_length=args.eval_max_length,
                         eval_batch_size=args.eval_batch_size, force=args.force, device=args.device)
    from accelerate import PartialState

    if PartialState().is_main_process:
        print(json.dumps({"run": str(run_dir), **out}, indent=2, default=str))
    return 0


def run_compare(args) -> int:
    from methods.reprpo.compare import find_runs, markdown, write_comparison

    rows = write_comparison(find_runs(args.paths), args.out)
    print(markdown(rows))
    print(f"written to {args.out}/compare.{{json,csv,md}}")
    return 0
