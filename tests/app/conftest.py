"""A small runs directory made by real pipelines on stories260k, shared by the explorer tests."""
import os

import pytest


@pytest.fixture(scope="session")
def explorer_runs(tmp_path_factory):
    """runs/ made by running the pipelines (not hand-written numbers)."""
    from app.cli import main

    root = tmp_path_factory.mktemp("runs")
    assert main(["demo", "--model", "stories260k", "--runs", str(root), "--max-new-tokens", "12"]) == 0
    return root


@pytest.fixture
def runs_env(explorer_runs, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(explorer_runs))
    return explorer_runs
