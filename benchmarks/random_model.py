"""Write a random-weight model folder from a config, for timing on machines the real weights cannot reach.

    python -m benchmarks.random_model --like ~/.cache/interp/models/smollm2-135m-instruct --out /tmp/smol-random
    python -m benchmarks.random_model --like DIR --preset llama-1b --out /tmp/llama-1b

`--like` supplies the tokenizer (and the config unless a preset replaces it). Timing depends on
shapes, not on weight values, so random weights give the same speed as trained ones.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

PRESETS = {
    # a 1B-size Llama (Llama-3.2-1B shapes) with the tokenizer of --like
    "llama-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                     num_key_value_heads=8, max_position_embeddings=4096, tie_word_embeddings=True),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--like", required=True, help="model folder whose tokenizer (and config) to use")
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS), default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="dtype of the saved weights")
    ap.add_argument("--device", default="cpu", help="where to initialise (cuda: seconds instead of a minute for 1B)")
    args = ap.parse_args(argv)
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    cfg = AutoConfig.from_pretrained(args.like)
    if args.preset:
        for k, v in PRESETS[args.preset].items():
            setattr(cfg, k, v)
    torch.manual_seed(args.seed)
    with torch.device(args.device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, args.dtype))
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(args.like).save_pretrained(out)
    gen = Path(args.like) / "generation_config.json"
    if gen.exists():
        shutil.copy(gen, out / "generation_config.json")
    print(f"wrote {out} ({sum(p.numel() for p in model.parameters()) / 1e6:.0f}M random parameters)")


if __name__ == "__main__":
    main()
