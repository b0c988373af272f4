"""The `interp` command line. Each command group lives in its own module with `register(subparsers)`."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# command-group modules, in --help order; each exposes register(subparsers)
GROUPS = ["model", "capture", "generate", "steer", "reward", "vas", "reprpo", "divergence", "results", "app_cmd", "demo"]


class Parser(argparse.ArgumentParser):
    """argparse, with a bad flag refused in one line (the usage is one `--help` away), as every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="interp",
        description="Read and edit a language model's residual stream; run RE-Control, VAS, ReprPO and "
        "reward-divergence pipelines; explore the results.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error (also accepted "
                        "anywhere on the command line, and as INTERP_DEBUG=1)")
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
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("INTERP_DEBUG"))
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except Exception as e:  # noqa: BLE001 - what the user can act on is one line; anything else is a bug's traceback
        message = None if debug else one_line(e)
        if message is None:
            raise
        _close_progress_bars()  # so the error starts its own line, not the end of a half-drawn bar
        print(redact(f"interp: error: {message}"), file=sys.stderr)
        return 2


def one_line(e: BaseException) -> str | None:
    """The message the CLI prints for an error the user can act on (bad input, a busy run, a full disk,
    damaged weights), or None for a bug (its traceback is what a report needs)."""
    import errno

    from safetensors import SafetensorError

    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        if "Free some space" in str(e):
            return str(e.strerror or e)
        where = f" while writing {e.filename}" if e.filename else ""
        return (f"no space left on the device{where}. Free some space, then run the same command again: finished "
                "steps are kept and long steps resume")
    if isinstance(e, SafetensorError) and "I/O error" in str(e):
        from interp.io import disk_error

        return one_line(disk_error("a safetensors file", str(e)))
    if isinstance(e, SafetensorError):
        return (f"a safetensors weights file could not be read ({e}): it is truncated or damaged. Re-create it with "
                "the step that wrote it, or fetch or convert the model again (--debug shows which file)")
    if isinstance(e, (ValueError, OSError, RuntimeError, KeyError)):
        return str(e) if str(e).strip() else type(e).__name__
    return None


def _close_progress_bars() -> None:
    try:
        from tqdm import tqdm

        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


if __name__ == "__main__":
    sys.exit(main())
