"""Evaluation rows: reward interval, diversity, coherence, win rate; outputs survive a restart."""
import pytest
import torch

from methods.re_control.evaluate import CachedEmbed, Outputs, control_vs_base, summarize


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
    c = Outputs.from_dict(a.as_dict())
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
