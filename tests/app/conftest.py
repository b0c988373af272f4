"""A small runs directory made by real pipelines on stories260k, shared by the explorer tests.

Every method's pipeline runs with tiny settings (tests/app/fixture_runs.py). Set
INTERP_TEST_EXPLORER_RUNS=DIR to build into (and reuse) a fixed folder: the pipelines skip their
finished steps, so a second session starts at once (a run made with older settings is rebuilt).
"""
import os
import time
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def explorer_runs(tmp_path_factory):
    """runs/ made by running the pipelines (not hand-written numbers)."""
    from tests.app.fixture_runs import build

    fixed = os.environ.get("INTERP_TEST_EXPLORER_RUNS")
    root = Path(fixed) if fixed else tmp_path_factory.mktemp("runs")
    start = time.perf_counter()
    took = build(root, rebuild_stale=bool(fixed))
    print(f"\nexplorer fixture runs built in {time.perf_counter() - start:.1f}s: "
          + ", ".join(f"{k} {v:.1f}s" for k, v in took.items()))
    return root


@pytest.fixture
def runs_env(explorer_runs, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(explorer_runs))
    return explorer_runs
