"""`interp demo` on stories260k: four real (tiny) pipelines, one summary table read from their files, reuse on re-run."""
import contextlib
import io
import time

import pytest

from app.cli import main
from interp.io import read_json


def _demo(runs, *extra: str) -> tuple[int, str, float]:
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        rc = main(["demo", "--model", "stories260k", "--runs", str(runs), *extra])
    return rc, out.getvalue(), time.perf_counter() - t0


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    rc, out, seconds = _demo(runs)
    return runs, rc, out, seconds, read_json(runs / "demo" / "summary.json")


def _line(out: str, effect: str) -> str:
    """The table line of one measured effect."""
    lines = [line for line in out.splitlines() if effect in line]
    assert len(lines) == 1, f"expected one table line with {effect!r} in:\n{out}"
    return lines[0]


def _check(out: str, summary: dict, effect: str, value, low=None, high=None) -> None:
    """The effect's row holds the file's numbers, in summary.json and in the printed table."""
    rows = [r for r in summary["rows"] if effect in r["effect"]]
    assert len(rows) == 1, effect
    row = rows[0]
    assert row["value"] == value and row["low"] == low and row["high"] == high, (effect, row)
    line = _line(out, effect)
    if isinstance(value, float):
        assert (f"{value:+.3f}" if low is not None else f"{value:.3f}") in line, line
    else:
        assert str(value) in line, line
    if low is not None:
        assert f"[{low:+.3f}, {high:+.3f}]" in line, line


@pytest.mark.slow
def test_demo_prints_one_table_whose_numbers_are_the_run_files(demo_run):
    runs, rc, out, _, summary = demo_run
    demo = runs / "demo"
    assert rc == 0, out
    assert "Measured effects on stories260k" in out and "FAILED" not in out
    assert out.rstrip().endswith(f"interp app --runs {demo}")
    assert set(summary["pipelines"]) == {"re_control", "vas", "reprpo", "divergence"}
    assert all(p["ok"] for p in summary["pipelines"].values())

    m = read_json(demo / "re_control" / "evaluate" / "metrics.json")["re_control_minus_base"]
    _check(out, summary, "reward gain over base greedy", m["difference"], m["low"], m["high"])
    _check(out, summary, "value function: validation Spearman",
           read_json(demo / "re_control" / "train-value" / "metrics.json")["val_spearman"])

    vas = next(r for r in read_json(demo / "vas" / "evaluate" / "table.json")["rows"] if r["method"] == "vas")
    _check(out, summary, f"reward gain at beta={vas['beta']:g}", vas["delta"], vas["delta_low"], vas["delta_high"])

    ev = read_json(demo / "reprpo" / "eval" / "metrics.json")
    _check(out, summary, "adapter/base, source test", ev["source_test.ratio_mean"])
    _check(out, summary, "adapter/base, OOD target", ev["target_test.ratio_mean"])

    rl = read_json(demo / "divergence" / "rlhf" / "metrics.json")["tuned_minus_base"]
    _check(out, summary, "RL-tuned minus base reward", rl["mean"], rl["low"], rl["high"])
    layers = read_json(demo / "divergence" / "divergence" / "metrics.json")["layers"]
    _check(out, summary, "top divergent layers", ", ".join(map(str, layers)))
    saes = read_json(demo / "divergence" / "saes" / "metrics.json")["saes"]
    for e in {s["expansion"] for s in saes}:
        ev_e = [s["explained_variance"] for s in saes if s["expansion"] == e]
        _check(out, summary, f"SAE explained variance, {e:g}x", sum(ev_e) / len(ev_e))
    counts = read_json(demo / "divergence" / "features" / "metrics.json")["counts"]
    total = {n: sum(v for site in c.values() for v in site.values()) for n, c in counts.items()}
    _check(out, summary, "reward-related SAE features", f"{total['base']} / {total['tuned']}")
    tau = read_json(demo / "divergence" / "probe" / "metrics.json")["tuned"]["kendall_tau"]
    _check(out, summary, "Kendall tau", tau)

    # laid out for the explorer: one run per method under runs/demo, each of the kind its pipeline writes
    from app.explorer.rundata import by_run, discover, run_kind

    kinds = {name: run_kind(steps) for name, steps in by_run(discover(demo)).items()}
    assert kinds == {"re_control": "re-control", "vas": "vas", "reprpo": "reprpo", "divergence": "reward-divergence"}


