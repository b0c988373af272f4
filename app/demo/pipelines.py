"""Run a registered pipeline's demo config through the protocol, into runs/demo/<name>/.

Nothing here trains or evaluates by itself: `interp.pipeline.run` runs the pipeline's steps, which
are skipped when already finished with the same settings. The base model is loaded once, by the
first step that asks for it (the protocol's lazy model context), and shared by every pipeline whose
config names it as `model` (ReprPO takes its LoRA layers out again when it closes); a pipeline that
names its models otherwise (reward divergence) loads its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def run_demo(pipeline: Any, spec: str, run_dir: Path, shared: dict[str, Any], force: bool, progress: bool) -> None:
    """The pipeline's demo config for `spec`, run through the protocol. `shared` is the demo's model context
    ({spec: model}, filled on first use), handed to the pipelines whose config names the same model."""
    from interp.pipeline import run

    cfg = pipeline.demo_config(spec)
    models = shared if getattr(cfg, "model", None) == spec else {}
    run(pipeline, cfg, run_dir, force=force, progress=progress, models=models)


def finished_steps(run_dir: Path) -> set[str]:
    """Names of the steps of a run that hold metrics.json (the mark of a finished step)."""
    if not run_dir.exists():
        return set()
    return {d.name for d in run_dir.iterdir() if (d / "metrics.json").exists() and (d / "config.json").exists()}
