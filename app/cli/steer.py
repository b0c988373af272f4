"""`interp steer`: RE-Control, VAS value models and steering vectors composed in one generation, beside base."""
from __future__ import annotations

import json
import sys
import time

from app.cli.options import add_chat, add_do_sample, chat_value, count, positive


def register(sub) -> None:
    p = sub.add_parser(
        "steer", help="generate with several controls at once (RE-Control, VAS, steering vectors), beside base",
        description="Compose controls in one generation: RE-Control's controller edits the hidden state at its site, "
        "steering vectors are added at theirs, and VAS value models re-weigh the top-k logits (each with its own "
        "beta). Prints one JSON line per prompt with the base and the steered response, then the cost.",
    )
    p.add_argument("--model", default=None, help="model spec (default: the model the first control was trained on)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", action="append", help="a prompt (repeatable)")
    src.add_argument("--prompts", help="file of prompts: .txt (one per line) or .jsonl (field 'prompt')")
    p.add_argument("--re-control", metavar="RUN[:STEPS:SIZE]", help="an RE-Control run (or its train-value folder); "
                   "steps and step size default to the run's own")
    p.add_argument("--vas", metavar="RUN:BETA", action="append", default=[],
                   help="a VAS run (or its train folder) and its beta (repeatable: the value models compose)")
    p.add_argument("--vector", metavar="FILE[:SITE]:SCALE", action="append", default=[],
                   help="a steering vector file from `interp generate --save-vector` (repeatable)")
    p.add_argument("--top-k", type=count, default=None, help="VAS: candidates re-weighed per step (default 20)")
    p.add_argument("--max-new-tokens", type=count, default=40)
    add_do_sample(p, default=False)
    p.add_argument("--temperature", type=positive, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    add_chat(p)
    p.add_argument("--batch-size", type=count, default=8)
    p.add_argument("--no-base", action="store_true", help="skip the base model's response (and the cost ratio)")
    p.add_argument("--out", help="also write the rows as JSONL here")
    p.add_argument("--sae", metavar="FOLDER", help="an SAE at RE-Control's site (interp.sae.save_sae): decompose "
                   "each control step into features, report which the controller turns up and down")
    p.add_argument("--explain-out", metavar="FILE", help="with --sae: write that report as JSON here, with the "
                   "prompts and texts (the explorer's 'What the controller does' page reads *explain*.json files)")
    p.add_argument("--sparse", metavar="M", type=count, default=None, help="with --sae: RE-Control's ascent in the "
                   "SAE's feature space, on the M features of largest value gradient at each step (each token then "
                   "carries its list of features)")
    p.set_defaults(func=run)


def run(args) -> int:
    from app.controls import ReControlSpec, VASSpec, VectorSpec, build_controls, trained_for
    from interp import DEFAULT_MODEL, generate, load_model
    from interp.data.prompt_files import read_prompts
    from interp.io import write_jsonl

    re_control = ReControlSpec.parse(args.re_control) if args.re_control else None
    vas = [VASSpec.parse(v) for v in args.vas]
    vectors = [VectorSpec.parse(v) for v in args.vector]
    if re_control is None and not vas and not vectors:
        raise ValueError("name at least one control: --re-control RUN, --vas RUN:BETA or --vector FILE:SITE:SCALE")
    if (args.sae or args.explain_out) and re_control is None:
        raise ValueError("--sae explains RE-Control's steps: add --re-control RUN")
    if (args.explain_out or args.sparse) and not args.sae:
        raise ValueError("--explain-out and --sparse need --sae FOLDER")
    prompts = args.prompt or read_prompts(args.prompts)
    model = load_model(args.model or trained_for(re_control, vas) or DEFAULT_MODEL)
    controls = build_controls(model, re_control, vas, vectors, top_k=args.top_k)
    sae = None
    if args.sae:
        from interp.sae.train import check_sae_for, load_sae

        sae = load_sae(args.sae, device=str(model.device))
        check_sae_for(sae, model, what=f"SAE {args.sae}")
        controls.controller.records = []
        if args.sparse:
            controls.use_sparse(sae, args.sparse)
    kw = dict(max_new_tokens=args.max_new_tokens, do_sample=args.do_sample, temperature=args.temperature, seed=args.seed,
              chat=chat_value(args.chat), batch_size=args.batch_size, progress=len(prompts) > args.batch_size)
    try:
        t0 = time.perf_counter()
        steered = controls.generate(model, prompts, **kw)
        t_steered = time.perf_counter() - t0
        base, t_base = None, None
        if not args.no_base:
            t0 = time.perf_counter()
            base = generate(model, prompts, **kw)
            t_base = time.perf_counter() - t0
    finally:
        controls.close()
    rows = []
    for i, prompt in enumerate(prompts):
        row = {"prompt": prompt, "steered": steered.texts[i]}
        if base is not None:
            row["base"] = base.texts[i]
        rows.append(row)
    if args.out:
        write_jsonl(args.out, rows)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    n = len(prompts)
    report = {"controls": controls.names, "seconds_per_prompt_steered": t_steered / n}
    if t_base is not None:
        report.update(seconds_per_prompt_base=t_base / n, steered_over_base=t_steered / t_base)
    if controls.controller is not None and controls.controller.norms:
        report["re_control_mean_norm_u"] = sum(controls.controller.norms) / len(controls.controller.norms)
    print(json.dumps(report), file=sys.stderr)
    if sae is not None and args.sparse:  # the features each controlled token of the first prompt carried
        steps = [[{"feature": f, "delta_z": round(z, 4)} for f, z in rows[0]] for rows in controls.controller.steps]
        print(json.dumps({"sparse_features_per_step": steps}), file=sys.stderr)
    elif sae is not None:
        from interp.io import write_json
        from methods.re_control.interpret import summarize

        explained = summarize(model, sae, controls.controller.value, controls.controller.records)
        if args.explain_out:  # the summary, and what it was measured on (the explorer's controller page reads it)
            write_json(args.explain_out, {**explained, "model": model.spec, "site": controls.controller.value.cfg.site,
                                          "re_control": args.re_control, "sae": args.sae, "controls": controls.names,
                                          "rows": rows})
        print(json.dumps({"controller_in_sae_features": explained}), file=sys.stderr)
    return 0