@pytest.mark.slow
def test_rerun_reuses_finished_steps(demo_run):
    runs, _, first, first_seconds, before = demo_run
    rc, out, seconds = _demo(runs)
    assert rc == 0, out
    after = read_json(runs / "demo" / "summary.json")
    assert after["rows"] == before["rows"]  # same numbers: nothing was redone
    def table(text: str) -> str:
        return text[text.index("Measured effects"): text.index("wall time")]

    assert table(out) == table(first)
    for name, p in after["pipelines"].items():
        steps = {d.name for d in (runs / "demo" / name).iterdir() if (d / "metrics.json").exists()}
        assert set(p["steps_reused"]) == steps, name
    assert seconds < first_seconds / 2, (seconds, first_seconds)


@pytest.mark.slow
def test_a_failing_pipeline_is_reported_and_the_others_stand(demo_run, monkeypatch):
    from interp.pipeline import registered

    def broken(*args, **kwargs):
        raise RuntimeError("simulated VAS failure")

    monkeypatch.setattr(registered()["vas"], "demo_config", broken)
    runs = demo_run[0]
    rc, out, _ = _demo(runs, "--only", "re_control,vas")
    assert rc == 1
    line = _line(out, "FAILED (traceback above)")
    assert line.startswith("VAS") and "RuntimeError: simulated VAS failure" in line
    assert "reward gain over base greedy" in out  # RE-Control's row is still there
    summary = read_json(runs / "demo" / "summary.json")
    assert summary["pipelines"]["vas"]["error"] == "RuntimeError: simulated VAS failure"
    assert summary["pipelines"]["re_control"]["ok"]


def test_only_names_methods():
    from app.cli.demo import chosen_methods

    assert chosen_methods(None) == ["re_control", "vas", "reprpo", "divergence"]
    assert chosen_methods("divergence,re-control") == ["re_control", "divergence"]
    with pytest.raises(ValueError, match="choose among"):
        chosen_methods("vas,dpo")


def test_compact_plan_is_the_default_models():
    from app.demo.plan import make_plan

    plan = make_plan("smollm2-135m-instruct")
    assert plan.profile == "compact" and plan.threads is None
    assert (plan.config("re_control").model == plan.config("reprpo").model == plan.config("divergence").rlhf.policy
            == "smollm2-135m-instruct")
    assert plan.config("vas").value.backbone == "smollm2-135m-instruct"
    assert make_plan("stories260k").profile == "tiny"


def _stat(*cores: tuple[int, int]) -> str:
    """A /proc/stat text whose cpuN lines have these (busy, idle) jiffies (busy as user time)."""
    total = [sum(c) for c in zip(*cores)]
    lines = [f"cpu  {total[0]} 0 0 {total[1]} 0 0 0 0 0 0"]
    lines += [f"cpu{i} {busy} 0 0 {idle} 0 0 0 0 0 0" for i, (busy, idle) in enumerate(cores)]
    return "\n".join(lines + ["intr 1 0 0", "ctxt 5", ""])


def _snapshots(*texts: str):
    it = iter(texts)
    return lambda: next(it)


def test_threads_are_the_cores_idle_now():
    """free_cores measures busy-ness over two /proc/stat readings (the load average it replaced lags by minutes)."""
    from app.cli.demo import free_cores

    def cores(first, second, allowed=(0, 1)):
        return free_cores(read=_snapshots(first, second), sleep=lambda s: None, allowed=set(allowed))

    start = _stat((1000, 5000), (2000, 4000))
    # idle: 50 jiffies idle of 50 on both cores -> 2 threads
    assert cores(start, _stat((1000, 5050), (2000, 4050))) == 2
    # busy: both cores fully busy -> still 1 thread
    assert cores(start, _stat((1050, 5000), (2050, 4000))) == 1
    # one of two cores busy -> 1; 3 of 4 cores idle (a quarter busy) -> 3
    assert cores(start, _stat((1050, 5000), (2000, 4050))) == 1
    four = _stat((0, 0), (0, 0), (0, 0), (0, 0))
    assert cores(four, _stat((10, 30), (10, 30), (10, 30), (10, 30)), allowed=range(4)) == 3
    # only the cores this process may run on count
    assert cores(four, _stat((40, 0), (40, 0), (0, 40), (0, 40)), allowed=(2, 3)) == 2


