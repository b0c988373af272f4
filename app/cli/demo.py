"""`interp demo`: the main job. Compact runs of every registered pipeline that defines a demo config
(the four methods: RE-Control, VAS, ReprPO, reward divergence) on the embedded default model into
RUNS/demo/<name>/, one summary table of their measured effects read back from the files they wrote,
and the `interp app` command that opens them in the explorer.

Each pipeline sizes its own demo run (`demo_config(model_spec)`) and reads its own rows
(`summarize(run_dir)`); the demo is a loop over them through the protocol (app/demo/), so finished
steps are reused on a re-run and `--force` redoes them. A pipeline that fails is reported in the
table with its error; the others still run.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from interp.redact import redact

from app.cli.options import count, port


def register(sub) -> None:
    p = sub.add_parser("demo", help="run compact RE-Control, VAS, ReprPO and reward-divergence pipelines on the "
                       "default model and print one table of their measured effects")
    p.add_argument("--model", default=None, help="model spec (default: smollm2-135m-instruct; stories260k runs toy "
                   "sizes in seconds)")
    p.add_argument("--runs", "--runs-dir", dest="runs", default="runs", help="runs directory: the demo writes RUNS/demo/<method>/ (default: runs)")
    p.add_argument("--only", default=None, help="comma-separated subset of the pipelines with a demo config "
                   "(re_control,vas,reprpo,divergence and any other registered one)")
    p.add_argument("--force", action="store_true", help="redo finished steps instead of reusing them")
    p.add_argument("--threads", type=count, default=None, help="torch threads (default: one per core idle over a "
                   "0.5 s look at /proc/stat, at least 1)")
    p.add_argument("--serve", action="store_true", help="then serve the explorer on the demo's runs")
    p.add_argument("--port", type=port, default=8501, help="explorer port with --serve (default 8501)")
    p.set_defaults(func=run)


def all_methods() -> list[str]:
    from app.demo.plan import demo_pipelines

    return list(demo_pipelines())


def title(name: str) -> str:
    from app.demo.plan import demo_pipelines

    pipeline = demo_pipelines().get(name)
    return pipeline.display_name if pipeline is not None else name


def chosen_methods(only: str | None) -> list[str]:
    methods = all_methods()
    if not only:
        return methods
    names = [x.strip() for x in only.split(",") if x.strip()]
    names = [n if n in methods else n.replace("-", "_") for n in names]
    unknown = [n for n in names if n not in methods]
    if unknown or not names:
        raise ValueError(f"--only {only!r}: choose among {', '.join(methods)}")
    return [m for m in methods if m in names]


def run(args) -> int:
    from app.demo.plan import make_plan
    from app.demo.summary import render
    from interp import DEFAULT_MODEL
    from interp.io import write_json
    from interp.redact import redact_obj

    # the demo runs offline by contract: data missing from ../shared/data (or INTERP_DATA) is a clear error naming
    # where it goes, never a silent download from a data hub (HF_HUB_OFFLINE=0 in the environment allows one)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = args.model or DEFAULT_MODEL
    methods = chosen_methods(args.only)
    plan = make_plan(spec)
    root = Path(args.runs) / "demo"
    print(f"interp demo: {len(methods)} pipeline(s) on {spec} ({plan.profile} settings) into {root}/; "
          f"finished steps are {'redone (--force)' if args.force else 'reused'}", flush=True)
    threads = args.threads or plan.threads or free_cores()
    print(f"torch threads: {threads}", flush=True)
    start = time.perf_counter()
    with _threads(threads):
        status = run_pipelines(plan, root, methods, args.force)
    rows = summary_rows(root, status)
    total = time.perf_counter() - start
    write_json(root / "summary.json", redact_obj({"model": spec, "profile": plan.profile, "seconds": total,
                                                  "pipelines": status, "rows": [r.to_dict() for r in rows]}))

    print(f"\nMeasured effects on {spec} ({plan.profile} demo settings; every number is read from the file named "
          f"in the last column, under {root}/):\n")
    print(render(rows))
    print("\nwall time: " + ", ".join(f"{title(n)} {s['seconds']:.0f} s" for n, s in status.items())
          + f"; total {total:.0f} s")
    failed = [title(n) for n, s in status.items() if not s["ok"]]
    if failed:
        print(f"failed: {', '.join(failed)} (see the errors above; the other pipelines' results stand)")
    if args.serve:
        from argparse import Namespace

        from app.cli import app_cmd

        print(flush=True)
        return app_cmd.run(Namespace(runs=str(root), port=args.port, host="127.0.0.1"))
    print(f"\nExplore the runs: interp app --runs {root}" + (f" --port {args.port}" if args.port != 8501 else ""))
    return 1 if failed else 0


def run_pipelines(plan, root: Path, methods: list[str], force: bool) -> dict[str, dict]:
    """Each method's pipeline in turn; a failure is recorded (and its traceback printed), never raised."""
    from app.demo.pipelines import finished_steps, run_demo
    from app.demo.plan import demo_pipelines

    shared: dict = {}  # the base model, loaded by the first pipeline step that asks for it
    pipelines = demo_pipelines()
    status: dict[str, dict] = {}
    for i, name in enumerate(methods, 1):
        run_dir = root / name
        before = finished_steps(run_dir)
        steps = " -> ".join(pipelines[name].step_names())
        print(f"\n[{i}/{len(methods)}] {title(name)}: {steps} -> {run_dir}", flush=True)
        t0, c0 = time.perf_counter(), time.process_time()
        error = None
        try:
            run_demo(pipelines[name], plan.model, run_dir, shared, force, True)
        except Exception as e:  # noqa: BLE001 -- one pipeline's failure must not lose the others' results
            # an error's text may quote a credential (an endpoint's reply, a URL with a key): masked, as the CLI does
            print(redact(traceback.format_exc()), file=sys.stderr, end="", flush=True)
            error = redact(f"{type(e).__name__}: {e}")
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        reused = [] if force else sorted(before & finished_steps(run_dir))
        status[name] = {"ok": error is None, "error": error, "seconds": seconds, "cpu_seconds": cpu,
                        "steps_reused": reused, "run_dir": str(run_dir)}
        print(f"[{i}/{len(methods)}] {title(name)}: {'FAILED' if error else 'done'} in {seconds:.0f} s "
              f"(CPU {cpu:.0f} s)" + (f", {len(reused)} finished step(s) reused" if reused else ""), flush=True)
    return status


