"""The ridge probe generalises valence to held-out words when features carry it, and not otherwise."""
import numpy as np
import pytest
import scipy.sparse as sp

from methods.reward_divergence.config import ProbeConfig
from methods.reward_divergence.features import TokenTable
from methods.reward_divergence.probe import fit_probe


def word_table(seed=0, n_words=120, reps=6):
    """Tokens of many words, each with a lexicon-like valence; neutral filler tokens in between."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n_words)]
    val = {w: float(rng.choice([-3, -2, -1, 1, 2, 3])) if i % 2 == 0 else 0.0 for i, w in enumerate(words)}
    seq_words = [w for w in words for _ in range(reps)]
    rng.shuffle(seq_words)
    n = len(seq_words)
    valence = np.array([val[w] for w in seq_words])
    table = TokenTable({}, np.arange(n) // 10, np.arange(n) % 10, rng.integers(0, 100, n), valence, seq_words)
    return table, valence


def test_probe_recovers_valence_from_informative_features():
    table, valence = word_table()
    rng = np.random.default_rng(1)
    n = table.n
    # a "positive" and a "negative" feature carry valence (noisily); 30 noise features do not
    pos = np.clip(valence, 0, None) + 0.2 * rng.random(n)
    neg = np.clip(-valence, 0, None) + 0.2 * rng.random(n)
    noise = np.abs(rng.standard_normal((n, 30))) * (rng.random((n, 30)) < 0.2)
    x = sp.csr_matrix(np.column_stack([pos, neg, noise]))
    res = fit_probe(x, table, ProbeConfig(alphas=(0.1, 1.0), test_fraction=0.2, min_abs=0.1))
    assert res["r2_test"] > 0.8
    assert res["kendall_tau"] > 0.6 and res["kendall_p"] < 0.01
    assert res["n_recovered"] >= 0.9 * res["n_test_words"] > 0
    # held-out words were never trained on
    test_words = {r["word"] for r in res["words"]}
    assert set(res["recovered"]) | set(res["missed"]) == test_words
    assert res["n_train_tokens"] + res["n_test_tokens"] == n


def test_probe_finds_nothing_in_noise():
    table, _ = word_table(seed=2)
    rng = np.random.default_rng(3)
    x = sp.csr_matrix(np.abs(rng.standard_normal((table.n, 32))) * (rng.random((table.n, 32)) < 0.2))
    res = fit_probe(x, table, ProbeConfig(alphas=(1.0, 100.0)))
    assert res["r2_test"] < 0.05
    assert abs(res["kendall_tau"]) < 0.35


def test_split_keeps_each_word_on_one_side():
    table, valence = word_table(seed=4)
    x = sp.csr_matrix(np.column_stack([valence, np.ones_like(valence)]))
    res = fit_probe(x, table, ProbeConfig(alphas=(1.0,)))
    reps = {r["word"]: r["n_tokens"] for r in res["words"]}
    assert all(n == 6 for n in reps.values())  # every occurrence of a held-out word is in the test part
    with pytest.raises(ValueError, match="both sides"):
        fit_probe(x[:6], TokenTable({}, table.seq_id[:6], table.position[:6], table.token_id[:6], valence[:6],
                                    ["same"] * 6), ProbeConfig())