def test_threads_without_proc_stat_are_the_cpu_count(monkeypatch):
    import os

    from app.cli.demo import free_cores

    def unreadable():
        raise FileNotFoundError("/proc/stat")

    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert free_cores(read=unreadable, sleep=lambda s: None) == 6


def test_secrets_in_a_failing_pipeline_are_masked(tmp_path, monkeypatch):
    """Issue 20, item 9: the demo wrote a failing pipeline's raw error and traceback into summary.json and the
    terminal; the plain CLI masks credentials, so does the demo now."""
    from interp.pipeline import registered

    secret = "hf_DemoSeCrEt424242"
    monkeypatch.setenv("HF_TOKEN", secret)

    def broken(*args, **kwargs):
        raise RuntimeError(f"401 from https://judge.example/v1?key={secret}")

    monkeypatch.setattr(registered()["vas"], "demo_config", broken)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc, out, _ = _demo(tmp_path, "--only", "vas")
    assert rc == 1
    summary = (tmp_path / "demo" / "summary.json").read_text()
    for where, text in (("table", out), ("traceback", err.getvalue()), ("summary.json", summary)):
        assert secret not in text, where
    assert "Traceback" in err.getvalue() and "key=***" in err.getvalue()
    assert read_json(tmp_path / "demo" / "summary.json")["pipelines"]["vas"]["error"].endswith("key=***")


def test_the_demo_is_a_loop_over_registered_pipelines(tmp_path, monkeypatch):
    """A registered pipeline with a demo config joins the demo in its demo_rank, under its title, in
    runs/demo/<command with _ for ->/, and its summarize rows (sources relative to its run) keep their interval,
    sample size and p-value, so the table can say whether the effect shows."""
    from dataclasses import dataclass

    from app.cli.demo import chosen_methods, title
    from app.demo.summary import pipeline_rows, verdict
    from interp import pipeline as protocol

    @dataclass
    class Cfg:
        model: str = "stories260k"

    rows = [{"effect": "gain", "value": 1.5, "source": "score/metrics.json:gain", "low": 1.0, "high": 2.0, "n": 8},
            {"effect": "ratio", "value": 1.1, "source": "score/metrics.json:ratio", "n": 24, "p": 0.25}]
    p = protocol.Pipeline("my-probe", Cfg, demo_config=lambda spec: Cfg(spec), summarize=lambda run_dir: rows,
                          demo_rank=0, title="My probe")
    protocol.registered()
    monkeypatch.setitem(protocol._REGISTRY, p.name, p)
    assert chosen_methods(None)[:5] == ["my_probe", "re_control", "vas", "reprpo", "divergence"]
    assert title("my_probe") == "My probe" and chosen_methods("my-probe") == ["my_probe"]
    gain, ratio = pipeline_rows(p, tmp_path / "my_probe", "my_probe", "My probe")
    assert gain.source == "my_probe/score/metrics.json:gain" and (gain.low, gain.high, gain.n) == (1.0, 2.0, 8)
    assert verdict(gain) == "clear of 0"
    assert verdict(ratio) == "p = 0.25: ~70 pairs would show it at this effect (n = 24)"


def test_the_demo_never_falls_back_to_a_data_hub(tmp_path, monkeypatch):
    """Data missing locally makes the demo's pipelines fail with the loader's 'hub is off' error, not download it."""
    import interp.data._files as files
    from interp.pipeline import registered

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    seen = []

    def config_reads_data(model):
        seen.append(files.hub_reachable())
        return files.hub_rows("cornell-movie-review-data/rotten_tomatoes", "rt-polarity", tmp_path / "rt-polarity.pos")

    monkeypatch.setattr(registered()["vas"], "demo_config", config_reads_data)
    with contextlib.redirect_stderr(io.StringIO()):
        rc, _, _ = _demo(tmp_path, "--only", "vas")
    assert rc == 1 and seen == [False]
    assert "the hub is off" in read_json(tmp_path / "demo" / "summary.json")["pipelines"]["vas"]["error"]
