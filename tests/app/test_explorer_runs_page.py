"""The Runs page lists every step with its status and shows the numbers that are in the files."""
import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "app" / "explorer" / "pages" / "runs.py")


def test_runs_page_lists_steps_and_metrics(runs_env):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[(table.run == "demo") & (table.step == "backbone")]
    assert len(row) == 1 and row.iloc[0].status == "finished"
    metrics = json.loads((runs_env / "demo" / "backbone" / "metrics.json").read_text())
    shown = at.json[1].value  # the metrics panel of the selected step
    data = json.loads(shown) if isinstance(shown, str) else shown
    assert data["base_sentiment"] == metrics["base_sentiment"]


def test_runs_page_without_runs_says_which_command(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path / "nothing"))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "interp demo" in at.info[0].value


def test_half_written_metrics_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    step = tmp_path / "r1" / "train"
    step.mkdir(parents=True)
    (step / "config.json").write_text("{}")
    (step / "metrics.json").write_text('{"loss": 0.')
    monkeypatch.setenv("INTERP_RUNS", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("metrics.json" in w.value and "--force" in w.value for w in at.warning)
