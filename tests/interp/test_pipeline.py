"""The pipeline protocol: steps run in order and are skipped when finished, changed settings are refused,
a run has one writer, metadata is not a setting, and a bad config is refused before anything is written."""
import json
from dataclasses import dataclass

import pytest

from interp.pipeline import Context, Pipeline, PipelineError, run, run_lock
from interp.runs import RunConfigMismatch


@dataclass
class Cfg:
    n: int = 2
    extra: bool = True


def make(calls: list) -> Pipeline:
    p = Pipeline("t", Cfg, check=lambda cfg: (_ for _ in ()).throw(ValueError("n must be >= 0")) if cfg.n < 0 else None)

    @p.step()
    def first(ctx: Context) -> dict:
        calls.append("first")
        ctx.file("out.json").write_text(json.dumps(list(range(ctx.cfg.n))))
        return {"n": ctx.cfg.n}

    @p.step(needs=("first",), settings=lambda ctx: {"n": ctx.cfg.n}, when=lambda cfg: cfg.extra)
    def second(ctx: Context) -> dict:
        calls.append("second")
        return {"total": sum(json.loads((ctx.path("first") / "out.json").read_text()))}

    return p


def test_steps_run_in_order_then_are_skipped(tmp_path):
    calls = []
    p = make(calls)
    assert run(p, Cfg(n=4), tmp_path) == {"first": {"n": 4}, "second": {"total": 6}}
    assert run(p, Cfg(n=4), tmp_path)["second"] == {"total": 6} and calls == ["first", "second"]
    recorded = json.loads((tmp_path / "second" / "config.json").read_text())
    assert recorded["pipeline"] == "t" and recorded["n"] == 4 and "extra" not in recorded  # the step's own settings
    assert recorded["interp_version"] and "versions" in recorded


def test_changed_settings_are_refused_by_name_and_force_redoes(tmp_path):
    calls = []
    p = make(calls)
    run(p, Cfg(n=2), tmp_path)
    with pytest.raises(RunConfigMismatch, match="differs in: n"):
        run(p, Cfg(n=3), tmp_path)
    assert run(p, Cfg(n=3), tmp_path, force=True)["second"] == {"total": 3}


def test_a_step_alone_needs_its_upstream_and_when_skips(tmp_path):
    p = make([])
    with pytest.raises(PipelineError, match="needs 'first'.*interp t first"):
        run(p, Cfg(), tmp_path, steps=["second"])
    assert set(run(p, Cfg(extra=False), tmp_path)) == {"first"}
    with pytest.raises(PipelineError, match="has no step 'third'"):
        run(p, Cfg(), tmp_path, steps=["third"])


def test_bad_config_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="n must be"):
        run(make([]), Cfg(n=-1), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_metadata_is_not_a_setting(tmp_path):
    """A step written before config.json recorded the pipeline and project version is still the same step."""
    calls = []
    p = make(calls)
    run(p, Cfg(n=2), tmp_path)
    for step in ("first", "second"):
        f = tmp_path / step / "config.json"
        old = {k: v for k, v in json.loads(f.read_text()).items() if k not in ("pipeline", "interp_version")}
        f.write_text(json.dumps(old))
    run(p, Cfg(n=2), tmp_path)
    assert calls == ["first", "second"]


def test_one_writer_per_run(tmp_path):
    """A second process is refused while the first holds the run (naming its pid); the lock goes with the process."""
    import os

    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the first writer
        try:
            with run_lock(tmp_path):
                os.write(ready_w, b"1")
                os.read(go_r, 1)
        finally:
            os._exit(0)
    assert os.read(ready_r, 1) == b"1"
    calls = []
    try:
        with pytest.raises(PipelineError, match=rf"being written by pid {pid} "):
            run(make(calls), Cfg(), tmp_path)
    finally:
        os.write(go_w, b"1")
        os.waitpid(pid, 0)
    assert calls == []
    run(make(calls), Cfg(), tmp_path)  # released: the next writer goes ahead
    assert calls == ["first", "second"]
    assert "flock" in json.loads((tmp_path / ".writer.json").read_text())["about"]


def test_named_models_resolve_through_the_pipeline(tmp_path):
    loaded = []
    p = Pipeline("m", Cfg, model_spec=lambda ctx, name: {"base": "tiny-random-llama"}.get(name, name))
    ctx = Context(p, Cfg(), tmp_path, models={"tiny-random-llama": "sentinel"})
    assert ctx.model("base") == "sentinel" and loaded == []


def test_a_pipeline_resolves_its_device_before_its_steps_record_it(tmp_path):
    """resolve_device(cfg, device) settles the device a step sees and records (reward divergence: the config's
    device when no --device is given); without it the device is passed through as given."""
    def pipeline(resolve=None) -> Pipeline:
        p = Pipeline("d", Cfg, resolve_device=resolve)

        @p.step(settings=lambda ctx: {"device": ctx.device})
        def where(ctx: Context) -> dict:
            return {"device": ctx.device}

        return p

    resolve = lambda cfg, device: device or f"dev{cfg.n}"  # noqa: E731
    assert run(pipeline(resolve), Cfg(n=7), tmp_path / "a")["where"] == {"device": "dev7"}
    assert json.loads((tmp_path / "a" / "where" / "config.json").read_text())["device"] == "dev7"
    assert run(pipeline(resolve), Cfg(n=7), tmp_path / "b", device="cpu")["where"] == {"device": "cpu"}
    assert run(pipeline(), Cfg(n=7), tmp_path / "c")["where"] == {"device": None}
