"""`interp <pipeline> run|<step>` for every registered pipeline, built from its config dataclass.

One convention for every such command:
- `--run NAME` (default: the pipeline's name, or one derived from the settings) under `--runs DIR`
  (default: runs), `--config FILE` (a JSON object of settings), `--force` to redo finished steps,
  `--device`;
- one flag per config field, `--field-name`, with the field's default and its `help` metadata;
  lists are comma-separated, booleans are `--x/--no-x`, an optional boolean (`bool | None`, e.g.
  `chat`) is `auto|yes|no`; a field's `choices` metadata limits its values; a dict field is set
  only through --config. Precedence: flag, then --config file, then the dataclass default.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import typing
from pathlib import Path
from typing import Any

from app.cli.options import finite

AUTO_YES_NO = {"auto": None, "yes": True, "no": False}


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any] | None:
    """The class's resolved annotations, once per class (resolving them costs ~1 ms a field, every parser build)."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an unresolvable annotation is not the user's error
        return None


def _hint(cls: type, f: dataclasses.Field) -> Any:
    """The field's resolved annotation; for one that cannot be resolved, the default's type (else str)."""
    hints = _hints(cls)
    if hints is not None and f.name in hints:
        return hints[f.name]
    return type(f.default) if f.default is not dataclasses.MISSING else str


def _kind(cls: type, f: dataclasses.Field) -> str:
    """'bool', 'optional_bool', 'list', 'int', 'float', 'str' or 'skip', from the field's annotation."""
    hint = _hint(cls, f)
    args = set(typing.get_args(hint))
    origin = typing.get_origin(hint)
    if hint is dict or origin is dict:
        return "skip"  # free-form mappings are set through --config FILE
    if hint is bool:
        return "bool"
    if args == {bool, type(None)}:
        return "optional_bool"
    if origin in (list, tuple) or hint in (list, tuple):
        return "list"
    for name, t in (("int", int), ("float", float)):
        if hint is t or args - {type(None)} == {t}:
            return name
    return "str"


def _items(cls: type, f: dataclasses.Field) -> tuple[type, bool]:
    """(element type, is a tuple) of a list- or tuple-typed field."""
    hint = _hint(cls, f)
    hint = next((a for a in typing.get_args(hint) if typing.get_origin(a) in (list, tuple)), hint)
    elems = [a for a in typing.get_args(hint) if a is not Ellipsis]
    return (elems[0] if elems and elems[0] in (int, float, str) else str), typing.get_origin(hint) is tuple


def _list_value(cls: type, f: dataclasses.Field, tokens: list[str] | str) -> list | tuple:
    """Comma-separated items (the convention); several space-separated tokens are the earlier spelling."""
    tokens = [tokens] if isinstance(tokens, str) else list(tokens)
    if len(tokens) > 1:
        import sys

        print(f"note: --{f.name.replace('_', '-')} takes a comma-separated list ({','.join(tokens)}); "
              "space-separated items still work for this release", file=sys.stderr)
    elem, is_tuple = _items(cls, f)
    raw = [x.strip() for t in tokens for x in str(t).split(",") if x.strip()]
    try:
        items = [elem(x) for x in raw]
    except ValueError:
        raise ValueError(f"--{f.name.replace('_', '-')}: expected comma-separated {elem.__name__} values, "
                         f"got {','.join(raw)!r}") from None
    return tuple(items) if is_tuple else items


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _nested(cls: type, f: dataclasses.Field) -> type | None:
    """The dataclass type of a field that holds a sub-config (e.g. reward divergence's `rlhf`), else None."""
    hint = _hint(cls, f)
    return hint if dataclasses.is_dataclass(hint) else None


