"""Win rate under a reward and under a pairwise judge; ties count half."""
import pytest

from interp.metrics import win_rate, win_rate_from_outcomes
from interp.rewards import get_reward


def test_win_rate_under_a_reward():
    r = get_reward("vader-utility")
    prompts = ["p1", "p2", "p3"]
    a = ["good", "bad", "ok dog"]
    b = ["bad", "good", "ok dog"]
    # vader-utility: good 1.9/5 = 0.38, bad -2.5/5 = -0.5, "ok dog" 1.2/5 = 0.24 both sides
    # outcomes: 0.38 > -0.5 -> 1; -0.5 < 0.38 -> 0; tie -> 0.5; rate = 1.5 / 3 = 0.5
    w = win_rate(prompts, a, b, reward=r)
    assert (w.wins, w.ties, w.losses, w.n) == (1, 1, 1, 3)
    assert w.rate == pytest.approx(0.5)
    assert w.low <= 0.5 <= w.high


def test_win_rate_under_a_pairwise_judge_and_identical_texts():
    def longer_wins(prompts, a, b):
        return [1.0 if len(x) > len(y) else 0.0 if len(x) < len(y) else 0.5 for x, y in zip(a, b)]

    w = win_rate(["p"] * 4, ["aaa", "aaa", "aaa", "a"], ["a", "a", "a", "aaa"], judge=longer_wins)
    assert w.rate == pytest.approx(0.75)  # 3 wins, 1 loss
    same = win_rate(["p"] * 3, ["x", "y", "z"], ["x", "y", "z"], reward=get_reward("vader-utility"))
    assert (same.rate, same.low, same.high, same.ties) == (0.5, 0.5, 0.5, 3)


def test_all_wins_interval_and_errors():
    w = win_rate_from_outcomes([1, 1, 1, 1])
    assert (w.rate, w.low, w.high) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="0, 0.5 or 1"):
        win_rate_from_outcomes([1, 0.7])
    with pytest.raises(ValueError, match="exactly one judge"):
        win_rate(["p"], ["a"], ["b"])
    with pytest.raises(ValueError, match="lengths must match"):
        win_rate(["p"], ["a", "b"], ["b"], reward=get_reward("vader-utility"))
    with pytest.raises(ValueError, match="2 outcomes for 1 prompts"):
        win_rate(["p"], ["a"], ["b"], judge=lambda p, a, b: [1, 1])
