"""The pieces of the pre-registered evaluation: fresh test prompts, the choice of value function on
validation, the test limits, and the result file written from the run directory."""
import json
import shutil

import pytest

from interp.data import Prompt
from methods.re_control import REControlConfig
from methods.re_control.data import Example, TaskData, evaluation_split


def _task(n_test=10, n_val=8):
    ex = lambda part, i: Example(Prompt(text=f"{part} {i}", id=f"{part}/{i}"), "yes", "no")  # noqa: E731
    return TaskData("toy", "toy", train=[ex("train", i) for i in range(5)],
                    validation=[ex("val", i) for i in range(n_val)], test=[ex("test", i) for i in range(n_test)])


def test_fresh_test_prompts_skip_every_retired_prompt_and_never_meet_validation():
    task = _task()
    test, val = evaluation_split(task, n_eval=9, n_val=3, retired_test=4, retired_validation=5)
    ids = [e.prompt.id for e in test]
    assert ids == [f"test/{i}" for i in range(4, 10)] + ["val/5", "val/6", "val/7"]
    assert [e.prompt.id for e in val] == ["val/0", "val/1", "val/2"]
    # nothing retired: the first n_eval test prompts, as before
    old, _ = evaluation_split(task, n_eval=4, n_val=3)
    assert [e.prompt.id for e in old] == [f"test/{i}" for i in range(4)]
    # validation is never tested on, even when fewer were retired than are used for choosing
    test, val = evaluation_split(task, n_eval=10, n_val=6, retired_test=2, retired_validation=1)
    assert not {e.prompt.id for e in test} & {e.prompt.id for e in val}
    with pytest.raises(ValueError, match="fresh test prompts"):
        evaluation_split(task, n_eval=11, n_val=3, retired_test=4, retired_validation=5)


def test_compare_values_needs_auto_control():
    with pytest.raises(ValueError, match="auto_control"):
        REControlConfig(compare_values=("runs/x",))
    with pytest.raises(ValueError, match="retired"):
        REControlConfig(retired_test=-1)


def test_choice_runs_over_every_value_function():
    from methods.re_control.pipeline import choose_control

    def point(v, a, gain, div, coh):
        return {"value": v, "step_size": a, "n_steps": 30, "reward_gain": gain, "reward_gain_low": 0.0,
                "reward_gain_high": 0.0, "diversity": div, "coherence": coh}

    base = {"diversity": 1.0, "coherence": 1.0}
    points = [point("this run", 1.0, 0.05, 0.99, 0.99), point("raw", 1.0, 0.07, 0.97, 0.95),
              point("raw", 2.0, 0.20, 0.90, 0.95)]  # diversity -10%: outside a 5% margin
    sel = choose_control({"base": base, "points": points}, 0.05, 0.10)
    assert (sel["value"], sel["step_size"]) == ("raw", 1.0)
    assert sel["feasible"] == [(1.0, 30, "this run"), (1.0, 30, "raw")]


def test_test_limits_report_each_drop_against_its_limit():
    from methods.re_control.pipeline import test_limits

    out = test_limits({"diversity": 0.6, "coherence": 0.5}, {"diversity": 0.55, "coherence": 0.44}, 0.10, 0.15)
    assert out["diversity"]["drop"] == pytest.approx(0.0833, abs=1e-4) and out["diversity"]["within"]
    assert out["coherence"]["drop"] == pytest.approx(0.12) and out["coherence"]["within"] and out["within_all"]
    out = test_limits({"diversity": 0.6, "coherence": 0.5}, {"diversity": 0.50, "coherence": 0.44}, 0.10, 0.15)
    assert not out["diversity"]["within"] and not out["within_all"]
    assert test_limits({"diversity": 0.6, "coherence": 0.5}, {"diversity": 0.5, "coherence": 0.4}, None, None) == {}


