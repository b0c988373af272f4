"""The Runs page lists every run and step with its status and shows the numbers that are in the files."""
import json

import pytest

from app.explorer.rundata import discover, run_kind
from interp.io import read_json
from tests.app.explorer_util import open_page
from tests.app.fixture_runs import DIVERGENCE, RE_CONTROL, VAS


@pytest.mark.slow
def test_runs_page_lists_runs_steps_and_metrics(runs_env):
    at = open_page("runs")
    assert not at.exception
    runs = at.dataframe[0].value.set_index("run")
    assert runs.loc[DIVERGENCE, "pipeline"] == "reward-divergence"
    assert runs.loc[RE_CONTROL, "pipeline"] == "re-control" and runs.loc[VAS, "pipeline"] == "vas"
    assert runs.loc["reprpo/alpaca_easy-dpo-none-s0", "pipeline"] == "reprpo"
    assert runs.loc[DIVERGENCE, "steps"] == "collect, divergence, features, probe, rlhf, saes"  # no nested model folder
    assert (runs["status"] == "finished").all()

    table = at.dataframe[1].value
    row = table[(table.run == RE_CONTROL) & (table.step == "collect")]
    assert len(row) == 1 and row.iloc[0].status == "finished"
    at.selectbox(key="inspect").select(f"{RE_CONTROL} / collect").run()
    metrics = json.loads((runs_env / RE_CONTROL / "collect" / "metrics.json").read_text())
    shown = at.json[1].value  # the metrics panel of the selected step
    data = json.loads(shown) if isinstance(shown, str) else shown
    assert data["n_trajectories"] == metrics["n_trajectories"] and data["seconds"] == metrics["seconds"]


@pytest.mark.slow
def test_two_runs_side_by_side(runs_env):
    at = open_page("runs")
    at.selectbox(key="cmp_a").select("reprpo/alpaca_easy-dpo-none-s0")
    at.selectbox(key="cmp_b").select("reprpo/alpaca_easy-dpo-none-s1").run()
    cmp = at.dataframe[2].value.set_index("metric")
    for seed, col in ((0, "A"), (1, "B")):
        m = read_json(runs_env / f"reprpo/alpaca_easy-dpo-none-s{seed}" / "eval" / "metrics.json")
        assert cmp.loc["eval.source_train.adapter_accuracy_mean", col] == str(m["source_train.adapter_accuracy_mean"])
        assert cmp.loc["eval.seed", col] == str(seed)
    at.checkbox(key="only_diff").check().run()
    config = at.dataframe[3].value.set_index("setting")
    assert "train.seed" in config.index and "train.method" not in config.index  # only what differs


def test_runs_page_without_runs_says_which_command(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path / "nothing"))
    at = open_page("runs")
    assert not at.exception
    assert "interp demo" in at.info[0].value


def test_half_written_metrics_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    step = tmp_path / "r1" / "train"
    step.mkdir(parents=True)
    (step / "config.json").write_text("{}")
    (step / "metrics.json").write_text('{"loss": 0.')
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("runs")
    assert not at.exception
    assert any("metrics.json" in w.value and "--force" in w.value for w in at.warning)
    assert at.dataframe[0].value.iloc[0]["status"] == "broken"


def test_config_files_inside_a_step_are_artifacts_not_steps(tmp_path):
    step = tmp_path / "run" / "rlhf"
    (step / "model").mkdir(parents=True)
    (step / "trl" / "checkpoint-2").mkdir(parents=True)
    for d in (step, step / "model", step / "trl" / "checkpoint-2"):
        (d / "config.json").write_text('{"rank_by": "param"}' if d == step else '{"model_type": "llama"}')
    (tmp_path / "other" / "reprpo" / "train").mkdir(parents=True)
    (tmp_path / "other" / "reprpo" / "train" / "config.json").write_text("{}")
    found = discover(tmp_path)
    assert [(s.run, s.step) for s in found] == [("other/reprpo", "train"), ("run", "rlhf")]
    assert run_kind([s for s in found if s.run == "run"]) == "reward-divergence"
