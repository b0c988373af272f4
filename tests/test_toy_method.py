"""A whole method in one file: a pipeline registered through interp.pipeline, with no edit anywhere else,
appears in `interp --help`, runs through `interp toy run` and its steps, shows on the explorer's Runs
page, and runs in `interp demo --only toy`.

The method itself is small but real: the residual-stream norm of every layer on a few prompts
(`measure`), then the layer where it grows most (`summarize`). INTERP_PIPELINES=tests.test_toy_method
is how the CLI in a subprocess finds it, as it would find any module a researcher writes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from interp.pipeline import Context, Pipeline

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ToyConfig:
    model: str = field(default="stories260k", metadata={"help": "model spec"})
    prompts: list[str] = field(default_factory=lambda: ["Once upon a time", "The cat sat"],
                               metadata={"help": "prompts to measure"})
    scale: float = field(default=1.0, metadata={"help": "multiplies every norm (to see a changed config refused)"})


toy = Pipeline("toy", ToyConfig, help="residual-stream norm per layer (a one-file example method)",
               demo_config=lambda spec: ToyConfig(model=spec))


@toy.step()
def measure(ctx: Context) -> dict:
    """Mean residual-stream norm after every layer."""
    from interp import capture, resid_post

    model = ctx.model()
    ids, mask = model.tokenize(ctx.cfg.prompts)
    sites = [resid_post(layer) for layer in range(model.n_layers)]
    acts = capture(model, ids, mask, sites)
    norms = [float(acts[s][mask.bool()].norm(dim=-1).mean()) * ctx.cfg.scale for s in sites]
    ctx.file("norms.json").write_text(json.dumps(norms))
    return {"n_layers": model.n_layers, "mean_norm": sum(norms) / len(norms)}


@toy.step(needs=("measure",))
def summarize(ctx: Context) -> dict:
    """The layer whose output norm grows most over its input's."""
    norms = json.loads((ctx.path("measure") / "norms.json").read_text())
    growth = [b - a for a, b in zip(norms, norms[1:])]
    best = max(range(len(growth)), key=growth.__getitem__) + 1
    return {"layer_of_largest_growth": best, "growth": growth[best - 1]}


def _summary_rows(run_dir: Path) -> list[dict]:
    m = json.loads((run_dir / "summarize" / "metrics.json").read_text())
    return [{"effect": "layer of largest norm growth", "value": m["layer_of_largest_growth"],
             "source": "summarize/metrics.json:layer_of_largest_growth"}]


toy.summarize = _summary_rows
# no register() call: INTERP_PIPELINES=tests.test_toy_method registers the module's Pipeline in the processes
# that name it, and pytest importing this file leaves every other test's set of pipelines as it was

def interp_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "INTERP_PIPELINES": "tests.test_toy_method", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def test_importing_the_module_registers_nothing():
    from interp.pipeline import registered

    assert "toy" not in registered()


def test_toy_appears_in_help_with_its_steps_and_flags():
    top = interp_cli("--help")
    assert top.returncode == 0 and "toy" in top.stdout and "one-file example method" in top.stdout
    group = interp_cli("toy", "--help")
    assert all(s in group.stdout for s in ("run", "measure", "summarize"))
    step = interp_cli("toy", "run", "--help")
    for flag in ("--run", "--runs", "--config", "--force", "--model", "--prompts", "--scale"):
        assert flag in step.stdout, flag
    assert "comma-separated" in step.stdout


@pytest.mark.slow
def test_toy_runs_skips_refuses_and_shows_in_explorer_and_demo(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    first = interp_cli("toy", "run", "--run", "t", "--runs", str(runs), "--prompts", "Once upon a time,A dog")
    assert first.returncode == 0, first.stderr[-2000:]
    cfg = json.loads((runs / "t" / "measure" / "config.json").read_text())
    assert cfg["pipeline"] == "toy" and cfg["prompts"] == ["Once upon a time", "A dog"] and cfg["interp_version"]
    norms = json.loads((runs / "t" / "measure" / "norms.json").read_text())
    metrics = json.loads((runs / "t" / "summarize" / "metrics.json").read_text())
    assert metrics["growth"] == pytest.approx(max(b - a for a, b in zip(norms, norms[1:])))

    before = (runs / "t" / "measure" / "metrics.json").stat().st_mtime_ns
    again = interp_cli("toy", "summarize", "--run", "t", "--runs", str(runs), "--prompts", "Once upon a time,A dog")
    assert again.returncode == 0 and (runs / "t" / "measure" / "metrics.json").stat().st_mtime_ns == before
    changed = interp_cli("toy", "run", "--run", "t", "--runs", str(runs), "--prompts", "Once upon a time,A dog",
                         "--scale", "2")
    assert changed.returncode == 2 and "differs in: scale" in changed.stderr and "--force" in changed.stderr
    orphan = interp_cli("toy", "summarize", "--run", "u", "--runs", str(runs))
    assert orphan.returncode == 2 and "interp toy measure" in orphan.stderr

    from tests.app.explorer_util import open_page

    monkeypatch.setenv("INTERP_RUNS", str(runs))
    page = open_page("runs")
    assert not page.exception
    table = page.dataframe[0].value.set_index("run")
    assert table.loc["t", "pipeline"] == "toy" and table.loc["t", "status"] == "finished"

    demo = interp_cli("demo", "--only", "toy", "--model", "stories260k", "--runs", str(runs))
    assert demo.returncode == 0, demo.stderr[-2000:]
    demo_metrics = json.loads((runs / "demo" / "toy" / "summarize" / "metrics.json").read_text())
    row = next(line for line in demo.stdout.splitlines() if "layer of largest norm growth" in line)
    assert str(demo_metrics["layer_of_largest_growth"]) in row.split()
