"""Coherence: the cosine formula on hand-made vectors, then MiniLM offline."""
import pytest
import torch

from interp.metrics import coherence, coherence_scores

VOCAB = ["a", "b", "c"]


def bag_of_words(texts):
    """Counts of a, b, c: a transparent embedding to check the formula by hand."""
    return torch.tensor([[t.split().count(w) for w in VOCAB] for t in texts], dtype=torch.float32)


def test_hand_worked_cosines():
    prompts = ["a b", "a", "a", "a"]
    responses = ["a c", "a a", "b", ""]
    # (1,1,0).(1,0,1) / (sqrt2 * sqrt2) = 1/2;  (1,0,0) vs (2,0,0) -> 1;  (1,0,0) vs (0,1,0) -> 0
    # empty response -> zero vector -> defined as 0
    scores = coherence_scores(prompts, responses, embed=bag_of_words)
    assert scores.tolist() == pytest.approx([0.5, 1.0, 0.0, 0.0])
    assert coherence(prompts, responses, embed=bag_of_words) == pytest.approx(1.5 / 4)


def test_minilm_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    p = "How do I bake bread at home?"
    s = coherence_scores(
        [p, p, p, p],
        [p, "Mix flour, water, yeast and salt, let the dough rise, then bake it in a hot oven.",
         "The stock market closed lower on Tuesday.", ""],
    )
    identical, related, unrelated, empty = s.tolist()
    assert identical == pytest.approx(1.0, abs=1e-5)
    assert related > unrelated + 0.2
    assert -1.0 <= empty <= 1.0
    assert coherence([p, p], [p, "word"]) == pytest.approx((1.0 + coherence_scores([p], ["word"]).item()) / 2, abs=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="one prompt per response"):
        coherence_scores(["a"], ["a", "b"], embed=bag_of_words)
    with pytest.raises(ValueError, match="at least one"):
        coherence([], [], embed=bag_of_words)
