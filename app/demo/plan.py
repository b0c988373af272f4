"""Which pipelines the demo runs, in what order, at which size.

Every registered pipeline (`interp.pipeline.registered()`) that defines `demo_config(model_spec)` is
part of the demo; the pipeline sizes itself there (the four built-in methods in
`methods/<method>/demo.py`: compact settings for a real model, toy ones for stories260k and the
tiny-random models). Each runs into runs/demo/<name>/, what its own CLI writes, so the explorer and
`interp <method> ...` read it like any other run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interp.models.registry import is_tiny


def demo_name(pipeline: Any) -> str:
    """A pipeline's run directory under runs/demo/ and its name for `--only`: its command with `_` for `-`
    (re_control, vas, reprpo, divergence, as the demo named them before pipelines registered)."""
    return pipeline.cli_name.replace("-", "_")


def demo_pipelines() -> dict[str, Any]:
    """{demo name: pipeline} of every registered pipeline with a demo config, in the order the demo runs them."""
    from interp.pipeline import registered

    found = [p for p in registered().values() if p.demo_config is not None]
    return {demo_name(p): p for p in sorted(found, key=lambda p: (p.demo_rank, p.name))}


@dataclass
class DemoPlan:
    model: str
    profile: str  # "tiny" (test models: toy sizes) or "compact" (real models)
    threads: int | None = None  # torch threads (None: torch's default, one per core)

    def config(self, name: str) -> Any:
        """The named pipeline's demo config for this model."""
        return demo_pipelines()[name].demo_config(self.model)


def make_plan(model: str) -> DemoPlan:
    """The demo's profile for `model`: tiny for the test models, compact otherwise."""
    if is_tiny(model):
        # one thread: a 260K-parameter model gains nothing from a second core and loses on a shared machine
        return DemoPlan(model, "tiny", threads=1)
    return DemoPlan(model, "compact")
