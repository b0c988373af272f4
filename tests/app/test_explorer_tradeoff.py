"""Control trade-off page: the curve and table are those of the RE-Control run's evaluate/tradeoff.json."""
import pytest

from interp.io import read_json
from tests.app.explorer_util import figures, open_page, open_with_half_written, values
from tests.app.fixture_runs import RE_CONTROL

pytestmark = pytest.mark.slow


def test_tradeoff_page_matches_the_file(runs_env):
    curve = read_json(runs_env / RE_CONTROL / "evaluate" / "tradeoff.json")
    assert len(curve["points"]) == 2  # the fixture's 0.5 x 5 and 2 x 5 on validation prompts
    at = open_page("tradeoff")
    assert not at.exception
    assert at.selectbox(key="run").value == RE_CONTROL

    (fig,) = figures(at)
    traces = {t["name"]: t for t in fig["data"]}
    points = sorted(curve["points"], key=lambda p: (p["step_size"] * p["n_steps"], p["step_size"]))
    assert list(traces["reward gain"]["x"]) == [f"{p['step_size']:g} x {p['n_steps']}" for p in points]
    assert values(traces["reward gain"], "y").tolist() == pytest.approx([p["reward_gain"] for p in points])
    base = curve["base"]["diversity"]
    assert values(traces["diversity"], "y").tolist() == pytest.approx(
        [(p["diversity"] - base) / base for p in points])

    table = at.dataframe[0].value
    assert table["reward gain"].tolist() == pytest.approx([p["reward_gain"] for p in curve["points"]])
    assert table["coherence"].tolist() == pytest.approx([p["coherence"] for p in curve["points"]])


def test_half_written_curve_is_a_message(explorer_runs, tmp_path, monkeypatch):
    at = open_with_half_written(explorer_runs, RE_CONTROL, "evaluate/tradeoff.json", 40, "tradeoff", tmp_path, monkeypatch)
    assert not at.exception
    (warning,) = at.warning
    assert "tradeoff.json" in warning.value and "half-written" in warning.value
    assert f"interp re-control evaluate --run {RE_CONTROL}" in warning.value


def test_no_run_is_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("tradeoff")
    assert not at.exception
    assert "interp re-control run" in at.info[0].value
