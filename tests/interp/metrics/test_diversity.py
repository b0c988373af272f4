"""RE-Control diversity on hand-worked examples and edge cases."""
import pytest

from interp.metrics import diversity, diversity_one, ngrams, rep_n


def test_rep_n_hand_worked():
    # "the cat sat on the mat": 5 bigrams, all distinct -> rep_2 = 100 * (1 - 5 / (5 + 1)) = 16.667
    assert rep_n("the cat sat on the mat", 2) == pytest.approx(100 / 6)
    # "a a a a a": 4 bigrams, 1 distinct -> 100 * (1 - 1/5) = 80
    assert rep_n("a a a a a", 2) == pytest.approx(80.0)


def test_diversity_hand_worked():
    # "the cat sat on the mat" (6 tokens): n=2: 5/6, n=3: 4/5, n=4: 3/4 -> 5/6 * 4/5 * 3/4 = 0.5
    assert diversity_one("the cat sat on the mat") == pytest.approx(0.5)
    # "a a a a a": n=2: 1/5, n=3: 1/4, n=4: 1/3 -> 1/60
    assert diversity_one("a a a a a") == pytest.approx(1 / 60)
    # mean over the two responses: (1/2 + 1/60) / 2 = 31/120
    assert diversity(["the cat sat on the mat", "a a a a a"]) == pytest.approx(31 / 120)
    # "a b c d": 3/4 * 2/3 * 1/2 = 1/4; whitespace of any kind separates tokens
    assert diversity_one("a  b\nc\td") == pytest.approx(0.25)


def test_diversity_edge_cases():
    # fewer than n tokens: 0 n-grams -> factor 0 / (0 + 1) = 0, so the product is 0
    assert diversity([""]) == 0.0
    assert diversity(["hello"]) == 0.0
    assert diversity(["a b c"]) == 0.0  # no 4-gram
    # identical texts average to the single text's value
    assert diversity(["a b c d"] * 3) == pytest.approx(0.25)
    assert ngrams(["a", "b"], 3) == []
    with pytest.raises(ValueError, match="at least one response"):
        diversity([])
    with pytest.raises(TypeError, match="list of responses"):
        diversity("a b c d")
