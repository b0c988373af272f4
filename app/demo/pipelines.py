"""Run each method of the demo through its own pipeline functions, into runs/demo/<method>/.

Nothing here trains or evaluates by itself: every runner calls the method's public pipeline API
(the functions behind `interp <method> ...`), whose steps are skipped when already finished with
the same settings. The base model is loaded once and shared by RE-Control, VAS and ReprPO (ReprPO
takes its LoRA layers out again when it closes); the divergence pipeline loads its own models.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.demo.plan import DemoPlan


class SharedModel:
    """The base model, loaded on first use and then reused."""

    def __init__(self, spec: str, device: str | None = None):
        self.spec, self.device, self._model = spec, device, None

    def get(self) -> Any:
        if self._model is None:
            from interp import load_model

            self._model = load_model(self.spec, device=self.device)
        return self._model


def run_re_control(plan: DemoPlan, run_dir: Path, model: SharedModel, force: bool, progress: bool) -> None:
    from methods.re_control import run_all

    run_all(plan.re_control, run_dir, force=force, model=model.get(), progress=progress)


def run_vas(plan: DemoPlan, run_dir: Path, model: SharedModel, force: bool, progress: bool) -> None:
    from interp.pipeline import run
    from methods.vas.pipeline import PIPELINE

    run(PIPELINE, plan.vas, run_dir, force=force, progress=progress, models={plan.model: model.get()})


def run_reprpo(plan: DemoPlan, run_dir: Path, model: SharedModel, force: bool, progress: bool) -> None:
    from methods.reprpo.pipeline import run_eval, run_train

    p = plan.reprpo
    _, m = run_train(p.config, run_dir, model=model.get(), force=force, progress=progress)
    run_eval(p.config, run_dir, m, n_eval=p.n_eval, max_length=p.eval_max_length, batch_size=p.eval_batch_size,
             force=force, progress=progress)


def run_divergence(plan: DemoPlan, run_dir: Path, model: SharedModel, force: bool, progress: bool) -> None:
    from methods.reward_divergence import run_pipeline

    run_pipeline(run_dir, plan.divergence, force=force)


RUNNERS: dict[str, Callable[[DemoPlan, Path, SharedModel, bool, bool], None]] = {
    "re_control": run_re_control, "vas": run_vas, "reprpo": run_reprpo, "divergence": run_divergence,
}


def registered_runner(pipeline) -> Callable[[DemoPlan, Path, SharedModel, bool, bool], None]:
    """A registered pipeline runs its demo config through the protocol, sharing the demo's base model
    when its config names the same model."""
    def run_registered(plan: DemoPlan, run_dir: Path, model: SharedModel, force: bool, progress: bool) -> None:
        from interp.pipeline import run

        cfg = pipeline.demo_config(plan.model)
        shared = {plan.model: model.get()} if getattr(cfg, "model", None) == plan.model else {}
        run(pipeline, cfg, run_dir, force=force, progress=progress, models=shared)

    return run_registered


def finished_steps(run_dir: Path) -> set[str]:
    """Names of the steps of a run that hold metrics.json (the mark of a finished step)."""
    if not run_dir.exists():
        return set()
    return {d.name for d in run_dir.iterdir() if (d / "metrics.json").exists() and (d / "config.json").exists()}
