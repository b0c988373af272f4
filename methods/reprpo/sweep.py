"""Run a plan of ReprPO experiments side by side (one process each) until a deadline, then tabulate.

A plan is JSON: {"name": ..., "runs": [{"run": NAME, "config": {ReprPOConfig fields}}, ...]}, in
priority order. Up to `--workers` runs go at once (on one GPU, small models are latency bound, so
several processes share it well); a run not started `--start-by` seconds after the sweep began is
skipped, and one still running at `--deadline` seconds is stopped, so a sweep with a hard time limit
still returns every finished run. Each run is `runs/<NAME>/{train,eval}` (the reprpo pipeline) plus
its log; `methods.reprpo.results` turns the finished ones into a result file.

    python -m methods.reprpo.sweep plan.json --runs OUT/runs --workers 18 --start-by 240 --deadline 520
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run_one(config: dict, run_dir: str, threads: int = 1) -> None:
    """Train and evaluate one configuration (in this process)."""
    import torch

    from interp.pipeline import run
    from methods.reprpo.config import ReprPOConfig
    from methods.reprpo.pipeline import PIPELINE

    torch.set_num_threads(threads)
    run(PIPELINE, ReprPOConfig.from_dict(config), run_dir, progress=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("plan", nargs="?")
    ap.add_argument("--runs", default="runs/sweep", help="folder of the run directories")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--start-by", type=float, default=float("inf"), help="seconds: start no run after this")
    ap.add_argument("--deadline", type=float, default=float("inf"), help="seconds: stop every run still going")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: a JSON config to run here
    ap.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        run_one(json.loads(args.one), args.run_dir, args.threads)
        return 0
    if not args.plan:
        ap.error("give a plan file")
    plan = json.loads(Path(args.plan).read_text())
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    todo = list(plan["runs"])
    going: dict[str, tuple[subprocess.Popen, object, float]] = {}
    status: dict[str, dict] = {}
    t0 = time.monotonic()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    while todo or going:
        now = time.monotonic() - t0
        while todo and len(going) < args.workers and now < args.start_by:
            job = todo.pop(0)
            log = open(runs / f"{job['run']}.log", "w")  # noqa: SIM115 - closed when the run ends
            cmd = [sys.executable, "-m", "methods.reprpo.sweep", "--one", json.dumps(job["config"]),
                   "--run-dir", str(runs / job["run"]), "--threads", str(args.threads)]
            going[job["run"]] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log, now)
        if todo and now >= args.start_by:
            for job in todo:
                status[job["run"]] = {"state": "not started", "why": f"start-by {args.start_by}s passed"}
            todo = []
        for name, (proc, log, started) in list(going.items()):
            rc = proc.poll()
            if rc is None and now >= args.deadline:
                proc.kill()
                rc = proc.wait()
                status[name] = {"state": "stopped at deadline", "seconds": now - started}
            elif rc is not None:
                status[name] = {"state": "finished" if rc == 0 else f"failed (rc {rc})", "seconds": now - started}
            if rc is not None:
                log.close()
                del going[name]
                print(f"[{now:6.0f}s] {name}: {status[name]['state']}", flush=True)
        time.sleep(1.0)
    (runs / "sweep-status.json").write_text(json.dumps(status, indent=1))
    return 0 if all(s["state"] == "finished" for s in status.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
