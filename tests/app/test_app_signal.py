"""`interp app` leaves no server behind (issue 20, item 8).

It ran Streamlit as a child with `subprocess.call`: a SIGTERM to `interp app` (a supervisor, a test
harness, `kill`) ended it and left the server running, orphaned and still bound to the port, so the
next `interp app` on that port failed. Now `interp app` becomes the server (exec): the signal reaches
it, and the port is free again when it exits.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    """Whether a new server could listen on `port` (as Streamlit binds: SO_REUSEADDR, so closed connections of
    the old one in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_sigterm_to_interp_app_stops_the_server(tmp_path):
    port = _free_port()
    log = tmp_path / "app.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "w") as out:  # its own session: whatever it starts is found (and cleaned up) by group
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "app", "--runs", str(tmp_path / "runs"), "--port",
                                 str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + 180
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.time() < deadline, f"the explorer did not start:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # to `interp app` itself, as a supervisor sends it
        proc.wait(timeout=60)
        deadline = time.time() + 30
        while (_group_alive(proc.pid) or not _port_is_free(port)) and time.time() < deadline:
            time.sleep(0.2)
        assert not _group_alive(proc.pid), "a process of `interp app` outlived it (the Streamlit server, orphaned)"
        assert _port_is_free(port), f"port {port} is still bound after `interp app` ended"
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
