"""Collect residual-stream activations for a few prompts into an ActivationStore and read them back.

    python examples/collect_store.py                       # stories260k if available, else tiny-random-llama
    python examples/collect_store.py --model tiny-random-llama --out /tmp/acts
    accelerate launch --multi_gpu --num_processes 2 examples/collect_store.py   # one shard series per process

Re-running resumes (nothing is recomputed once the store is complete); --overwrite starts afresh.
"""
from __future__ import annotations

import argparse
import tempfile

PROMPTS = [
    "Once upon a time, there was a little girl named Lily.",
    "The dog ran to the park and found a big red ball.",
    "Tom was sad because his toy boat was broken.",
    "The sun was hot, so the children went to swim in the lake.",
    "Mom baked a cake for the birthday party.",
    "A small bird sat on the branch and sang a happy song.",
]


def load(spec: str):
    """Load `spec`; "auto" prefers the real stories260k weights and falls back to random tiny weights."""
    from interp.models import load_model

    if spec != "auto":
        return load_model(spec, device="cpu")
    try:
        return load_model("stories260k", device="cpu")
    except (ImportError, FileNotFoundError, ValueError, OSError) as e:
        print(f"stories260k unavailable ({type(e).__name__}: {e}); using tiny-random-llama")
        return load_model("tiny-random-llama", device="cpu")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="auto", help="model spec, or 'auto' (stories260k, else tiny-random-llama)")
    p.add_argument("--out", default=None, help="store directory (default: a temporary one)")
    p.add_argument("--sites", nargs="+", default=["resid_post:-1", "final"])
    p.add_argument("--shard-rows", type=int, default=64, help="small on purpose, to show several shards")
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)

    from interp.store import ActivationStore, collect

    model = load(args.model)
    out = args.out or tempfile.mkdtemp(prefix="interp-store-")
    store = collect(model, PROMPTS, args.sites, out, batch_size=4, shard_rows=args.shard_rows,
                    overwrite=args.overwrite)
    store = ActivationStore.open(out)  # what any later script does
    print(store)
    print(f"model={store.model} rows={store.n_rows} d={store.d} sites={[str(s) for s in store.sites]} "
          f"columns={list(store.columns)} shards={store.n_shards}")
    first = next(store.iter_batches(batch_size=16, shuffle=True, seed=0))
    print("one shuffled batch:", {k: tuple(v.shape) for k, v in first.items()})
    everything = store.read_all()
    print("read_all:", {k: tuple(v.shape) for k, v in everything.items()})
    return {k: tuple(v.shape) for k, v in everything.items()}


if __name__ == "__main__":
    main()
