"""ReprPO training-step time of each method relative to DPO, at the same batch, in one process.

Prints one JSON object: median seconds per optimizer step of each method (forward, loss,
backward, clipping, AdamW) after warm-up, and its ratio to DPO's. Reference log-probabilities and
pooled reference states are cached before timing (computed once per pair, as in training), so
the loss-based hidden-state methods (mse, rank, prefvec) pay only for reading and pooling the
states; ProjGrad/ProjBP run a reference pass every step by design and are reported apart.
Default: smollm2-135m-instruct, 4 GENIES pairs (8 sequences) cut to 256 tokens.
"""
from __future__ import annotations

import argparse
import statistics

import torch

from benchmarks.common import emit

LOSS_BASED = ("mse", "rank", "prefvec")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--batch-size", type=int, default=4, help="pairs per step")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--methods", default="dpo,mse,rank,prefvec,projgrad,projbp")
    ap.add_argument("--transform", default="none", help="transform for the hidden-state methods")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from interp.data import genies
    from interp.models import load_model
    from methods.reprpo.config import HIDDEN_METHODS, ReprPOConfig
    from methods.reprpo.data import rendered
    from methods.reprpo.trainer import ReprPOTrainer

    model = load_model(args.model, device=args.device)
    # the longest pairs, so every sequence is near max_length
    raw = sorted(genies("alpaca_easy", "train"), key=lambda p: -len(p.prompt + p.chosen + p.rejected))[: args.batch_size]
    pairs = rendered(model, raw, None)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "dpo" not in methods:
        methods = ["dpo", *methods]
    seconds, tokens = {}, None
    for method in methods:
        cfg = ReprPOConfig(model=args.model, method=method, transform=args.transform if method in HIDDEN_METHODS else "none",
                           batch_size=args.batch_size, epochs=args.repeat + args.warmup, max_length=args.max_length,
                           max_prompt_length=min(192, args.max_length // 2), warmup_steps=0, schedule="constant", lr=1e-5)
        trainer = ReprPOTrainer(model, pairs, cfg, progress=False)
        try:
            trainer.precompute_reference()
            idx = trainer.batch_indices(0)
            batch = trainer.collate(idx)
            tokens = int(batch.attention_mask.sum())
            times = [trainer.train_step(idx).seconds for _ in range(args.warmup + args.repeat)][args.warmup:]
        finally:
            trainer.close()
        seconds[method] = statistics.median(times)
    dpo = seconds["dpo"]
    result = {
        "model": args.model, "device": str(model.device), "threads": torch.get_num_threads(),
        "batch_pairs": args.batch_size, "tokens_in_batch": tokens, "max_length": args.max_length,
        "transform": args.transform, "seconds_per_step": seconds,
        "ratio_to_dpo": {m: s / dpo for m, s in seconds.items() if m != "dpo"},
    }
    loss_based = [result["ratio_to_dpo"][m] for m in LOSS_BASED if m in result["ratio_to_dpo"]]
    if loss_based:
        result["max_ratio_loss_based"] = max(loss_based)
    emit(result)
    return result


if __name__ == "__main__":
    main()
