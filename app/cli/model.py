"""`interp model info SPEC`: what a model spec resolves to."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("model", help="inspect models")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION")
    info = msub.add_parser("info", help="load a model spec and print its shape, hooks and sites")
    info.add_argument("spec", help="registered name, local HF folder, or hub name (when reachable)")
    info.add_argument("--trust-remote-code", action="store_true", help="allow custom code from a local/hub model")
    info.set_defaults(func=run_info)
    p.set_defaults(func=lambda a: p.print_help())


def run_info(args) -> int:
    from interp.models import load_model

    model = load_model(args.spec, trust_remote_code=args.trust_remote_code)
    desc = model.describe()
    from interp.sites import FORMS

    desc["sites"] = list(FORMS)  # hook:NAME takes any name of model.bridge.hook_dict
    desc["layers"] = f"0..{model.n_layers - 1} (negative indices count from the end)"
    print(json.dumps(desc, indent=2))
    return 0
