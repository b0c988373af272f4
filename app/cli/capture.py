"""`interp capture`: collect activations at sites for a prompt file into an ActivationStore."""
from __future__ import annotations

import json

from app.cli.options import add_chat, chat_value, count


def register(sub) -> None:
    p = sub.add_parser("capture", help="capture activations at sites into an ActivationStore (safetensors shards)")
    p.add_argument("--model", default=None, help="model spec (default: smollm2-135m-instruct)")
    p.add_argument("--prompts", required=True, help="file of prompts: .txt (one per line) or .jsonl (field 'prompt')")
    p.add_argument("--site", action="append", required=True,
                   help="site, e.g. resid_post:-1, head_out:3:5 or hook:blocks.3.hook_out (repeatable; "
                        "the store holds d_model-wide rows: residual sites and head_out)")
    p.add_argument("--out", required=True, help="store directory (resumed if it holds the same collection)")
    p.add_argument("--pool", choices=["token", "mean", "last"], default="token",
                   help="one row per real token (default), or one pooled row per prompt")
    p.add_argument("--batch-size", type=count, default=16)
    p.add_argument("--max-length", type=count, default=None, help="truncate prompts to this many tokens")
    add_chat(p, const="yes")
    p.add_argument("--force", action="store_true", help="discard an existing store at --out")
    p.set_defaults(func=run)


def run(args) -> int:
    from interp.runs import writing

    with writing(args.out):  # one writer per store: a second `capture --out` is refused at once
        return _capture(args)


def _capture(args) -> int:
    from interp.data.prompt_files import read_prompts
    from interp import DEFAULT_MODEL, load_model, parse_site
    from interp.store import collect
    from interp.store.manifest import StoreMismatch

    prompts = read_prompts(args.prompts)
    parsed = [parse_site(s) for s in args.site]  # a malformed site fails before the model loads
    model = load_model(args.model or DEFAULT_MODEL)
    sites = [s.resolve(model) for s in parsed]
    _check_store_width(model, sites)
    chat = chat_value(args.chat)
    texts = [model.render(p, chat=chat) for p in prompts] if chat is not False else prompts
    try:
        store = collect(
            model, texts, sites, args.out, batch_size=args.batch_size, max_length=args.max_length,
            per_token=args.pool == "token", pool="mean" if args.pool == "token" else args.pool, overwrite=args.force,
        )
    except StoreMismatch as e:  # name the flag, not the API argument
        raise StoreMismatch(str(e).replace("pass overwrite=True", "pass --force")) from None
    print(json.dumps({"store": args.out, "rows": store.n_rows, "d": store.d, "sites": [str(s) for s in sites]}, indent=2))
    return 0


def _check_store_width(model, sites) -> None:
    """An activation store row is one d_model vector per token: refuse a site that delivers anything else
    (a pattern, q/k/v/z, MLP hidden units, most hooks), naming what it delivers."""
    import torch

    from interp import capture

    wide = [s for s in sites if not s.residual_width]
    if not wide:
        return
    ids = torch.tensor([[model.pad_token_id] * 2], device=model.device)
    got = capture(model, ids, None, wide)
    bad = [f"{s} gives {tuple(got[s].shape)} for [batch=1, pos=2]" for s in wide
           if got[s].shape != (1, 2, model.d_model) or s.pos_axis != 1]
    if bad:
        raise ValueError(f"interp capture stores one d_model={model.d_model} row per token; {'; '.join(bad)}. "
                         "Capture such sites in Python with interp.capture (any shape), or choose a residual site "
                         "or head_out(L, H)")
