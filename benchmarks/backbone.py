"""Backbone overhead against plain Hugging Face, measured in one process.

Prints one JSON object of ratios (lower is better for a, c; higher for b):
 (a) forward capturing resid_post at every layer / raw HF forward
 (b) ActivationStore collection tokens/s / raw forward tokens/s
 (c) greedy generation of 64 tokens with a no-op intervention / HF generate, on the path
     `Model.forward` chooses (the lean path: HF modules, site hooks only; see interp/models/lean_path.py)
 (d) the same generation forced onto the bridge path (every transformer-lens HookPoint) / HF generate
Default: smollm2-135m-instruct, batch 8 x 128 tokens. Both sides use eager attention, the kernel
the bridge needs for its attention hooks. Each ratio is the median over `--repeat` back-to-back
(reference, ours) pairs; "spread" gives its quartiles.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile

import torch

from benchmarks.common import device_name, dtype_arg, emit, paired_ratio, plain_hf


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=9, help="timed (reference, ours) pairs per ratio")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", type=dtype_arg, default="float32", help="float32, bfloat16 or float16")
    ap.add_argument("--parts", default="a,b,c,d", type=parts_arg,
                    help="which ratios to time, comma-separated (c alone: the generation acceptance run, ~3x shorter)")
    args = ap.parse_args(argv)

    from interp import capture, load_model, resid_post
    from interp.interventions import no_op

    model = load_model(args.model, device=args.device, dtype=args.dtype)
    hf = plain_hf(model)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.vocab_size, (args.batch, args.tokens), generator=g).to(model.device)
    mask = torch.ones_like(ids)
    sites = [resid_post(l) for l in range(model.n_layers)]

    result = {
        "model": args.model, "device": device_name(model.device), "dtype": str(model.dtype).replace("torch.", ""),
        "batch": args.batch, "tokens": args.tokens, "new_tokens": args.new_tokens,
    }
    spread = {}
    if "a" in args.parts:
        with torch.no_grad():
            a = paired_ratio(lambda: hf(input_ids=ids, attention_mask=mask), lambda: capture(model, ids, mask, sites),
                             args.repeat)
        result["a_capture_all_resid_post_over_hf_forward"] = a["ratio"]
        spread["a_capture_all_resid_post_over_hf_forward"] = a

    try:
        from interp.store import collect
    except ImportError:
        collect = None
    if collect is not None and "b" in args.parts:
        texts = [model.decode(row) for row in ids.tolist()]
        tmp = tempfile.mkdtemp(prefix="bench-store-")
        try:
            def run_collect():
                shutil.rmtree(tmp, ignore_errors=True)
                collect(model, texts, [resid_post(model.n_layers // 2)], tmp, batch_size=args.batch,
                        max_length=args.tokens, progress=False)

            with torch.no_grad():
                b = paired_ratio(run_collect, lambda: hf(input_ids=ids, attention_mask=mask), args.repeat)
            from interp.store import ActivationStore

            n_tok = ActivationStore.open(tmp).n_rows
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # (n_tok / t_collect) / (batch * tokens / t_raw), per pair: b["ratio"] is t_raw / t_collect
        tokens_share = n_tok / (args.batch * args.tokens)
        b = {**b, **{k: b[k] * tokens_share for k in ("ratio", "q1", "q3")}}
        result["b_store_tokens_per_s_over_hf_forward_tokens_per_s"] = b["ratio"]
        spread["b_store_tokens_per_s_over_hf_forward_tokens_per_s"] = b
        result["store_tokens"] = n_tok

    prompts_ids = ids[:, :32]
    pmask = torch.ones_like(prompts_ids)
    texts = [model.decode(r) for r in prompts_ids.tolist()]

    def hf_generate():
        hf.generate(input_ids=prompts_ids, attention_mask=pmask, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                    do_sample=False, pad_token_id=model.pad_token_id)

    def ours(execution: str = "auto"):
        from interp.generation import GenerationConfig, generate_batch
        from interp.interventions import intervene

        model.execution = execution
        try:
            with intervene(model, no_op("final")):
                generate_batch(model, prompts_ids.tolist(), GenerationConfig(max_new_tokens=args.new_tokens, stop_at_eos=False))
        finally:
            model.execution = "auto"

    if "c" in args.parts or "d" in args.parts:
        result.update(paths_agree(model, prompts_ids, args.new_tokens))
    if "c" in args.parts:
        c = paired_ratio(hf_generate, ours, args.repeat)
        result["c_generate_noop_intervention_over_hf_generate"] = c["ratio"]
        result["c_execution_path"] = model.lean.last
        spread["c_generate_noop_intervention_over_hf_generate"] = c
    if "d" in args.parts:
        d = paired_ratio(hf_generate, lambda: ours("bridge"), args.repeat)
        result["d_bridge_path_generate_over_hf_generate"] = d["ratio"]
        spread["d_bridge_path_generate_over_hf_generate"] = d
    result["spread"] = spread  # per ratio: median over pairs, quartiles, pairs, median seconds of each side
    emit(result)
    return result


def parts_arg(text: str) -> set[str]:
    parts = {p.strip() for p in text.split(",") if p.strip()}
    if not parts or parts - set("abcd"):
        raise argparse.ArgumentTypeError(f"--parts takes letters among a,b,c,d (comma-separated), not {text!r}")
    return parts


def paths_agree(model, prompt_ids: torch.Tensor, new_tokens: int) -> dict:
    """The lean and bridge paths on this device and dtype: greedy tokens equal, and the largest logit
    difference of one forward relative to the logits' spread (the tests check equality on CPU only)."""
    from interp.generation import GenerationConfig, generate_batch

    out = {}
    for mode in ("lean", "bridge"):
        model.execution = mode
        with torch.no_grad():
            tokens, _ = generate_batch(model, prompt_ids.tolist(), GenerationConfig(max_new_tokens=new_tokens, stop_at_eos=False))
            logits = model.logits(prompt_ids).float()
        out[mode] = (tokens, logits)
    model.execution = "auto"
    diff = (out["lean"][1] - out["bridge"][1]).abs().max() / out["bridge"][1].std()
    return {"lean_equals_bridge_tokens": out["lean"][0] == out["bridge"][0], "lean_vs_bridge_max_logit_diff_in_spreads": float(diff)}


if __name__ == "__main__":
    main()
