"""Issue 18's reward-divergence pieces: Benjamini-Hochberg across features, one text split for every step,
and the paper's probe (signed SAE-code distance to a neutral counterpart)."""
import numpy as np
import pytest

from methods.reward_divergence.config import FeatureConfig, ProbeConfig
from methods.reward_divergence.fdr import bh_adjusted, bh_reject, resolvable


# --- Benjamini-Hochberg -----------------------------------------------------------------------
def test_bh_by_hand():
    p = [0.01, 0.04, 0.03, 0.005, 0.2]
    # sorted 0.005, 0.01, 0.03, 0.04, 0.2 -> p m / rank 0.025, 0.025, 0.05, 0.05, 0.2 (already monotone)
    assert bh_adjusted(p).tolist() == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.2])
    assert bh_reject(p, 0.05).tolist() == [True, True, True, True, False]
    assert bh_reject(p, 0.03).tolist() == [True, False, False, True, False]
    # step-up: a larger p can pull a smaller one in (0.02 * 3 / 2 > 0.03 = 0.03 * 3 / 3)
    assert bh_reject([0.001, 0.02, 0.03], 0.03).tolist() == [True, True, True]
    # the running minimum from the largest rank down: 0.01 * 4 / 1 = 0.04 takes 0.012 * 4 / 3 = 0.016
    assert bh_adjusted([0.01, 0.011, 0.012, 0.5]).tolist() == pytest.approx([0.016, 0.016, 0.016, 0.5])
    assert bh_reject([0.01, 0.011, 0.012, 0.5], 0.02).tolist() == [True, True, True, False]


def test_bh_matches_statsmodels_when_installed():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(0).random(200) ** 3
    reject, adjusted, _, _ = multitest.multipletests(p, alpha=0.05, method="fdr_bh")
    assert np.allclose(bh_adjusted(p), adjusted) and (bh_reject(p, 0.05) == reject).all()


def test_bh_keeps_false_discoveries_rare_under_the_null():
    rng = np.random.default_rng(1)
    any_discovery = np.mean([bh_reject(rng.random(500), 0.05).any() for _ in range(400)])
    uncorrected = np.mean([(rng.random(500) < 0.01).any() for _ in range(400)])
    assert any_discovery < 0.1 and uncorrected > 0.9  # BH: family-wise ~q under the full null; p < 0.01 alone: ~always


def test_bh_refuses_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bh_adjusted([0.1, 1.5])
    with pytest.raises(ValueError, match="false discovery rate"):
        bh_reject([0.1], 0.0)
    assert resolvable(100, 9_999, 0.05) and not resolvable(2304, 200, 0.05)


def test_features_report_fdr_counts_and_noise_gives_none():
    from tests.methods.reward_divergence.test_features import CharTokenizer, planted_sae, synthetic_table
    from methods.reward_divergence.features import classify_features

    cfg = FeatureConfig(corr_threshold=0.2, p_value=0.01, n_permutations=400, fdr=0.05)
    rows, summary = classify_features(planted_sae(8, 16), synthetic_table(), "mlp_out.1", cfg, CharTokenizer())
    assert [r["feature"] for r in rows if r["reward_related_fdr"]] == [0, 1]
    assert summary["n_reward_related_fdr"] == 2 and summary["fdr"] == 0.05 and summary["fdr_resolvable"]
    assert all(r["q"] >= r["p"] for r in rows)
    # noise: many features, valence unrelated, a loose uncorrected threshold finds some; BH finds none
    rng = np.random.default_rng(3)
    table = synthetic_table(n_seq=20, length=10, seed=2)
    table.valence = rng.permutation(table.valence)
    loose = FeatureConfig(corr_threshold=0.0, p_value=0.05, n_permutations=400, fdr=0.05)
    _, s = classify_features(planted_sae(8, 64), table, "mlp_out.1", loose, CharTokenizer())
    assert s["n_reward_related_fdr"] == 0 and s["n_reward_related"] >= s["n_reward_related_fdr"]
    with pytest.raises(ValueError, match="fdr"):
        classify_features(planted_sae(8, 16), table, "mlp_out.1", FeatureConfig(fdr=1.0), CharTokenizer())


