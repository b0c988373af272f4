"""Layer divergence page: the charts and table show divergence/divergence.json of a real stories260k run."""
import json

import pytest

from interp.io import read_json
from tests.app.explorer_util import copy_run, figures, messages, open_page, values
from tests.app.fixture_runs import DIVERGENCE

pytestmark = pytest.mark.slow


def test_charts_and_table_match_the_run(runs_env):
    div = read_json(runs_env / DIVERGENCE / "divergence" / "divergence.json")
    at = open_page("divergence")
    assert not at.exception
    assert at.selectbox(key="run").value == DIVERGENCE
    chosen = div["layers"]
    assert any(f"top {len(chosen)} by `{div['rank_by']}`" in m.value for m in at.markdown)
    param, acts = figures(at)
    bars = param["data"][0]
    assert values(bars, "y").tolist() == pytest.approx(div["param"])
    colors = bars["marker"]["color"]
    assert [i for i, c in enumerate(colors) if c == colors[chosen[0]]] == sorted(chosen)  # chosen layers stand out
    assert "%{y" in bars["hovertemplate"]  # hover shows the value
    by_name = {t["name"]: t for t in acts["data"]}
    assert values(by_name["mlp_out"], "y").tolist() == pytest.approx(div["mlp_out"]["rel_l2"])  # default metric
    assert values(by_name["resid_post"], "y").tolist() == pytest.approx(div["resid_post"]["rel_l2"])
    shaded = sorted(round((s["x0"] + s["x1"]) / 2) for s in acts["layout"]["shapes"])
    assert shaded == sorted(chosen)

    at.selectbox(key="metric").select("cos").run()
    acts = figures(at)[1]
    assert values(acts["data"][0], "y").tolist() == pytest.approx(div["mlp_out"]["cos"])

    table = at.dataframe[0].value
    assert table["param"].tolist() == pytest.approx(div["param"])
    assert table[table["chosen"]]["layer"].tolist() == sorted(chosen)
    assert table["resid_post.l2"].tolist() == pytest.approx(div["resid_post"]["l2"])

    rl = read_json(runs_env / DIVERGENCE / "rlhf" / "metrics.json")
    shown = {m.label: m.value for m in at.metric}
    assert shown["tuned − base"] == f"{rl['tuned_minus_base']['mean']:+.4f}"
    assert shown["base reward"] == f"{rl['base_reward']['mean']:.4f}"


def test_no_run_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("divergence")
    assert not at.exception
    assert "interp divergence run" in at.info[0].value


@pytest.mark.parametrize("content", ['{"param": [1.0, 2.', None], ids=["half-written", "missing"])
def test_broken_divergence_file_is_a_message(explorer_runs, tmp_path, monkeypatch, content):
    run = copy_run(explorer_runs, DIVERGENCE, tmp_path)
    target = run / "divergence" / "divergence.json"
    if content is None:
        target.unlink()
    else:
        target.write_text(content)
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("divergence")
    assert not at.exception
    (msg,) = [m for m in messages(at) if "divergence.json" in m]
    assert "interp divergence run --name rd-small" in msg and "--steps divergence" in msg
    assert ("half-written" in msg) == (content is not None)
    assert not figures(at)


def test_divergence_json_without_its_arrays_is_a_message(explorer_runs, tmp_path, monkeypatch):
    run = copy_run(explorer_runs, DIVERGENCE, tmp_path)
    (run / "divergence" / "divergence.json").write_text(json.dumps({"layers": [1]}))
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("divergence")
    assert not at.exception
    assert any("divergence.json" in m and "lacks" in m for m in messages(at))
