"""VAS decoding cost, measured in one process. Prints one JSON object:

 (a) scoring k=10 candidates for a left-padded batch: ONE batched forward over the repeated prefix
     cache vs one forward per (row, candidate) reusing that row's cache, as the original
     implementation does; with the largest difference between the two sets of Q values
 (b) VAS generation time / plain generation time (same prompts, tokens, sampling seed)
 (c) Best-of-N time (N=--best-of samples + reward scoring) / plain generation time

Default: SmolLM2 (the real model: on stories260k the ratio measures Python overhead, 3.6x against
1.65x), batch 8, prefixes of 32 tokens, 32 new tokens. The value model is the base architecture with
a seeded random LoRA adapter and head unless --value names a trained one (its values do not change
the cost); --value-layers N keeps only its first N blocks (the cheap value model VAS allows).
"""
from __future__ import annotations

import argparse

import torch

from benchmarks.common import device_name, dtype_arg, emit, timeit


def random_value_model(spec: str, device, seed: int = 0, n_layers: int | None = None, dtype: torch.dtype = torch.float32):
    from methods.vas.value_model import ValueConfig, ValueModel

    torch.manual_seed(seed)
    value = ValueModel(ValueConfig(spec, n_layers=n_layers), device=device, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in value.named_parameters():
            if "lora_B" in name or name.startswith("head."):
                p.copy_((torch.randn(p.shape, generator=gen) * 0.2).to(p.device))
    value.merge_adapter()
    return value.eval()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--value", default=None, help="trained value model (default: random adapter on --model)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=32, help="prefix length for (a); prompt length cap for (b, c)")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--value-layers", type=int, default=None, help="keep only the value model's first N blocks")
    ap.add_argument("--best-of", type=int, default=8, help="N of the Best-of-N comparison (0: leave it out)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", type=dtype_arg, default="float32", help="float32, bfloat16 or float16")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from interp import generate, load_model
    from interp.rewards import get_reward
    from methods.vas.decoding import (
        Guide, VASProcessor, candidate_values, prefill, q_values_loop_cached, row_prefills,
    )
    from methods.vas.value_model import ValueModel

    model = load_model(args.model, device=args.device, dtype=args.dtype)
    value = (ValueModel.load(args.value, device=model.device) if args.value
             else random_value_model(args.model, model.device, n_layers=args.value_layers, dtype=args.dtype))
    value.check_tokenizer(model)

    # (a) a left-padded batch: row i keeps its last tokens - 2*i tokens
    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(3, model.vocab_size, (args.tokens - 2 * (i % 4),), generator=g).tolist() for i in range(args.batch)]
    ids, mask = model.pad(rows)
    with torch.no_grad():
        top = model.logits(ids, mask)[:, -1].topk(args.top_k).indices
        cache = prefill(value, ids, mask)
        caches = row_prefills(value, ids, mask)
        q_batched = candidate_values(value, cache, mask, top)
        q_loop = q_values_loop_cached(value, caches, top)
        t_batched = timeit(lambda: candidate_values(value, cache, mask, top), args.repeat)
        t_loop = timeit(lambda: q_values_loop_cached(value, caches, top), args.repeat)
    result = {
        "model": args.model, "device": device_name(model.device), "dtype": str(args.dtype).replace("torch.", ""),
        "value_layers": args.value_layers or "all", "threads": torch.get_num_threads(), "batch": args.batch,
        "prefix_tokens": args.tokens, "new_tokens": args.new_tokens, "top_k": args.top_k,
        "a_candidate_scoring_seconds_batched": t_batched, "a_candidate_scoring_seconds_loop": t_loop,
        "a_loop_over_batched_speedup": t_loop / t_batched,
        "a_max_abs_q_difference": float((q_batched - q_loop).abs().max()),
        "a_q_std": float(q_batched.std()),
    }

    # (b, c) generation: plain sampling, VAS, Best-of-8 (8 seeded samples + reward)
    prompts = [model.decode(r[: max(4, args.tokens // 4)]) for r in rows]
    kw = dict(max_new_tokens=args.new_tokens, do_sample=True, seed=0, batch_size=args.batch, progress=False)
    reward = get_reward("vader-sentiment")

    def plain():
        return generate(model, prompts, **kw)

    def vas():
        return generate(model, prompts, processors=[VASProcessor(model, Guide(value, 1.0), top_k=args.top_k)], **kw)

    def best_of_n():
        for j in range(args.best_of):
            out = generate(model, prompts, **{**kw, "seed": j})
            reward(prompts, out.texts)

    reps = max(1, args.repeat // 2)
    t_plain = timeit(plain, reps)
    t_vas = timeit(vas, reps)
    result.update({"b_seconds_plain": t_plain, "b_seconds_vas": t_vas, "b_vas_over_plain": t_vas / t_plain})
    if args.best_of:
        t_bo = timeit(best_of_n, max(1, reps // 2))
        result.update({f"c_seconds_best_of_{args.best_of}": t_bo, f"c_best_of_{args.best_of}_over_plain": t_bo / t_plain})
    emit(result)
    return result


if __name__ == "__main__":
    main()