# --- one split for RL prompts and analysis texts ----------------------------------------------
def test_held_out_analysis_texts_never_meet_rl_training_sentences_whatever_the_seeds(stories, monkeypatch):
    from methods.reward_divergence import texts as texts_mod
    from methods.reward_divergence.artifacts import analysis_texts
    from methods.reward_divergence.config import RLHFConfig
    from methods.reward_divergence.rlhf import prompt_splits

    seen = []
    real = texts_mod.sentence_split

    def spy():
        out = real()
        seen.append(out)
        return out

    monkeypatch.setattr(texts_mod, "sentence_split", spy)
    for rl_seed in (0, 3):
        prompt_splits(stories.tokenizer, RLHFConfig(seed=rl_seed, n_train_prompts=20, n_eval_prompts=5))
    rl_train = {s.text for s in seen[0][0]} | {s.text for s in seen[1][0]}
    for collect_seed in (0, 1, 7):
        train, held_out = analysis_texts(collect_seed)
        assert not set(held_out) & rl_train
        assert set(train) <= rl_train and len(held_out) > 0
    assert {s.text for s in seen[0][0]} == {s.text for s in seen[1][0]}  # the split does not move with the RL seed


# --- the paper's probe ------------------------------------------------------------------------
def test_contrastive_pairs_cut_after_a_valenced_word_and_swap_in_a_neutral_one():
    from interp.rewards import vader_lexicon
    from methods.reward_divergence.probe import contrastive_pairs

    texts = ["Great movie", "the plot was good and fun", "an ordinary afternoon", "it felt awful, truly"]
    pairs = contrastive_pairs(texts, max_texts=10, seed=0)
    assert [(p.sentence, p.word) for p in pairs] == [(1, "good"), (3, "awful")]  # "Great" is a first word: skipped
    lex = vader_lexicon()
    for p in pairs:
        assert p.text.lower().endswith(p.word) and p.neutral_text.endswith(p.neutral)
        assert p.text[: -len(p.word)] == p.neutral_text[: -len(p.neutral)] and p.neutral not in lex
        assert np.sign(p.valence) == np.sign(lex[p.word])
    assert len(contrastive_pairs(texts, max_texts=1)) == 1


def _pairs(n_words=30, per_word=4, seed=0):
    from methods.reward_divergence.probe import ContrastivePair

    rng = np.random.default_rng(seed)
    vals = rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], n_words)
    return [ContrastivePair(i, f"w{i % n_words}", float(vals[i % n_words]), "", "table", "")
            for i in range(n_words * per_word)]


def test_triple_probe_recovers_the_signed_distance_and_the_valence_of_held_out_words():
    from methods.reward_divergence.probe import fit_triple_probe

    pairs = _pairs()
    rng = np.random.default_rng(1)
    v = np.array([p.valence for p in pairs])
    neutral = np.abs(rng.normal(size=(len(pairs), 12)))
    word = neutral.copy()
    word[:, 0] += np.where(v > 0, v, 0)  # a positive-valence feature, growing with valence
    word[:, 1] += np.where(v < 0, -v, 0)  # a negative one
    word += 0.05 * np.abs(rng.normal(size=word.shape))
    res = fit_triple_probe(word, neutral, pairs, ProbeConfig(test_fraction=0.3))
    assert res["kendall_tau"] > 0.6 and res["kendall_p"] < 0.01 and res["r2_test"] > 0.8
    assert res["n_test_words"] >= 5 and res["kendall_tau_target"] > 0.6
    # codes that carry nothing about the word: the probe recovers nothing
    noise = np.abs(rng.normal(size=word.shape))
    flat = fit_triple_probe(noise, np.abs(rng.normal(size=word.shape)), pairs, ProbeConfig(test_fraction=0.3))
    assert flat["r2_test"] < 0.3
    with pytest.raises(ValueError, match="at least 10"):
        fit_triple_probe(word[:5], neutral[:5], pairs[:5], ProbeConfig())
