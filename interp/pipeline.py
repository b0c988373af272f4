"""The pipeline protocol: one shape for every method.

A pipeline is a name, a config dataclass and its steps. A step is a function `f(ctx) -> metrics`
that declares the steps it reads from:

    toy = Pipeline("toy", ToyConfig, help="...")

    @toy.step()
    def sample(ctx: Context) -> dict: ...

    @toy.step(needs=("sample",))
    def score(ctx: Context) -> dict: ...

    register(toy)

The protocol owns everything around a step, so no method writes it again:
- opening `runs/<run>/<step>/` through `interp.runs.open_step` (config.json records the pipeline's
  name, the project version and package versions), skipping it when finished with the same
  config, refusing a changed config by naming the settings that changed (`force` redoes it);
- one writer per run: the run's writer lock (`interp.runs.writing`), held while steps run;
- the barrier between processes: a step runs on the main process only (the others wait), or on
  every process when declared `all_processes=True` (training under `accelerate launch`);
- one lazy model context (`ctx.model()`), shared by the steps of one invocation.

Registration replaces per-method wiring: the CLI (`interp <name> run|<step>`), `interp demo` and the
explorer find pipelines through `registered()`, which holds the pipelines registered in-process,
those published under the `interp.pipelines` entry point group, and the `Pipeline` objects of the
modules named in the `INTERP_PIPELINES` environment variable (comma-separated), for a method that
lives in one file. Importing such a module registers nothing by itself.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from interp.runs import LOCK_FILE, RunBusy, Step, safe_name, writing  # noqa: F401 - LOCK_FILE re-exported

StepFn = Callable[["Context"], dict[str, Any]]
ENTRY_POINT_GROUP = "interp.pipelines"
ENV_MODULES = "INTERP_PIPELINES"


class PipelineError(RuntimeError):
    """A pipeline cannot run as asked (unknown step, missing upstream step, run held by another writer)."""


@dataclass(frozen=True)
class StepSpec:
    name: str
    fn: StepFn
    needs: tuple[str, ...] = ()
    all_processes: bool = False
    help: str = ""
    # ctx -> the settings this step depends on, upstream ones included (default: the whole config);
    # what its config.json records and what a re-run compares
    settings: Callable[["Context"], dict[str, Any]] | None = None
    # whether the config asks for this step at all (default: always)
    when: Callable[[Any], bool] | None = None


@dataclass
class Pipeline:
    """A method: `name`, a config dataclass, ordered steps, and optionally a compact demo config."""

    name: str
    config: type
    help: str = ""
    steps: list[StepSpec] = field(default_factory=list)
    # model spec -> config sized for `interp demo` (None: the pipeline is not part of the demo)
    demo_config: Callable[[str], Any] | None = None
    # run directory -> rows {"effect", "value", "source"; optional "low", "high", "detail", "n", "p"} for the
    # demo's table: `source` is FILE:KEY with FILE relative to the run directory, `low`/`high` a 95% interval,
    # `n` the paired sample behind it, `p` a test's p-value (rows judged by a test rather than an interval)
    summarize: Callable[[Path], list[dict[str, Any]]] | None = None
    # where the demo runs it among the others (lower first, then by name)
    demo_rank: int = 100
    # how a reader writes its name (the demo's table; default: the name)
    title: str = ""
    # (config, --device or None) -> the device its steps run on (default: as given); for a pipeline whose
    # recorded settings name the device it resolved
    resolve_device: Callable[[Any, str | None], str | None] | None = None
    # config -> None, raising a clear error before any model is loaded (e.g. unknown data set names)
    check: Callable[[Any], None] | None = None
    # config -> the run name used when none is given
    default_run: Callable[[Any], str] | None = None
    # (ctx, name) -> model spec, for pipelines that name their models ("base", "tuned"): ctx.model(name)
    model_spec: Callable[["Context", str], str] | None = None
    # the CLI command group (default: the name)
    command: str | None = None
    # {step: metrics} of a CLI invocation -> prints what a researcher reads (default: one JSON line a step)
    report: Callable[[dict[str, dict[str, Any]]], None] | None = None

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"pipeline {self.name!r}: config must be a dataclass, got {self.config!r}")
        safe_name(self.name, "pipeline name")

    def step(self, name: str | None = None, needs: tuple[str, ...] = (), all_processes: bool = False,
             settings: Callable[["Context"], dict[str, Any]] | None = None,
             when: Callable[[Any], bool] | None = None) -> Callable[[StepFn], StepFn]:
        """Decorator: add `fn` as a step (named after the function unless `name`), after the steps it needs.

        `all_processes`: run on every process (training under `accelerate launch`), else on the main
        process while the others wait. `settings(ctx)`: what the step depends on, recorded in its
        config.json and compared on re-runs (default: the whole config). `when(cfg)`: False skips it."""
        def add(fn: StepFn) -> StepFn:
            step_name = (name or fn.__name__).replace("_", "-")
            unknown = [n for n in needs if n not in self.step_names()]
            if unknown:
                raise PipelineError(f"pipeline {self.name!r}: step {step_name!r} needs {unknown}, which are not "
                                    "defined before it")
            doc = (fn.__doc__ or "").strip().splitlines()
            self.steps.append(StepSpec(step_name, fn, tuple(needs), all_processes, doc[0] if doc else "", settings, when))
            return fn

        return add

    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]

    def get_step(self, name: str) -> StepSpec:
        for s in self.steps:
            if s.name == name:
                return s
        raise PipelineError(f"pipeline {self.name!r} has no step {name!r}; steps: {', '.join(self.step_names())}")

    def config_dict(self, cfg: Any) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))

    @property
    def cli_name(self) -> str:
        return self.command or self.name

    @property
    def display_name(self) -> str:
        return self.title or self.name

    def run_name(self, cfg: Any) -> str:
        return self.default_run(cfg) if self.default_run else self.name


@dataclass
class Context:
    """What a step sees: the config, its run directory, its own step directory, and models loaded once."""

    pipeline: Pipeline
    cfg: Any
    run_dir: Path
    force: bool = False
    progress: bool = True
    device: str | None = None
    current: Step | None = None
    models: dict[str, Any] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)  # what steps of one invocation compute once (prompt lists)

    @property
    def step_dir(self) -> Path:
        assert self.current is not None, "step_dir is only defined while a step runs"
        return self.current.path

    def file(self, name: str) -> Path:
        """A file of the running step's directory."""
        return self.step_dir / name

    def path(self, step: str) -> Path:
        """Another step's directory (to read what it wrote)."""
        return self.run_dir / step

    def metrics(self, step: str) -> dict[str, Any]:
        from interp.io import read_json

        path = self.run_dir / step / "metrics.json"
        if not path.exists():
            raise PipelineError(f"{path} is missing: run `interp {self.pipeline.cli_name} {step}` first")
        return read_json(path)

    def model(self, spec: str | None = None) -> Any:
        """The model `spec` (default: the config's `model` field; a name the pipeline's `model_spec` knows,
        such as "base"), loaded on first use and then shared.

        Under `accelerate launch` each process loads it onto its own device (cuda:<local rank>)."""
        if spec is not None and self.pipeline.model_spec is not None:
            spec = self.pipeline.model_spec(self, spec)
        spec = spec or getattr(self.cfg, "model", None)
        if spec is None:
            raise PipelineError(f"pipeline {self.pipeline.name!r}: no model spec given and its config has no `model` field")
        if spec not in self.models:
            from interp.distributed import default_device
            from interp.models import load_model

            self.models[spec] = load_model(spec, device=str(default_device(self.device)))
        return self.models[spec]