def test_a_small_preregistered_run_end_to_end(stories, tmp_path):
    """Two value functions (standardised, raw) on shared trajectories, chosen on validation, tested on fresh
    prompts whose ids land in the metrics and in the result file written from the run directory."""
    from app.cli import main
    from interp.results import read_result
    from methods.re_control.pipeline import _Lazy, run_all

    std, raw = tmp_path / "std", tmp_path / "raw"
    kw = dict(model="stories260k", dataset="rt-polarity-prompts", reward="vader-sentiment", n_train=24,
              max_new_tokens=6, batch_size=32, device="cpu", epochs=3, standardize=True, baselines=False)
    first = REControlConfig(**kw, tradeoff=False)
    lazy = _Lazy(first, stories)
    run_all(first, std, model=stories, progress=False)  # collect, label, train-value (+ a plain evaluate)
    raw.mkdir()
    for step in ("collect", "label"):
        shutil.copytree(std / step, raw / step)
    from methods.re_control.pipeline import run_train_value

    run_train_value(REControlConfig(**{**kw, "standardize": False}, tradeoff=False), raw, progress=False)
    cfg = REControlConfig(**kw, auto_control=True, tradeoff_step_sizes=(0.5,), tradeoff_n_steps=(5,), n_val=6,
                          n_eval=12, retired_test=5, retired_validation=6, compare_values=(str(raw),),
                          max_diversity_drop=0.05, max_coherence_drop=0.10, test_diversity_limit=0.10,
                          test_coherence_limit=0.15, n_boot=200)
    from methods.re_control.pipeline import run_evaluate

    m = run_evaluate(cfg, std, force=True, lazy=lazy, progress=False)
    task_ids = [e.prompt.id for e in __import__("methods.re_control.data", fromlist=["load_task"]).load_task(
        "rt-polarity-prompts").test[:5]]
    assert len(m["data"]["test_ids"]) == 12 and not set(m["data"]["test_ids"]) & set(task_ids)
    assert not set(m["data"]["test_ids"]) & set(m["data"]["validation_ids"])
    assert m["control_selection"]["value"] in ("this run", str(raw))
    assert set(m["tradeoff_candidates"]) == {"this run", str(raw)} and set(m["test_limits"]) >= {"diversity", "coherence"}
    out = tmp_path / "results" / "std.json"
    assert main(["results", "write", str(std), "--out", str(out)]) == 0
    record = read_result(out)
    assert record["data"]["test_ids"] == m["data"]["test_ids"] and record["method"] == "re_control"
    labels = [r["label"] for r in record["table"]]
    assert labels[0] == "base (greedy)" and labels[1].startswith("RE-Control (")
    assert {"validation: standardised state, 0.5 x 5", "validation: raw state, 0.5 x 5"} <= set(labels)
    assert sum(r.get("chosen", False) for r in record["table"]) == 1
    assert "safetensors" not in json.dumps(record)


def test_transfer_check_applies_the_chosen_setting_to_new_prompts_untouched(stories, tmp_path):
    """The value function and setting of a run, read from its result file, on advanced-ai-risk questions."""
    import json

    from interp.results import read_result
    from methods.re_control import transfer
    from methods.re_control.pipeline import run_all

    run = tmp_path / "run"
    cfg = REControlConfig(model="stories260k", dataset="rt-polarity-prompts", reward="vader-sentiment", n_train=16,
                          max_new_tokens=5, batch_size=32, device="cpu", epochs=2, baselines=False, tradeoff=False)
    run_all(cfg, run, model=stories, progress=False)
    setting = tmp_path / "setting.json"
    setting.write_text(json.dumps({"notes": {"control_selection": {"step_size": 0.5, "n_steps": 3, "value": "this run"}}}))
    qs = transfer.advanced_ai_risk(6, seed=1)
    assert len({q["id"] for q in qs}) == 6 and all(q["text"] for q in qs)
    m = transfer.transfer_check(run, setting, transfer.ADVANCED_AI_RISK, 6, tmp_path / "tr", seed=1, n_boot=100)
    assert m["ids"] == [q["id"] for q in qs] and len(m["table"]) == 2 and "minus_base" in m["table"][1]
    from app.cli import main

    assert main(["results", "write", str(tmp_path / "tr"), "--pipeline", "re-control", "--out",
                 str(tmp_path / "tr.json")]) == 0
    rec = read_result(tmp_path / "tr.json")
    assert [r["label"] for r in rec["table"]] == ["transfer: base (greedy)", "transfer: RE-Control (0.5 x 3)"]
    assert rec["data"]["prompt_ids"] == m["ids"]
    with pytest.raises(ValueError, match="unknown transfer prompt set"):
        transfer.transfer_check(run, setting, "gsm8k", 6, tmp_path / "tr2")
