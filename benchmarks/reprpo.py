"""ReprPO training-step time of each method and variant relative to DPO's, at the same batch, in one process.

Prints one JSON object: for each variant (`mse`, `rank`, `prefvec`, `projgrad`, `projbp` in our form,
`<method>-ref` in the reference's form), the median seconds per optimizer step (forward, loss,
backward, projection, clipping, AdamW) after warm-up, and its ratio to DPO's. A trainer holds the
model's one LoRA adapter, so two methods cannot alternate step by step; instead each variant is
timed right after a fresh DPO run on the same batch and divided by *that* DPO median, so slow
drift of a shared machine hits both sides of each ratio (`dpo_seconds_spread` says how much the
DPO medians moved over the run).

Everything a pair needs from the reference model is computed once before training and cached
(log-probs, pooled states, and for ProjGrad/ProjBP the per-layer preference directions), so the
steps timed here pay only for what each method adds. Where the remaining time goes:
  * hidden-state losses (ours): pooling and the loss on [rows, layers, d]; a few percent.
  * reference side channels: two pre-hooks per collection layer, per-site sink filtering (a norm
    over every token of every site) and per-site losses; more sites, more small ops.
  * `rank-ref` with a learned transform (not the default `none` timed here) must rerun the
    reference forward each step, since its pooled log_softmax(T(h)) changes with T: ~+1/3.
  * ProjGrad: a projection of each LoRA B gradient and of each update (2 x 7 x n_layers small
    ops); ProjBP: a projection of every adapted layer's output gradient, [rows, pos, out] each,
    inside backward: this is real arithmetic on activation-sized tensors and is its residual cost.
Default: smollm2-135m-instruct, 4 GENIES pairs (8 sequences) cut to 256 tokens.
"""
from __future__ import annotations

import argparse
import statistics
import sys

import torch

from benchmarks.common import emit

DEFAULT_VARIANTS = "mse,rank,prefvec,projgrad,projbp,mse-ref,rank-ref,prefvec-ref,projbp-ref"
HIDDEN_AND_PROJECTION = ("mse", "rank", "prefvec", "projgrad", "projbp")


def parse_variant(name: str) -> tuple[str, str]:
    """'prefvec-ref' -> ('prefvec', 'reference'); 'mse' -> ('mse', 'ours')."""
    return (name[:-4], "reference") if name.endswith("-ref") else (name, "ours")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--batch-size", type=int, default=4, help="pairs per step")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--methods", default=DEFAULT_VARIANTS, help="variants to time against DPO ('-ref': reference form)")
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
    variants = [m.strip() for m in args.methods.split(",") if m.strip() and m.strip() != "dpo"]
    tokens = None

    def time_steps(name: str) -> float:
        nonlocal tokens
        method, variant = parse_variant(name)
        extra = {"ether_blocks": 4} if variant == "reference" and args.transform == "ether" else {}
        cfg = ReprPOConfig(model=args.model, method=method, variant=variant,
                           transform=args.transform if method in HIDDEN_METHODS else "none",
                           batch_size=args.batch_size, epochs=args.repeat + args.warmup, max_length=args.max_length,
                           max_prompt_length=min(192, args.max_length // 2), warmup_steps=0, schedule="constant",
                           lr=1e-5, **extra)
        trainer = ReprPOTrainer(model, pairs, cfg, progress=False)
        try:
            trainer.precompute_reference()
            idx = trainer.batch_indices(0)
            tokens = int(trainer.collate(idx).attention_mask.sum())
            times = [trainer.train_step(idx).seconds for _ in range(args.warmup + args.repeat)][args.warmup:]
        finally:
            trainer.close()
        return statistics.median(times)

    seconds, dpo_seconds, ratios = {}, {}, {}
    for name in variants:
        dpo_seconds[name] = time_steps("dpo")  # DPO right before each variant: the ratio's own baseline
        seconds[name] = time_steps(name)
        ratios[name] = seconds[name] / dpo_seconds[name]
        print(f"{name}: {seconds[name]:.3f} s/step, DPO {dpo_seconds[name]:.3f} s/step, ratio {ratios[name]:.3f}",
              file=sys.stderr, flush=True)  # progress: a killed run still says what it measured
    dpo_all = list(dpo_seconds.values())
    result = {
        "model": args.model, "device": str(model.device), "threads": torch.get_num_threads(),
        "batch_pairs": args.batch_size, "tokens_in_batch": tokens, "max_length": args.max_length,
        "transform": args.transform, "seconds_per_step": seconds, "dpo_seconds_per_step": dpo_seconds,
        "dpo_seconds_spread": (max(dpo_all) / min(dpo_all)) if dpo_all else None,
        "ratio_to_dpo": ratios,
    }
    timed = [ratios[v] for v in ratios if parse_variant(v)[0] in HIDDEN_AND_PROJECTION]
    if timed:
        result["max_ratio_hidden_and_projection"] = max(timed)
    emit(result)
    return result


if __name__ == "__main__":
    main()