def project_version() -> str:
    from interp.versions import installed_versions

    return installed_versions(("interp",))["interp"]


class RunLocked(PipelineError, RunBusy):
    """The run is being written by another process (the message names its pid and command)."""


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run's writer lock (`interp.runs.writing`, on runs/<run>/.writer.json) while steps run: a second
    writer is refused at once, naming the first, never mixed in; a lock left by a process that died is taken
    over. Re-entrant in a process; only the main process of a multi-process job takes it."""
    try:
        with writing(run_dir):
            yield
    except RunBusy as e:
        if isinstance(e, PipelineError):
            raise
        raise RunLocked(str(e)) from None


def step_config(pipeline: Pipeline, spec: StepSpec, ctx: Context) -> dict[str, Any]:
    """What a step's config.json records: the pipeline's name, the project version, the step's settings."""
    settings = spec.settings(ctx) if spec.settings else pipeline.config_dict(ctx.cfg)
    return {"pipeline": pipeline.name, "interp_version": project_version(), **settings}


def run(pipeline: Pipeline, cfg: Any, run_dir: str | Path, steps: list[str] | None = None, force: bool = False,
        progress: bool = True, device: str | None = None, models: dict[str, Any] | None = None,
        scratch: dict[str, Any] | None = None) -> dict[str, dict]:
    """Run `steps` (default: all, in order) of `pipeline` into `run_dir`; returns {step: metrics}.

    A step asked for by name needs its upstream steps finished (they are not run implicitly: the
    error names the command that makes them). `models` pre-fills the lazy model context."""
    from interp.distributed import finish_step, is_main, open_step

    run_dir = Path(run_dir)
    if pipeline.resolve_device is not None:
        device = pipeline.resolve_device(cfg, device)
    wanted = pipeline.step_names() if steps is None else [pipeline.get_step(s).name for s in steps]
    if pipeline.check is not None:
        pipeline.check(cfg)  # before any directory or model
    # the caller's dict is filled in place: a model loaded here stays with the caller
    ctx = Context(pipeline, cfg, run_dir, force, progress, device, models=models if models is not None else {},
                  scratch=scratch if scratch is not None else {})
    results: dict[str, dict] = {}
    with run_lock(run_dir):
        for spec in pipeline.steps:
            if spec.name not in wanted or (spec.when is not None and not spec.when(cfg)):
                continue
            for need in spec.needs:
                if need not in results and not (run_dir / need / "metrics.json").exists():
                    raise PipelineError(f"step {spec.name!r} needs {need!r}, which has not finished in {run_dir}: "
                                        f"run `interp {pipeline.cli_name} {need}` (or `interp {pipeline.cli_name} run`) first")
            step = open_step(run_dir, spec.name, step_config(pipeline, spec, ctx), force=force)
            if step.done:
                results[spec.name] = step.metrics()
                continue
            ctx.current = step
            metrics: dict[str, Any] = {}
            if spec.all_processes or is_main():
                metrics = spec.fn(ctx) or {}
            finish_step(step, metrics)  # main process writes metrics.json once every process is done
            results[spec.name] = step.metrics()
            ctx.current = None
    return results


