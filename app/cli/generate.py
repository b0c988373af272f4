"""`interp generate`: batched generation, optionally steered by a contrast vector."""
from __future__ import annotations

import json

from app.cli.options import add_chat, add_do_sample, chat_value, count, finite, positive


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate text (batched, KV-cached), optionally with a steering vector")
    p.add_argument("--model", default=None, help="model spec (default: smollm2-135m-instruct)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", action="append", help="a prompt (repeatable)")
    src.add_argument("--prompts", help="file of prompts: .txt (one per line) or .jsonl (field 'prompt')")
    p.add_argument("--max-new-tokens", type=count, default=40)
    add_do_sample(p, default=False, earlier="--sample")
    p.add_argument("--temperature", type=positive, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    add_chat(p)
    p.add_argument("--batch-size", type=count, default=16)
    p.add_argument("--steer-site", help="site for a steering vector, e.g. resid_post:10")
    p.add_argument("--steer-positive", nargs="+", default=[], help="prompts on the side to steer towards")
    p.add_argument("--steer-negative", nargs="+", default=[], help="prompts on the side to steer away from")
    p.add_argument("--scale", type=finite, default=4.0, help="steering vector scale")
    p.add_argument("--save-vector", metavar="FILE", help="also write the contrast vector (unscaled) as a "
                   "safetensors file, for `interp steer --vector FILE:SCALE`")
    p.add_argument("--out", help="write generations as JSONL here")
    p.set_defaults(func=run)


def run(args) -> int:
    from interp.data.prompt_files import read_prompts
    from interp import DEFAULT_MODEL, AddVector, generate, load_model, parse_site
    from interp.io import write_jsonl
    from interp.steering import contrast_vector, save_vector

    if args.save_vector and not args.steer_site:
        raise ValueError("--save-vector needs --steer-site with --steer-positive and --steer-negative prompts")
    prompts = args.prompt or read_prompts(args.prompts)
    model = load_model(args.model or DEFAULT_MODEL)
    interventions = []
    if args.steer_site:
        if not (args.steer_positive and args.steer_negative):
            raise ValueError("--steer-site needs --steer-positive and --steer-negative prompts")
        vec = contrast_vector(model, args.steer_site, args.steer_positive, args.steer_negative)
        if args.save_vector:
            save_vector(args.save_vector, vec, args.steer_site, model)
        interventions.append(AddVector(parse_site(args.steer_site), vec, scale=args.scale))
    out = generate(
        model, prompts, max_new_tokens=args.max_new_tokens, do_sample=args.do_sample, temperature=args.temperature,
        seed=args.seed, chat=chat_value(args.chat), batch_size=args.batch_size, interventions=interventions,
    )
    rows = [{"prompt": p, "response": t, "n_tokens": len(toks)} for p, t, toks in zip(prompts, out.texts, out.tokens)]
    if args.out:
        write_jsonl(args.out, rows)
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    return 0
