"""`interp results`: write a method's result file from a run directory, and check READMEs against them.

    interp results write runs/re-control-prereg --out methods/re_control/results/re-control-prereg.json
    interp results check                      # every methods/*/README.md (what tests/test_readme_results.py runs)

The method is found from the pipeline that wrote the run (`pipeline` in its steps' config.json); its
package's `results.result_from_run(run_dir)` builds the record (methods/<package>/results.py).
"""
from __future__ import annotations

import importlib
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("results", help="result files: the committed record behind every README number")
    rsub = p.add_subparsers(dest="results_command", metavar="ACTION", required=True)
    w = rsub.add_parser("write", help="write (or regenerate) a result file from a run directory")
    w.add_argument("run_dir", help="the run directory, e.g. runs/re-control-prereg")
    w.add_argument("--out", required=True, help="the result file, e.g. methods/re_control/results/NAME.json")
    w.add_argument("--pipeline", default=None, help="the pipeline that wrote the run (default: from its config.json)")
    w.add_argument("--with", dest="others", nargs="*", default=[], metavar="RUN_DIR",
                   help="more run directories the method reports beside this one (RE-Control: value functions "
                        "trained on the same trajectories)")
    w.add_argument("--notes", nargs="*", default=[], metavar="KEY=FILE.json",
                   help="measurements kept in the file's notes under KEY (a JSON file written with the run)")
    w.set_defaults(func=_write)
    c = rsub.add_parser("check", help="check README results tables against their result files")
    c.add_argument("readmes", nargs="*", help="README files (default: methods/*/README.md)")
    c.set_defaults(func=_check)


def extractor(pipeline_name: str):
    """`result_from_run` of the method package whose registered pipeline is `pipeline_name`."""
    from interp.pipeline import registered

    pipelines = registered()
    if pipeline_name not in pipelines:
        raise ValueError(f"no registered pipeline {pipeline_name!r}; known: {sorted(pipelines)}")
    module = pipelines[pipeline_name].steps[0].fn.__module__
    package = module.rpartition(".")[0]
    try:
        return importlib.import_module(f"{package}.results").result_from_run
    except (ImportError, AttributeError) as e:
        raise ValueError(f"pipeline {pipeline_name!r} ({package}) has no results.result_from_run to write a result "
                         f"file with: {e}") from e


def pipeline_of_run(run_dir: Path) -> str:
    from interp.io import read_json
    from interp.pipeline import pipeline_of

    names = {pipeline_of(read_json(c)) for c in sorted(run_dir.glob("*/config.json"))} - {None}
    if len(names) != 1:
        raise ValueError(f"cannot tell which pipeline wrote {run_dir} (found {sorted(names) or 'none'} in its "
                         "steps' config.json): pass --pipeline")
    return names.pop()


def _write(args) -> int:
    from interp.results import write_result

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    from interp.io import read_json

    notes = {}
    for item in args.notes:
        key, sep, file = item.partition("=")
        if not sep or not key or not file:
            raise ValueError(f"--notes {item!r}: expected KEY=FILE.json")
        notes[key] = read_json(file)
    fn = extractor(args.pipeline or pipeline_of_run(run_dir))
    kwargs = {**({"others": args.others} if args.others else {}), **({"notes": notes} if notes else {})}
    record = fn(run_dir, **kwargs)
    write_result(args.out, record)
    print(f"wrote {args.out} ({len(record['table'])} rows from {run_dir})")
    return 0


def _check(args) -> int:
    from interp.results import check_readme

    readmes = [Path(r) for r in args.readmes] or sorted(Path("methods").glob("*/README.md"))
    problems = [p for r in readmes for p in check_readme(r)]
    for p in problems:
        print(p)
    print(f"{len(readmes)} README(s), {len(problems)} problem(s)")
    return 1 if problems else 0