def summary_rows(root: Path, status: dict[str, dict]) -> list:
    """The table's rows, read from the run files; a failed pipeline (or unreadable result) is a row saying so."""
    from app.demo.plan import demo_pipelines
    from app.demo.summary import Row, pipeline_rows

    pipelines = demo_pipelines()
    rows: list[Row] = []
    for name, st in status.items():
        heading = title(name)
        if st["error"]:
            rows.append(Row(heading, "FAILED (traceback above)", "-", f"{name}/", detail=_short(st["error"])))
            continue
        try:
            rows.extend(pipeline_rows(pipelines[name], root / name, name, heading))
        except Exception as e:  # noqa: BLE001 -- reported as the pipeline's row
            rows.append(Row(heading, "FAILED to read its results", "-", f"{name}/",
                            detail=_short(redact(f"{type(e).__name__}: {e}"))))
    return rows


def _proc_stat() -> str:
    with open("/proc/stat") as f:
        return f.read()


def _cpu_times(text: str) -> dict[int, tuple[int, int]]:
    """{cpu number: (idle, total)} jiffies from /proc/stat's per-core lines (idle counts iowait)."""
    times = {}
    for line in text.splitlines():
        name, *fields = line.split() or [""]
        if name.startswith("cpu") and name[3:].isdigit():
            t = [int(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal (guest is in user)
            times[int(name[3:])] = (t[3] + t[4], sum(t))
    return times


def free_cores(read=_proc_stat, sleep=time.sleep, interval: float = 0.5, allowed=None) -> int:
    """Torch threads for the demo: the cores idle right now, round(idle fraction x cores), at least 1.

    torch's threads meet at a barrier in every operation, so a thread whose core another job also
    wants stalls the rest. Measured on 2 cores shared with other jobs: a demo GRPO step took 26 s
    with 2 threads (load ~4) and 5 s with 1 (load ~1-2). Busy-ness is measured directly, two
    /proc/stat readings `interval` s apart, over the cores this process may run on (`allowed`, default
    its affinity): the 1-minute load average this replaced lags by minutes, so a demo started right
    after another job ended got 1 thread on an idle 2-core machine. Where /proc/stat is unreadable
    (macOS) it is os.cpu_count(). `read` and `sleep` are injectable for tests.
    """
    import os

    try:
        before = _cpu_times(read())
        sleep(interval)
        after = _cpu_times(read())
    except (OSError, ValueError, IndexError):
        return max(1, os.cpu_count() or 1)
    if allowed is None:
        allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else after
    cpus = [c for c in after if c in before and c in allowed] or [c for c in after if c in before]
    if not cpus:
        return max(1, os.cpu_count() or 1)
    idle = sum(after[c][0] - before[c][0] for c in cpus)
    total = sum(after[c][1] - before[c][1] for c in cpus)
    fraction = idle / total if total > 0 else 1.0
    return max(1, round(fraction * len(cpus)))


@contextmanager
def _threads(n: int | None):
    """torch's intra-op threads set to `n` for the demo (None: unchanged), restored afterwards."""
    if not n:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."
