"""Beta chosen on validation prompts only (VASConfig.n_val_prompts), then tested alone on the test prompts."""
import pytest

from interp.io import read_json


def _cfg(**changes):
    from methods.vas.evaluate import EvalConfig
    from methods.vas.pipeline import VASConfig
    from methods.vas.train import TrainConfig
    from methods.vas.value_model import ValueConfig

    base = dict(
        model="stories260k", value=ValueConfig(backbone="stories260k", adapter="lora", head="linear"),
        train=TrainConfig(epochs=1, seed=0),
        eval=EvalConfig(betas=[1.0, 64.0], best_of=[], max_new_tokens=8, chat=False, coherence=True, n_boot=100),
        n_train_prompts=16, n_val_prompts=4, n_eval_prompts=4, max_new_tokens=8,
    )
    return VASConfig(**{**base, **changes})


def test_the_test_split_gets_only_the_beta_chosen_on_validation(tmp_path):
    from interp.metrics.selection import choose_within_limits
    from interp.pipeline import run
    from methods.vas.pipeline import CHOICE_FILE, PIPELINE, TABLE_FILE

    cfg = _cfg()
    run(PIPELINE, cfg, tmp_path, steps=["rollouts", "train", "evaluate"], progress=False)
    choice = read_json(tmp_path / "evaluate" / CHOICE_FILE)
    table = read_json(tmp_path / "evaluate" / TABLE_FILE)
    settings = read_json(tmp_path / "evaluate" / "config.json")
    # chosen among the candidates, on validation prompts that are not the test prompts
    assert choice["beta"] in cfg.eval.betas and choice["n_prompts"] == 4
    assert "[validation]" in settings["choose_beta"]["prompts"] and "[test]" in settings["prompts"]
    assert settings["choose_beta"]["prompts_sha"] != settings["prompts_sha"]
    # the validation rows hold base and every candidate; the rule applied to them gives the recorded choice
    val = choice["rows"]
    assert [r["method"] for r in val] == ["base", "vas", "vas"] and [r["beta"] for r in val[1:]] == cfg.eval.betas
    best, _, _ = choose_within_limits(val[0], [{**r, "reward_gain": r["delta"]} for r in val[1:]], "reward_gain",
                                      cfg.max_diversity_drop, cfg.max_coherence_drop, strength=lambda p: p["beta"])
    assert best["beta"] == choice["beta"]
    # the test table has base and the chosen beta only: no other candidate ever sees a test prompt
    assert [(r["method"], r["beta"]) for r in table["rows"]] == [("base", 0.0), ("vas", choice["beta"])]
    # the result file holds both tables under the labels the README's rows use
    from methods.vas.results import result_from_run

    record = result_from_run(tmp_path)
    assert [r["label"] for r in record["table"]] == ["test: base", f"test: VAS beta {choice['beta']:g}", "validation: base",
                                                     "validation: VAS beta 1", "validation: VAS beta 64"]
    assert record["notes"]["choice"]["beta"] == choice["beta"] and record["data"]["n_eval_prompts"] == 4


def test_choosing_on_the_test_split_is_refused():
    with pytest.raises(ValueError, match="chosen on the prompts it is tested on"):
        _cfg(val_split="test")


def test_choosing_without_coherence_is_refused(stories_base, stories_value):
    from interp.rewards import get_reward
    from methods.vas.evaluate import EvalConfig, choose_beta

    with pytest.raises(ValueError, match="coherence"):
        choose_beta(stories_base, ["Once upon a time"], get_reward("vader-sentiment"), stories_value,
                    EvalConfig(betas=[1.0], best_of=[], coherence=False))
