"""The `interp` command line. Each command group lives in its own module with `register(subparsers)`."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# command-group modules, in --help order; each exposes register(subparsers)
GROUPS = ["model", "capture", "generate", "reward", "vas", "reprpo", "divergence", "results", "app_cmd", "demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interp",
        description="Read and edit a language model's residual stream; run RE-Control, VAS, ReprPO and "
        "reward-divergence pipelines; explore the results.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in GROUPS:
        importlib.import_module(f"app.cli.{name}").register(sub)
    from app.cli.pipelines import register_pipeline
    from interp.pipeline import registered

    for pipeline in registered().values():  # methods that registered a pipeline: no wiring here
        register_pipeline(sub, pipeline)
    _order_commands(sub)
    return parser


def _order_commands(sub) -> None:
    """--help lists the backbone's commands, then the methods, then app and demo last."""
    last = [name for name in ("app", "demo") if name in sub.choices]
    actions = sub._choices_actions
    actions.sort(key=lambda a: last.index(a.dest) + 1 if a.dest in last else 0)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from interp.redact import install_log_redaction, redact

    install_log_redaction()  # no credential (HF_TOKEN, *_API_KEY, ...) reaches the terminal or a log file
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, RuntimeError, KeyError) as e:
        if os.environ.get("INTERP_DEBUG"):
            raise
        _close_progress_bars()  # so the error starts its own line, not the end of a half-drawn bar
        print(redact(f"interp: error: {e}"), file=sys.stderr)
        return 2


def _close_progress_bars() -> None:
    try:
        from tqdm import tqdm

        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


if __name__ == "__main__":
    sys.exit(main())
