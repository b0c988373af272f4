"""Preference page: the ReprPO ratio table, its mean over seeds and the grouped bars come from eval/splits.json."""
import statistics

import pytest

from interp.io import read_json
from tests.app.explorer_util import copy_run, figures, messages, open_page, values
from tests.app.fixture_runs import REPRPO_RUNS

pytestmark = pytest.mark.slow
SPLITS = ["source_train", "source_test", "target_test", "random_test"]


def _run(method, transform, seed):
    return f"reprpo/alpaca_easy-{method}-{transform}-s{seed}"


def test_table_and_bars_match_the_runs(runs_env):
    at = open_page("preference")
    assert not at.exception
    assert at.selectbox(key="shift").value == "alpaca_easy → alpaca_low_quality"
    wide = at.dataframe[0].value
    assert len(wide) == len(REPRPO_RUNS)
    for method, transform, seed in REPRPO_RUNS:
        splits = read_json(runs_env / _run(method, transform, seed) / "eval" / "splits.json")
        row = wide[(wide["method"] == method) & (wide["transform"] == transform) & (wide["seed"] == seed)]
        assert [row.iloc[0][s] for s in SPLITS] == pytest.approx([splits[s]["ratio_mean"] for s in SPLITS])

    agg = at.dataframe[1].value
    dpo = agg[(agg["method"] == "dpo") & (agg["transform"] == "none")].set_index("split")
    for s in SPLITS:
        ratios = [read_json(runs_env / _run("dpo", "none", seed) / "eval" / "splits.json")[s]["ratio_mean"] for seed in (0, 1)]
        assert dpo.loc[s, "ratio_mean"] == pytest.approx(statistics.mean(ratios))
        assert dpo.loc[s, "ratio_std"] == pytest.approx(statistics.stdev(ratios))
        assert dpo.loc[s, "n_seeds"] == 2

    (fig,) = figures(at)
    assert fig["layout"]["barmode"] == "group"
    bars = {t["name"]: t for t in fig["data"]}
    assert set(bars) == {"dpo / none", "prefvec / ortho"}
    assert list(bars["dpo / none"]["x"]) == SPLITS
    assert values(bars["dpo / none"], "y").tolist() == pytest.approx([dpo.loc[s, "ratio_mean"] for s in SPLITS])
    prefvec = read_json(runs_env / _run("prefvec", "ortho", 0) / "eval" / "splits.json")
    assert values(bars["prefvec / ortho"], "y").tolist() == pytest.approx([prefvec[s]["ratio_mean"] for s in SPLITS])


@pytest.mark.parametrize("broken", ["half-written", "missing"])
def test_broken_splits_file_is_a_message_and_other_runs_still_show(explorer_runs, tmp_path, monkeypatch, broken):
    for method, transform, seed in REPRPO_RUNS:
        copy_run(explorer_runs, _run(method, transform, seed), tmp_path)
    target = tmp_path / _run("dpo", "none", 1) / "eval" / "splits.json"
    if broken == "missing":
        target.unlink()
    else:
        target.write_text(target.read_text()[:200])
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("preference")
    assert not at.exception
    (msg,) = [m for m in messages(at) if "splits.json" in m]
    assert str(target) in msg and f"interp reprpo train --run {_run('dpo', 'none', 1)}" in msg and "--force" in msg
    assert len(at.dataframe[0].value) == len(REPRPO_RUNS) - 1


def test_no_run_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("preference")
    assert not at.exception and "interp reprpo train" in at.info[0].value
