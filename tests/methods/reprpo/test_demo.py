"""The demo's ReprPO settings evaluate only the splits its table reports (the full pipeline evaluates all four)."""
import pytest

from interp.io import read_json, write_json
from methods.reprpo.config import EVAL_SPLITS
from methods.reprpo.demo import demo_config, summarize


def _metrics(splits) -> dict:
    m = {"method": "prefvec", "source": "alpaca_easy", "target": "alpaca_hard"}
    for s in splits:
        m.update({f"{s}.ratio_mean": 1.0, f"{s}.base_accuracy_mean": 0.5, f"{s}.adapter_accuracy_mean": 0.5,
                  f"{s}.p_sign_test_mean": 1.0, f"{s}.n_scored": 6})
    return m


@pytest.mark.parametrize("model", ["stories260k", "smollm2-135m-instruct"])
def test_demo_evaluates_exactly_the_splits_summarize_reports(tmp_path, model):
    write_json(tmp_path / "eval" / "metrics.json", _metrics(EVAL_SPLITS))
    reported = {row["source"].split(":")[1].split(".")[0] for row in summarize(tmp_path)}
    assert set(demo_config(model).eval_splits) == reported == {"source_test", "target_test"}


@pytest.mark.slow
def test_tiny_demo_run_writes_the_reported_splits(tmp_path):
    from interp.pipeline import run
    from methods.reprpo.pipeline import PIPELINE

    cfg = demo_config("stories260k")
    run(PIPELINE, cfg, tmp_path, progress=False)
    assert set(read_json(tmp_path / "eval" / "splits.json")) == set(cfg.eval_splits)
    assert read_json(tmp_path / "eval" / "config.json")["splits"] == list(cfg.eval_splits)
    assert [r["source"] for r in summarize(tmp_path)] == ["eval/metrics.json:source_test.ratio_mean",
                                                           "eval/metrics.json:target_test.ratio_mean"]
