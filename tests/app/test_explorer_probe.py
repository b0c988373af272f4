"""Reward probe page: the numbers, the scatter and the word lists are those of probe/results.json and words.jsonl."""
import pytest

from interp.io import read_json, read_jsonl
from tests.app.explorer_util import copy_run, figures, messages, open_page, open_with_half_written, values
from tests.app.fixture_runs import DIVERGENCE

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["tuned", "base"])
def test_probe_page_matches_the_files(runs_env, model):
    results = read_json(runs_env / DIVERGENCE / "probe" / "results.json")[model]
    words = [w for w in read_jsonl(runs_env / DIVERGENCE / "probe" / "words.jsonl") if w["model"] == model]
    at = open_page("reward_probe")
    assert not at.exception
    assert at.radio(key="model").options == ["tuned", "base"]
    if model != "tuned":
        at.radio(key="model").set_value(model).run()
    shown = {m.label: m.value for m in at.metric}
    assert shown["R² on held-out tokens"] == f"{results['r2_test']:.4f}"
    assert shown["Kendall τ (held-out words)"] == f"{results['kendall_tau']:.4f}"
    assert shown["words recovered"] == f"{results['n_recovered']} / {results['n_test_words']}"

    (fig,) = figures(at)
    traces = {t["name"]: t for t in fig["data"]}
    rec = [w for w in words if w["recovered"]]
    missed = [w for w in words if not w["recovered"]]
    assert values(traces["recovered"], "x").tolist() == pytest.approx([w["lexicon"] for w in rec])
    assert values(traces["recovered"], "y").tolist() == pytest.approx([w["predicted"] for w in rec])
    assert values(traces["missed"], "y").tolist() == pytest.approx([w["predicted"] for w in missed])
    assert "%{customdata[0]}" in traces["recovered"]["hovertemplate"]  # the word on hover

    recovered_table, missed_table = at.dataframe[0].value, at.dataframe[1].value
    assert sorted(recovered_table["word"]) == sorted(results["recovered"])
    assert sorted(missed_table["word"]) == sorted(results["missed"])


def test_half_written_words_file_is_a_message(explorer_runs, tmp_path, monkeypatch):
    at = open_with_half_written(explorer_runs, DIVERGENCE, "probe/words.jsonl", 150, "reward_probe", tmp_path, monkeypatch)
    assert not at.exception
    (msg,) = [m for m in messages(at) if "words.jsonl" in m]
    assert "half-written" in msg and "interp divergence run --name rd-small" in msg and "--steps probe --force" in msg


def test_missing_results_is_a_message(explorer_runs, tmp_path, monkeypatch):
    run = copy_run(explorer_runs, DIVERGENCE, tmp_path)
    (run / "probe" / "results.json").unlink()
    (run / "probe" / "metrics.json").unlink()  # an unfinished step: resumed without --force
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("reward_probe")
    assert not at.exception
    (msg,) = [m for m in messages(at) if "results.json" in m]
    assert "does not exist" in msg and "--steps probe" in msg and "--force" not in msg


def test_no_run_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = open_page("reward_probe")
    assert not at.exception and "interp divergence run" in at.info[0].value
