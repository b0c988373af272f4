import pytest
import torch

from interp.best_of import best_of_first_n


def test_best_of_first_n_keeps_the_best_among_the_first_n_passes():
    texts = [["a0", "b0"], ["a1", "b1"], ["a2", "b2"]]
    rewards = [torch.tensor([0.0, 5.0]), torch.tensor([1.0, 4.0]), torch.tensor([3.0, 9.0])]
    (n1, t1, r1), (n2, t2, r2), (n3, t3, r3) = best_of_first_n(texts, rewards, [3, 1, 2])
    assert (n1, t1, r1.tolist()) == (1, ["a0", "b0"], [0.0, 5.0])
    assert (n2, t2, r2.tolist()) == (2, ["a1", "b0"], [1.0, 5.0])
    assert (n3, t3, r3.tolist()) == (3, ["a2", "b2"], [3.0, 9.0])
    assert best_of_first_n(texts, rewards, []) == []
    with pytest.raises(ValueError, match="1 <= N <= 3"):
        best_of_first_n(texts, rewards, [4])
