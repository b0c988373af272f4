"""`interp vas ...`: Value Augmented Sampling (train a value model, decode with it, evaluate, compose)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from methods.vas.defaults import DEFAULT_TOP_K

from app.cli.options import add_chat, add_do_sample, chat_value, count, positive, probability

DEFAULT_PROMPTS = "rt-polarity-prompts"


def _common(p, split: str) -> None:
    p.add_argument("--model", default=None, help="base model spec (default: smollm2-135m-instruct)")
    p.add_argument("--prompts", default=DEFAULT_PROMPTS, help="a data set name (e.g. rt-polarity-prompts, "
                   "hh-rlhf-prompts) or a prompt file (.txt one per line, .jsonl field 'prompt')")
    p.add_argument("--split", default=split, help=f"the data set's split (default {split}; ignored for files)")
    p.add_argument("--n-prompts", type=count, default=None, help="use the first N prompts")
    add_chat(p)
    p.add_argument("--max-new-tokens", type=count, default=32)
    p.add_argument("--batch-size", type=count, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when available)")
    p.add_argument("--force", action="store_true", help="redo steps whose outputs exist or whose config changed")


def _floats(s: str) -> list[float]:
    try:
        return [float(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated numbers, got {s!r}") from None


def _ints(s: str) -> list[int]:
    try:
        return [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {s!r}") from None


def _run_dir(p, required: bool, what: str) -> None:
    """The run directory, as a path (`--out DIR`) or, like the other methods, `--run NAME [--runs DIR]`."""
    where = p.add_mutually_exclusive_group(required=required)
    where.add_argument("--out", default=None, help=f"run directory (e.g. runs/vas); {what}")
    where.add_argument("--run", default=None, help="run name: the run directory is RUNS/NAME (same as --out RUNS/NAME)")
    p.add_argument("--runs", "--runs-dir", dest="runs", default="runs", help="runs directory for --run (default: runs)")


def resolve_out(args) -> None:
    """Set `args.out` from `--run NAME` (a plain name: it cannot leave the runs directory)."""
    if getattr(args, "run", None):
        from interp.runs import safe_name

        args.out = str(Path(args.runs) / safe_name(args.run))


def register(sub) -> None:
    p = sub.add_parser("vas", help="Value Augmented Sampling: value-guided decoding (Han, Shenfeld et al. 2024)")
    vsub = p.add_subparsers(dest="vas_command", metavar="ACTION")

    t = vsub.add_parser("train", help="sample from the base model, score with a reward, fit a value model by TD(lambda)",
                        description="Writes OUT/rollouts and OUT/train (the value model; pass OUT to --value).")
    _common(t, "train")
    _run_dir(t, required=True, what="writes OUT/rollouts and OUT/train")
    t.add_argument("--reward", default="vader-sentiment", help="reward name (vader-sentiment, vader-utility, rm:PATH, "
                   "hf-rm:PATH; neg:NAME negates one)")
    t.add_argument("--samples-per-prompt", type=count, default=1)
    t.add_argument("--temperature", type=positive, default=1.0)
    t.add_argument("--backbone", default=None, help="value model backbone spec (default: the base model; a smaller "
                   "model works when its tokenizer is identical)")
    t.add_argument("--value-layers", type=count, default=None, help="keep only the backbone's first N blocks (a cheaper "
                   "value model with the same tokenizer)")
    t.add_argument("--adapter", default="lora", choices=["lora", "none"], help="train a LoRA adapter, or freeze the backbone")
    t.add_argument("--head", default=None, choices=["linear", "mlp"], help="value head (default: linear with LoRA, mlp without)")
    t.add_argument("--lora-r", type=count, default=8)
    t.add_argument("--lora-alpha", type=count, default=16)
    t.add_argument("--epochs", type=count, default=4)
    t.add_argument("--lr", type=positive, default=1e-3)
    t.add_argument("--train-batch-size", type=count, default=16)
    t.add_argument("--gamma", type=probability, default=1.0)
    t.add_argument("--lam", type=probability, default=0.95, help="TD(lambda)'s lambda")
    t.add_argument("--val-fraction", type=probability, default=0.1)
    t.add_argument("--keep", default="last", choices=["last", "best"], help="keep the last epoch, or the one with the "
                   "lowest validation MSE to the reward")
    t.set_defaults(func=run_train)

    g = vsub.add_parser("generate", help="decode with one or more value models, each with its own beta")
    _common(g, "test")
    g.add_argument("--prompt", action="append", help="a prompt (repeatable; replaces --prompts)")
    g.add_argument("--value", action="append", required=True, metavar="PATH:BETA",
                   help="a value model (folder or `vas train` run) and its beta; repeat to compose estimators")
    g.add_argument("--top-k", type=count, default=DEFAULT_TOP_K,
                   help=f"candidates scored per step (default {DEFAULT_TOP_K}, the reference implementation's)")
    g.add_argument("--drop-others", action="store_true", help="sample only among the top-k tokens")
    add_do_sample(g, default=True, earlier="--greedy")
    g.add_argument("--temperature", type=positive, default=1.0)
    g.add_argument("--reward", default=None, help="also score the responses with this reward")
    _run_dir(g, required=False, what="writes OUT/generate (default: print only)")
    g.set_defaults(func=run_generate)

    e = vsub.add_parser("evaluate", help="table: base, VAS at several beta, Best-of-N; reward, diversity, coherence, time")
    _common(e, "test")
    e.add_argument("--value", required=True, help="value model folder or `vas train` run directory")
    e.add_argument("--reward", default="vader-sentiment")
    e.add_argument("--betas", default="1,2,4", help="comma-separated betas (default 1,2,4)")
    e.add_argument("--best-of", default="2,4,8,16", help="comma-separated N for Best-of-N ('' for none)")
    e.add_argument("--top-k", type=count, default=DEFAULT_TOP_K)
    e.add_argument("--drop-others", action="store_true")
    e.add_argument("--temperature", type=positive, default=1.0)
    e.add_argument("--no-coherence", action="store_true", help="skip the MiniLM coherence column")
    _run_dir(e, required=True, what="writes OUT/evaluate")
    e.set_defaults(func=run_evaluate)

    c = vsub.add_parser("grid", help="compose two value models on a grid of (beta_1, beta_2); writes OUT/grid/grid.json")
    _common(c, "test")
    c.add_argument("--value", action="append", required=True, help="value model (exactly two)")
    c.add_argument("--rewards", required=True, help="the two rewards, comma-separated, e.g. vader-sentiment,neg:vader-sentiment")
    c.add_argument("--betas-1", default="0,2,4")
    c.add_argument("--betas-2", default="0,2,4")
    c.add_argument("--top-k", type=count, default=DEFAULT_TOP_K)
    c.add_argument("--temperature", type=positive, default=1.0)
    _run_dir(c, required=True, what="writes OUT/grid")
    c.set_defaults(func=run_grid)
    p.set_defaults(func=lambda a: p.print_help())


def load_prompts(args) -> tuple[list[str], str]:
    """Prompts from --prompt, a prompt file, or a data set name; and a description for the config."""
    from methods.vas.prompts import load_prompts as load

    return load(args.prompts, args.split, args.n_prompts, args.seed, getattr(args, "prompt", None))


def _model(args):
    from interp import DEFAULT_MODEL, distributed, load_model

    # under `accelerate launch` each process takes its own device (cuda:<local rank>)
    device = args.device or (distributed.default_device() if distributed.launched() else None)
    return load_model(args.model or DEFAULT_MODEL, device=device)


def _chat(args):
    return chat_value(args.chat)


def run_train(args) -> int:
    resolve_out(args)
    from interp.runs import writing

    with writing(args.out):  # before the model loads: a second writer is refused at once
        return _train(args)


def _train(args) -> int:
    from methods.vas.pipeline import train
    from methods.vas.train import TrainConfig
    from methods.vas.value_model import ValueConfig

    model = _model(args)
    prompts, source = load_prompts(args)
    head = args.head or ("linear" if args.adapter == "lora" else "mlp")
    vcfg = ValueConfig(backbone=args.backbone or model.spec, adapter=args.adapter, head=head,
                       lora_r=args.lora_r, lora_alpha=args.lora_alpha, n_layers=args.value_layers)
    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.train_batch_size, lr=args.lr, gamma=args.gamma,
                       lam=args.lam, val_fraction=args.val_fraction, keep=args.keep, seed=args.seed)
    metrics = train(args.out, model, prompts, args.reward, vcfg, tcfg, args.samples_per_prompt, args.max_new_tokens,
                    args.temperature, args.batch_size, _chat(args), source, force=args.force)
    from interp import distributed

    if not distributed.is_main():  # under `accelerate launch` the main process reports
        return 0
    print(json.dumps(metrics, indent=2, default=str))
    print(f"value model: {Path(args.out) / 'train'}  (use --value {args.out}:BETA)")
    return 0


def run_generate(args) -> int:
    resolve_out(args)
    if args.out is None:
        return _generate(args)
    from interp.runs import writing

    with writing(args.out):
        return _generate(args)


def _generate(args) -> int:
    from methods.vas.pipeline import generate, parse_value_specs

    specs = parse_value_specs(args.value)
    model = _model(args)
    prompts, _ = load_prompts(args)
    rows, metrics = generate(args.out, model, prompts, specs, top_k=args.top_k, drop_others=args.drop_others,
                             reward_name=args.reward, force=args.force, max_new_tokens=args.max_new_tokens,
                             do_sample=args.do_sample, temperature=args.temperature, seed=args.seed,
                             batch_size=args.batch_size, chat=_chat(args), progress=True)
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    print(json.dumps(metrics, default=str))
    return 0


def run_evaluate(args) -> int:
    resolve_out(args)
    from interp.runs import writing

    with writing(args.out):
        return _evaluate(args)


def _evaluate(args) -> int:
    from interp.text_table import table
    from methods.vas.evaluate import EvalConfig
    from methods.vas.pipeline import evaluate_step

    t0 = time.perf_counter()
    model = _model(args)
    prompts, source = load_prompts(args)
    cfg = EvalConfig(betas=_floats(args.betas), best_of=_ints(args.best_of), top_k=args.top_k,
                     drop_others=args.drop_others, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                     seed=args.seed, batch_size=args.batch_size, chat=_chat(args), coherence=not args.no_coherence)
    rows, step = evaluate_step(args.out, model, prompts, args.value, args.reward, cfg, source, force=args.force)
    cols = ["method", "beta", "n", "reward", "reward_low", "reward_high", "delta", "delta_low", "delta_high",
            "diversity", "coherence", "seconds_per_prompt"]
    print(table(rows, [c for c in cols if any(c in r for r in rows)]))
    print(f"table: {step.file('table.json')}  ({time.perf_counter() - t0:.0f} s)")
    return 0


def run_grid(args) -> int:
    resolve_out(args)
    from interp.runs import writing

    with writing(args.out):
        return _grid(args)


def _grid(args) -> int:
    from interp.text_table import table
    from methods.vas.evaluate import EvalConfig
    from methods.vas.pipeline import grid_step

    if len(args.value) != 2:
        raise ValueError(f"vas grid takes exactly two --value models, got {len(args.value)}")
    rewards = [r.strip() for r in args.rewards.split(",")]
    if len(rewards) != 2:
        raise ValueError(f"--rewards takes two comma-separated names, got {args.rewards!r}")
    model = _model(args)
    prompts, _ = load_prompts(args)
    cfg = EvalConfig(top_k=args.top_k, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                     seed=args.seed, batch_size=args.batch_size, chat=_chat(args), coherence=False)
    grid = grid_step(args.out, model, prompts, args.value, rewards, _floats(args.betas_1), _floats(args.betas_2), cfg,
                     force=args.force)
    print(table(grid["cells"], ["beta_1", "beta_2", "reward_1", "reward_2", "diversity", "seconds_per_prompt"]))
    print(f"Spearman(beta_1, {rewards[0]}) per line: {grid['spearman_axis_1']}")
    print(f"Spearman(beta_2, {rewards[1]}) per line: {grid['spearman_axis_2']}")
    print(f"grid: {Path(args.out) / 'grid' / 'grid.json'}")
    return 0
