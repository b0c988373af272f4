"""Feature classification: a planted valence feature is found (and only it), with its contexts."""
import numpy as np
import pytest
import torch

from methods.reward_divergence.config import FeatureConfig
from methods.reward_divergence.features import (
    TokenTable, classify_features, correlations, permutation_pvalues, top_contexts,
)


class CharTokenizer:
    def decode(self, ids):
        return "".join(chr(97 + i % 26) for i in ids)

    def convert_ids_to_tokens(self, i):
        return self.decode([i])


def planted_sae(d: int, d_sae: int):
    """A real sae-lens StandardSAE whose feature 0 reads input dim 0 and feature 1 reads -dim 0; others random."""
    from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig

    sae = StandardSAE(StandardSAEConfig(d_in=d, d_sae=d_sae))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        w = torch.randn(d, d_sae, generator=g) * 0.3
        w[:, 0] = 0
        w[0, 0] = 1.0
        w[:, 1] = 0
        w[0, 1] = -1.0
        w[0, 2:] = 0  # the other features never see the valence dimension
        sae.W_enc.copy_(w)
        sae.b_enc.zero_()
        sae.b_dec.zero_()
        sae.W_dec.copy_(torch.randn(d_sae, d, generator=g))
    return sae.eval()


def synthetic_table(n_seq=60, length=12, d=8, seed=0):
    rng = np.random.default_rng(seed)
    n = n_seq * length
    valence = np.where(rng.random(n) < 0.15, rng.choice([-3.0, -2.0, 2.0, 3.0], n), 0.0)
    x = rng.standard_normal((n, d)) * 0.5
    x[:, 0] = valence + 0.3 * rng.standard_normal(n)
    seq = np.repeat(np.arange(n_seq), length)
    pos = np.tile(np.arange(length), n_seq)
    tok = rng.integers(0, 50, n)
    return TokenTable({"mlp_out.1": torch.tensor(x, dtype=torch.float32)}, seq, pos, tok, valence, [""] * n)


def test_planted_features_are_reward_related():
    table = synthetic_table()
    cfg = FeatureConfig(corr_threshold=0.2, p_value=0.01, n_permutations=300, top_contexts=3, context_before=4,
                        context_after=2)
    rows, summary = classify_features(planted_sae(8, 16), table, "mlp_out.1", cfg, CharTokenizer())
    related = [r["feature"] for r in rows if r["reward_related"]]
    assert related == [0, 1]
    assert rows[0]["corr"] > 0.5 and rows[1]["corr"] < -0.5
    assert rows[0]["p"] == pytest.approx(1 / 301)  # no shuffle comes close
    assert summary["n_reward_related"] == 2 and summary["n_positive"] == 1 and summary["n_negative"] == 1
    # top contexts: the focus token is the feature's maximum, inside one sequence, with its window
    top = rows[0]["top"][0]
    assert top["acts"][top["focus"]] == pytest.approx(rows[0]["max_act"], abs=1e-3)
    assert top["valence"] > 0
    assert len(top["tokens"]) == len(top["acts"]) <= 4 + 1 + 2
    assert top["focus"] == min(4, top["position"])


def test_no_feature_is_related_when_valence_is_shuffled():
    table = synthetic_table(seed=1)
    rng = np.random.default_rng(5)
    table.valence = rng.permutation(table.valence)  # valence unrelated to the activations now
    cfg = FeatureConfig(corr_threshold=0.1, p_value=0.01, n_permutations=200)
    rows, summary = classify_features(planted_sae(8, 16), table, "mlp_out.1", cfg, CharTokenizer())
    assert summary["n_reward_related"] == 0


def test_correlations_and_pvalues_match_references():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((300, 4))
    v = f[:, 0] * 0.3 + rng.standard_normal(300)
    f[:, 3] = 0.0  # constant feature: correlation 0, not NaN
    r = correlations(torch.tensor(f), torch.tensor(v)).numpy()
    for j in range(3):
        assert r[j] == pytest.approx(np.corrcoef(f[:, j], v)[0, 1], abs=1e-9)
    assert r[3] == 0.0
    # under the null (independent columns) permutation p-values are roughly uniform: not all tiny
    p = permutation_pvalues(torch.tensor(f[:, 1:3]), torch.tensor(v), torch.tensor(r[1:3]), 400, seed=0)
    assert (p > 0.01).all()
    strong = permutation_pvalues(torch.tensor(f[:, :1]), torch.tensor(v), torch.tensor(r[:1]), 400, seed=0)
    assert strong[0] == pytest.approx(1 / 401)


def test_contexts_stay_inside_their_sequence():
    table = synthetic_table(n_seq=3, length=5)
    acts = torch.zeros(table.n, 1)
    acts[5, 0] = 2.0  # first token of sequence 1: no tokens before it from sequence 0
    ctx = top_contexts(table, acts, 0, k=5, before=3, after=1, token_text={i: str(i) for i in range(50)})
    assert len(ctx) == 1 and ctx[0]["focus"] == 0 and len(ctx[0]["tokens"]) == 2
    assert top_contexts(table, torch.zeros(table.n, 1), 0, 5, 3, 1, {}) == []