def add_config_flags(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """One flag per field (a sub-config's fields as --<field>-<subfield>); their defaults are None so a
    --config file can fill what is not given."""
    taken = {s for a in parser._actions for s in a.option_strings}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        sub = _nested(cls, f)
        if sub is not None:
            add_config_flags(parser, sub, f"{prefix}{f.name}.")
            continue
        flag = "--" + (prefix + f.name).replace("_", "-").replace(".", "-")
        dest = prefix + f.name
        kind, default = _kind(cls, f), _default(f)
        if kind == "skip" or flag in taken:
            continue  # a run option of the same name (--device) serves the field too
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        described = f.metadata.get("help") or getattr(cls, "FIELD_HELP", {}).get(f.name, "")
        text = f"{described} (default: {shown})".strip()
        if kind == "bool":
            parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif kind == "optional_bool":
            parser.add_argument(flag, dest=dest, choices=list(AUTO_YES_NO), default=None, help=text)
        elif kind == "list":
            parser.add_argument(flag, dest=dest, default=None, nargs="+", metavar="A,B,...", help=text + "; comma-separated")
        else:
            parser.add_argument(flag, dest=dest, type={"int": int, "float": finite}.get(kind, str), default=None,
                                choices=f.metadata.get("choices"), help=text)


def _read_config_file(path_text: str) -> dict[str, Any]:
    path = Path(path_text)
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: no such file")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"--config {path} is not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config {path} must hold a JSON object of settings")
    return values


def _build(cls: type, values: dict[str, Any], args: argparse.Namespace, prefix: str, source: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known - {"pipeline", "interp_version", "versions"})
    if unknown:
        raise ValueError(f"{source}: unknown setting(s) {', '.join(prefix + u for u in unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        sub = _nested(cls, f)
        if sub is not None:
            given = values.get(f.name) or {}
            if not isinstance(given, dict):
                raise ValueError(f"{source}: {prefix}{f.name} must be an object of settings")
            out[f.name] = _build(sub, given, args, f"{prefix}{f.name}.", source)
            continue
        if f.name in values:
            value = values[f.name]
            _check_type(cls, f, value, prefix, source)
            out[f.name] = tuple(value) if isinstance(value, list) and _items(cls, f)[1] else value
        flag = getattr(args, prefix + f.name, None)  # `device` is also the shared run option's dest
        if flag is None:
            continue
        kind = _kind(cls, f)
        if kind == "skip":
            continue
        if kind == "optional_bool" and isinstance(flag, str):
            flag = AUTO_YES_NO[flag]
        elif kind == "list":
            flag = _list_value(cls, f, flag)
        out[f.name] = flag
    try:
        return cls(**out)
    except ValueError as e:  # a sub-config's check names its field alone: name the section and its flag too
        text = str(e)
        if prefix and text.startswith("setting ") and not text.startswith(f"setting {prefix}"):
            name = text[len("setting "):].split(" ", 1)[0]
            flag = "--" + (prefix + name).replace("_", "-").replace(".", "-")
            text = text.replace(f"setting {name} (--{name.replace('_', '-')})", f"setting {prefix}{name} ({flag})", 1)
        raise ValueError(text) from None


_EXPECTED = {"bool": "true or false (a JSON boolean, not a string)", "int": "a whole number", "float": "a number",
             "str": "a string", "list": "a JSON list", "skip": "a JSON object"}


def _check_type(cls: type, f: dataclasses.Field, value: Any, prefix: str, source: str) -> None:
    """A --config value of the field's type, or a ValueError naming it (checked before anything is written)."""
    kind = _kind(cls, f)
    optional = type(None) in typing.get_args(_hint(cls, f)) or kind == "optional_bool"
    if value is None and optional:
        return
    whole = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    ok = {"bool": lambda v: isinstance(v, bool), "optional_bool": lambda v: isinstance(v, bool), "int": whole,
          "float": number, "str": lambda v: isinstance(v, str), "skip": lambda v: isinstance(v, dict)}
    if kind == "list":
        elem = _items(cls, f)[0]
        fits = {int: whole, float: number, str: lambda v: isinstance(v, str)}[elem]
        good = isinstance(value, list) and all(fits(v) for v in value)
        expected = f"a JSON list of {_EXPECTED['int' if elem is int else 'float' if elem is float else 'str']}s"
    else:
        good = ok[kind](value)
        expected = _EXPECTED["bool" if kind == "optional_bool" else kind] + (" or null" if optional else "")
    if not good:
        raise ValueError(f"{source}: {prefix}{f.name} must be {expected}, got {json.dumps(value)}; fix the file "
                         "(nothing was written)")


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    """The config: dataclass defaults, overridden by --config FILE, overridden by flags."""
    values = _read_config_file(args.config) if getattr(args, "config", None) else {}
    return _build(cls, values, args, "", f"--config {getattr(args, 'config', None)}")


def register_pipeline(sub, pipeline) -> None:
    """`interp NAME` with `run` and one subcommand per step; when a hand-written group of that name exists
    (a method whose earlier spellings still work for one release), the commands it lacks are added to it."""
    command = pipeline.command or pipeline.name
    group = sub.choices.get(command)
    if group is None:
        group = sub.add_parser(command, help=pipeline.help or f"the {pipeline.name} pipeline")
        group.set_defaults(func=lambda args: (group.print_help(), 0)[1])
        commands = group.add_subparsers(dest="pipeline_command", metavar="STEP")
    else:
        commands = next(a for a in group._actions if isinstance(a, argparse._SubParsersAction))
    entries = [("run", "every step in order, skipping finished ones", None)]
    entries += [(s.name, s.help or f"the {s.name} step", s.name) for s in pipeline.steps]
    for name, text, step in entries:
        if name in commands.choices:
            continue  # an earlier spelling keeps its meaning for one release
        p = commands.add_parser(name, help=text)
        add_run_options(p, pipeline)
        add_config_flags(p, pipeline.config)
        p.set_defaults(func=lambda args, step=step: _run(pipeline, args, step), built_from_pipeline=pipeline.name)


def add_run_options(p: argparse.ArgumentParser, pipeline) -> None:
    """The options every pipeline command shares: where the run lives, a settings file, --force, --device."""
    default = "the pipeline's name" if pipeline.default_run is None else "derived from the settings"
    p.add_argument("--run", default=None, help=f"run name (default: {default})")
    p.add_argument("--runs", "--runs-dir", dest="runs", default="runs", help="runs directory (default: runs)")
    p.add_argument("--config", default=None, help="JSON file of settings (flags override it)")
    p.add_argument("--force", action="store_true", help="redo finished steps instead of skipping them")
    p.add_argument("--device", default=None, help="torch device (default: CUDA when available, else CPU; under "
                   "`accelerate launch`, each process's own)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _run(pipeline, args: argparse.Namespace, step: str | None) -> int:
    from interp.distributed import is_main
    from interp.pipeline import run
    from interp.runs import safe_name

    cfg = config_from_args(pipeline.config, args)
    run_dir = Path(args.runs) / safe_name(pipeline.run_name(cfg) if args.run is None else args.run)
    results = run(pipeline, cfg, run_dir, steps=None if step is None else [step], force=args.force, device=args.device,
                  progress=not args.quiet)
    if not is_main():  # under `accelerate launch` the main process reports
        return 0
    if pipeline.report is not None:
        pipeline.report(results)
    else:
        for name, metrics in results.items():
            shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
            print(f"{name}: {json.dumps(shown)}")
    print(f"\nrun directory: {run_dir}")
    return 0
