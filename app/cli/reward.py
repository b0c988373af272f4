"""`interp reward ...`: train a Bradley-Terry reward model, score texts with any named reward."""
from __future__ import annotations

import json
import time

from app.cli.options import count, count_or_zero, non_negative, positive, probability


def register(sub) -> None:
    p = sub.add_parser("reward", help="train and apply reward models")
    rsub = p.add_subparsers(dest="reward_command", metavar="ACTION")

    t = rsub.add_parser(
        "train",
        help="train a Bradley-Terry head over a frozen encoder on preference pairs; report held-out accuracy",
        description="Embeds prompt+response once with a frozen encoder, trains an MLP head with the "
        "Bradley-Terry loss on a seeded split, and writes OUT/embed and OUT/train (load with rm:OUT).",
    )
    t.add_argument("--data", default="hh-rlhf", help="data set name of preference pairs (see interp.data.by_name), "
                   "e.g. hh-rlhf, hh-rlhf:harmless-base, genies:math, jsonl:PATH (default hh-rlhf)")
    t.add_argument("--split", default=None, help="the data set's own split to load (default: the loader's default)")
    t.add_argument("--out", required=True, help="run directory to write (e.g. runs/rm)")
    t.add_argument("--encoder", default="minilm", help="minilm (default), st:PATH, or model:SPEC (pooled final() state)")
    t.add_argument("--pool", default="mean", choices=["mean", "last"], help="pooling for model:SPEC encoders")
    t.add_argument("--max-length", type=count, default=256, help="tokens per prompt+response, keeping the end (default 256)")
    t.add_argument("--text", default="joined", choices=["joined", "response"], help="what the encoder sees: prompt + "
                   "response (default), or the response alone (scores that depend less on the prompt)")
    t.add_argument("--hidden", type=count_or_zero, default=64, help="hidden width of the head; 0 for a linear head")
    t.add_argument("--dropout", type=probability, default=0.2)
    t.add_argument("--lr", type=positive, default=3e-4)
    t.add_argument("--weight-decay", type=non_negative, default=1e-2)
    t.add_argument("--batch-size", type=count, default=64)
    t.add_argument("--epochs", type=count, default=300, help="maximum epochs (early stopping usually ends sooner)")
    t.add_argument("--patience", type=count, default=20, help="epochs without a better validation loss before stopping")
    t.add_argument("--seed", type=int, default=0, help="seed of the split and the head's training")
    t.add_argument("--test-fraction", type=probability, default=0.2, help="held-out share of the pairs (default 0.2)")
    t.add_argument("--val-fraction", type=probability, default=0.1, help="share of the training pairs used for early stopping")
    t.add_argument("--limit", type=count, default=None, help="use only the first N pairs (quick runs)")
    t.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when available)")
    t.add_argument("--force", action="store_true", help="redo steps whose outputs exist or whose config changed")
    t.set_defaults(func=run_train)

    s = rsub.add_parser("score", help="score responses to one prompt with a named reward")
    s.add_argument("reward", help="vader-utility, vader-sentiment, rm:PATH or hf-rm:PATH")
    s.add_argument("--prompt", default="", help="the prompt the responses answer")
    s.add_argument("responses", nargs="+", help="one or more responses")
    s.add_argument("--device", default=None)
    s.set_defaults(func=run_score)

    ls = rsub.add_parser("list", help="list reward names")
    ls.set_defaults(func=run_list)
    p.set_defaults(func=lambda a: p.print_help())


def load_pairs(name: str, split: str | None, limit: int | None):
    from interp.data.by_name import load_dataset_by_name
    from interp.data.types import PreferencePair

    items = load_dataset_by_name(name, split=split)
    if not items or not isinstance(items[0], PreferencePair):
        kind = type(items[0]).__name__ if items else "nothing"
        raise ValueError(f"data set {name!r} gives {kind}, not preference pairs; name a pair data set such as hh-rlhf")
    if limit is not None:
        if limit < 10:
            raise ValueError(f"--limit {limit} is too small; use at least 10 pairs")
        items = items[:limit]
    return items, getattr(items, "source", name)


def run_train(args) -> int:
    from interp.runs import writing

    with writing(args.out):  # one writer per run directory: a second `reward train --out` is refused at once
        return _train(args)


def _train(args) -> int:
    from interp.rewards.bradley_terry import BTConfig
    from interp.rewards.train import train_reward_model

    t0 = time.perf_counter()
    pairs, source = load_pairs(args.data, args.split, args.limit)
    cfg = BTConfig(
        encoder=args.encoder, pool=args.pool, max_length=args.max_length, text=args.text, hidden=args.hidden,
        dropout=args.dropout,
        lr=args.lr, weight_decay=args.weight_decay, batch_size=args.batch_size, max_epochs=args.epochs,
        patience=args.patience, seed=args.seed,
    )
    data = f"{args.data}" + (f"[{args.split}]" if args.split else "") + (f"[:{args.limit}]" if args.limit else "")
    metrics = train_reward_model(
        pairs, args.out, cfg, data=data, test_fraction=args.test_fraction, val_fraction=args.val_fraction,
        device=args.device, force=args.force,
    )
    print(json.dumps({"data": source, "out": str(args.out), **metrics, "seconds_total": time.perf_counter() - t0}, indent=2))
    print(f"held-out pairwise accuracy {metrics['test_accuracy']:.4f} on {metrics['n_test']} pairs; "
          f"use it as --reward rm:{args.out}")
    return 0


def run_score(args) -> int:
    from interp.rewards import get_reward

    reward = get_reward(args.reward, device=args.device)
    scores = reward([args.prompt] * len(args.responses), args.responses)
    for text, score in zip(args.responses, scores.tolist()):
        print(f"{score:+.4f}\t{text}")
    return 0


def run_list(args) -> int:
    from interp.rewards import REWARD_NAMES

    for name, what in REWARD_NAMES.items():
        print(f"{name:18s} {what}")
    return 0