# --- registration ----------------------------------------------------------------------------
_REGISTRY: dict[str, Pipeline] = {}
_LOADED = False


def register(pipeline: Pipeline) -> Pipeline:
    """Make `pipeline` known to the CLI, the demo and the explorer (re-registering a name replaces it)."""
    _REGISTRY[pipeline.name] = pipeline
    return pipeline


def registered() -> dict[str, Pipeline]:
    """Every known pipeline: registered in-process, published as an `interp.pipelines` entry point, or a
    `Pipeline` object at the top level of a module named in INTERP_PIPELINES (`pkg.module`, comma-separated)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            obj = ep.load()
            if isinstance(obj, Pipeline):
                register(obj)
    for name in filter(None, (m.strip() for m in os.environ.get(ENV_MODULES, "").split(","))):
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            raise PipelineError(f"{ENV_MODULES} names {name!r}, which cannot be imported: {e}") from e
        found = [obj for obj in vars(module).values() if isinstance(obj, Pipeline)]
        if not found:
            raise PipelineError(f"{ENV_MODULES} names {name!r}, which defines no interp.pipeline.Pipeline")
        for obj in found:
            register(obj)
    return dict(_REGISTRY)


def pipeline_of(config: dict[str, Any] | None) -> str | None:
    """The pipeline that wrote a step, from its config.json (None for runs written before the protocol)."""
    name = (config or {}).get("pipeline")
    return name if isinstance(name, str) else None
