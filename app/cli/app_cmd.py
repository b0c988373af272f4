"""`interp app`: start the Streamlit explorer on the run directories (127.0.0.1 by default).

The command replaces itself with the Streamlit server (exec): a signal sent to `interp app` (Ctrl-C,
a supervisor's SIGTERM, `kill`) reaches the server itself, so no server outlives it holding the port.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from app.cli.options import port


def register(sub) -> None:
    p = sub.add_parser("app", help="start the Streamlit explorer over a runs directory")
    p.add_argument("--runs", "--runs-dir", dest="runs", default="runs", help="runs directory to explore (default: ./runs)")
    p.add_argument("--port", type=port, default=8501)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.set_defaults(func=run)


def command(runs: str, port: int, host: str = "127.0.0.1") -> tuple[list[str], dict[str, str]]:
    """The streamlit command line and environment that `interp app` runs."""
    main = Path(__file__).resolve().parents[1] / "explorer" / "main.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(main), "--server.address", host, "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]
    env = {**os.environ, "INTERP_RUNS": str(Path(runs).resolve()), "PYTHONPATH": str(main.parents[2])}
    return cmd, env


def run(args) -> int:
    if not Path(args.runs).exists():
        print(f"note: {args.runs} does not exist yet; pages will say which command makes each run")
    cmd, env = command(args.runs, args.port, args.host)
    print(f"interp explorer on http://{args.host}:{args.port} (runs: {Path(args.runs).resolve()})", flush=True)
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)  # this process becomes the server: its pid, its signals, its exit status
    return 0  # not reached
