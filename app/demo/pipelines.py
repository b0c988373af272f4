"""Run a registered pipeline's demo config through the protocol, into runs/demo/<name>/.

Nothing here trains or evaluates by itself: `interp.pipeline.run` runs the pipeline's steps, which
are skipped when already finished with the same settings. The base model is loaded once and shared
by every pipeline whose config names it as `model` (ReprPO takes its LoRA layers out again when it
closes); a pipeline that names its models otherwise (reward divergence) loads its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


class SharedModel:
    """The base model, loaded on first use and then reused."""

    def __init__(self, spec: str, device: str | None = None):
        self.spec, self.device, self._model = spec, device, None

    def get(self) -> Any:
        if self._model is None:
            from interp import load_model

            self._model = load_model(self.spec, device=self.device)
        return self._model


def run_demo(pipeline: Any, spec: str, run_dir: Path, model: SharedModel, force: bool, progress: bool) -> None:
    """The pipeline's demo config for `spec`, run through the protocol; the demo's base model is shared
    when the config names the same model."""
    from interp.pipeline import run

    cfg = pipeline.demo_config(spec)
    shared = {spec: model.get()} if getattr(cfg, "model", None) == spec else {}
    run(pipeline, cfg, run_dir, force=force, progress=progress, models=shared)


def finished_steps(run_dir: Path) -> set[str]:
    """Names of the steps of a run that hold metrics.json (the mark of a finished step)."""
    if not run_dir.exists():
        return set()
    return {d.name for d in run_dir.iterdir() if (d / "metrics.json").exists() and (d / "config.json").exists()}
