"""Evaluation rows: reward interval, diversity, coherence, win rate; outputs survive a restart."""
import pytest
import torch

from methods.re_control.evaluate import CachedEmbed, Outputs, best_of_samples, control_vs_base, summarize


def length_reward(prompts, responses):
    return torch.tensor([float(len(r.split())) for r in responses])


def bag_embed(texts):
    """A toy embedding: counts of a few words (enough to make cosines predictable)."""
    vocab = ["cat", "dog", "sun", "rain"]
    return torch.tensor([[float(t.split().count(w)) for w in vocab] for t in texts])


def test_summarize_reports_every_column_and_win_rate_against_references():
    prompts = ["cat", "dog", "sun"]
    out = Outputs("m", ["cat cat", "dog", "rain rain rain"], length_reward(prompts, ["cat cat", "dog", "rain rain rain"]), 3.0)
    row = summarize(out, prompts, length_reward, references=["x", "y z", "a b c"], n_boot=200, embed=bag_embed)
    assert row["reward"] == pytest.approx(2.0) and row["reward_low"] <= 2.0 <= row["reward_high"]
    # cosines: 1 (cat/cat cat), 1 (dog/dog), 0 (sun/rain)
    assert row["coherence"] == pytest.approx(2 / 3)
    # lengths 2 vs 1 (win), 1 vs 2 (loss), 3 vs 3 (tie)
    assert row["win_rate"] == pytest.approx(0.5)
    assert row["seconds_per_prompt"] == pytest.approx(1.0)
    assert "win_rate" not in summarize(out, prompts, length_reward, None, n_boot=50, embed=bag_embed)


def test_paired_difference_and_outputs_round_trip():
    a = Outputs("a", ["x"] * 4, torch.tensor([1.0, 2.0, 3.0, 4.0]), 1.0, {"n": 4})
    b = Outputs("b", ["y"] * 4, torch.tensor([0.0, 1.0, 2.0, 3.0]), 1.0)
    d = control_vs_base(a, b, n_boot=100)
    assert d["difference"] == pytest.approx(1.0) and d["low"] == pytest.approx(1.0) and d["high"] == pytest.approx(1.0)
    c = Outputs.from_dict(a.to_dict())
    assert c.texts == a.texts and torch.equal(c.rewards, a.rewards) and c.info == {"n": 4}


def test_cached_embed_embeds_each_text_once():
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return bag_embed(texts)

    cache = CachedEmbed(embed)
    first = cache(["cat", "dog", "cat"])
    second = cache(["dog", "sun"])
    assert calls == [["cat", "dog"], ["sun"]]
    assert torch.equal(first[0], first[2]) and torch.equal(second[0], first[1])


def test_choose_control_takes_the_largest_gain_that_keeps_diversity_and_coherence_near_base():
    from methods.re_control.pipeline import choose_control

    def point(a, k, gain, div, coh):
        return {"step_size": a, "n_steps": k, "reward_gain": gain, "reward_gain_low": gain - 0.01,
                "reward_gain_high": gain + 0.01, "diversity": div, "coherence": coh}

    curve = {"base": {"diversity": 0.6, "coherence": 0.5}, "points": [
        point(0.5, 30, 0.02, 0.60, 0.49),
        point(1.0, 10, 0.03, 0.58, 0.44),  # coherence -12%: allowed
        point(1.0, 30, 0.08, 0.59, 0.40),  # coherence -20%: too far
        point(2.0, 30, 0.09, 0.50, 0.48),  # diversity -17%: too far
    ]}
    sel = choose_control(curve)
    assert (sel["step_size"], sel["n_steps"]) == (1.0, 10)
    assert sel["feasible"] == [(0.5, 30), (1.0, 10)]
    assert sel["validation"]["reward_gain"] == 0.03
    # looser limits admit the stronger setting; with none admissible, the one that moves them least
    assert (choose_control(curve, 0.1, 0.25)["step_size"], choose_control(curve, 0.1, 0.25)["n_steps"]) == (1.0, 30)
    tight = choose_control(curve, 0.0, 0.0)
    assert (tight["step_size"], tight["n_steps"]) == (0.5, 30) and tight["feasible"] == []
    with pytest.raises(ValueError, match="at least one"):
        choose_control({"base": curve["base"], "points": []})


def test_settings_added_later_stay_out_of_step_configs_at_their_defaults(tmp_path):
    from methods.re_control import REControlConfig
    from methods.re_control.config import step_config

    cfg = REControlConfig()
    assert "value_select" not in step_config(cfg, "collect", tmp_path)
    (tmp_path / "label").mkdir()
    (tmp_path / "label" / "metrics.json").write_text("{}")
    (tmp_path / "label" / "config.json").write_text("{}")
    assert "value_select" not in step_config(cfg, "train-value", tmp_path)
    assert step_config(REControlConfig(value_select="spearman"), "train-value", tmp_path)["value_select"] == "spearman"


def test_length_sorted_batches_answer_each_prompt_in_its_own_place(stories):
    """The evaluator batches prompts by length; every answer (plain and controlled) must land on its prompt."""
    from methods.re_control import ControlConfig, ValueConfig, ValueFunction
    from methods.re_control.evaluate import Evaluator

    prompts = ["Once", "The dog was very happy because the sun", "Lily saw", "A big red ball rolled down the hill and",
               "Tom", "She went to the park with her mom and"]

    def ev(sort):
        return Evaluator(model=stories, prompts=prompts, raw_prompts=prompts, reward=length_reward, max_new_tokens=6,
                         batch_size=2, sort_by_length=sort)

    plain, ordered = ev(False).base(), ev(True).base()
    assert ordered.texts == plain.texts
    one_by_one = [Evaluator(model=stories, prompts=[p], raw_prompts=[p], reward=length_reward, max_new_tokens=6,
                            batch_size=1).base().texts[0] for p in prompts]
    assert ordered.texts == one_by_one
    torch.manual_seed(0)
    value = ValueFunction(ValueConfig(d_model=stories.d_model, model=stories.spec, tokenizer_size=len(stories.tokenizer)))
    cfg = ControlConfig(0.5, 3)
    assert ev(True).re_control(value, cfg).texts == ev(False).re_control(value, cfg).texts


def test_best_of_n_keeps_the_best_of_the_first_n_shared_samples():
    # three sampled passes over two prompts; rewards per prompt: p0 = (1, 5, 9), p1 = (7, 2, 8)
    samples = [Outputs("sample", ["a0", "a1"], torch.tensor([1.0, 7.0]), 2.0),
               Outputs("sample", ["b0", "b1"], torch.tensor([5.0, 2.0]), 3.0),
               Outputs("sample", ["c0", "c1"], torch.tensor([9.0, 8.0]), 4.0)]
    bo1, bo2, bo3 = best_of_samples(samples, [3, 1, 2])
    assert (bo1.method, bo1.texts, bo1.rewards.tolist(), bo1.seconds) == ("best-of-1", ["a0", "a1"], [1.0, 7.0], 2.0)
    # best of the first two: p0 max(1, 5) = 5 from pass b; p1 max(7, 2) = 7 from pass a; cost 2 + 3 s
    assert (bo2.texts, bo2.rewards.tolist(), bo2.seconds) == (["b0", "a1"], [5.0, 7.0], 5.0)
    assert (bo3.texts, bo3.rewards.tolist(), bo3.seconds, bo3.info) == (["c0", "c1"], [9.0, 8.0], 9.0, {"n": 3})
    with pytest.raises(ValueError, match="1 <= N <= 3"):
        best_of_samples(samples, [4])
