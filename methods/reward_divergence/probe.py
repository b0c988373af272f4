"""Implicit-reward approximation: ridge regression from SAE features to each token's lexicon valence.

Features of the chosen layers are concatenated per token (a sparse matrix: TopK codes are
mostly zero). Tokens are split 80/20 by *word* (every occurrence of a word lands on one side),
so the test measures whether the features carry valence for words the probe never saw:
R^2 over held-out tokens, and Kendall's tau between each held-out lexicon word's mean
prediction and its lexicon valence. The ridge penalty is chosen on a word-grouped
validation split of the training tokens.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from interp.data import split
from methods.reward_divergence.config import ProbeConfig
from methods.reward_divergence.features import TokenTable, feature_activations


def feature_matrix(saes: Sequence[Any], table: TokenTable, site_keys: Sequence[str]) -> sp.csr_matrix:
    """[tokens, sum of d_sae] sparse matrix of the SAEs' codes, one block per site."""
    blocks = []
    for sae, key in zip(saes, site_keys):
        f = feature_activations(sae, table.acts[key]).numpy()
        blocks.append(sp.csr_matrix(f))
    return sp.hstack(blocks, format="csr")


def _groups(table: TokenTable) -> list[str]:
    # tokens that end no word (punctuation, specials, word-initial pieces) group by token id
    return [w if w else f"<token {t}>" for w, t in zip(table.word, table.token_id.tolist())]


def _fit(x, y, alpha: float):
    from sklearn.linear_model import Ridge

    return Ridge(alpha=alpha, solver="auto").fit(x, y)


def fit_probe(x: sp.csr_matrix, table: TokenTable, cfg: ProbeConfig) -> dict[str, Any]:
    """Fit on 80% of words, test on 20%: R^2, Kendall tau on held-out lexicon words, recovered/missed words."""
    from scipy.stats import kendalltau
    from sklearn.metrics import r2_score

    y = table.valence
    groups = _groups(table)
    idx = list(range(table.n))
    parts = split(idx, (1 - cfg.test_fraction, 0.0, cfg.test_fraction), seed=cfg.seed, group=lambda i: groups[i])
    train, test = np.array(parts.train), np.array(parts.test)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"the probe needs tokens on both sides of the split; got {len(train)} train, {len(test)} test")
    # choose alpha on a word-grouped validation split of the training tokens
    inner = split(train.tolist(), (0.8, 0.0, 0.2), seed=cfg.seed + 1, group=lambda i: groups[i])
    fit_i, val_i = np.array(inner.train), np.array(inner.test)
    scores = {}
    for a in cfg.alphas:
        m = _fit(x[fit_i], y[fit_i], a)
        scores[a] = float(r2_score(y[val_i], m.predict(x[val_i]))) if len(val_i) > 1 else float("nan")
    alpha = max(scores, key=lambda a: (np.nan_to_num(scores[a], nan=-np.inf), -a))
    model = _fit(x[train], y[train], alpha)
    pred = model.predict(x)
    # per held-out word: mean prediction over its occurrences
    by_word: dict[str, list[int]] = defaultdict(list)
    for i in test.tolist():
        if table.word[i]:
            by_word[table.word[i]].append(i)
    words = []
    for w, rows in sorted(by_word.items()):
        lex = float(y[rows[0]])
        if lex == 0.0:
            continue
        p = float(pred[rows].mean())
        recovered = bool(np.sign(p) == np.sign(lex) and abs(p) >= cfg.min_abs)
        words.append({"word": w, "lexicon": lex, "predicted": p, "n_tokens": len(rows), "recovered": recovered})
    if len(words) >= 2:
        tau, tau_p = kendalltau([r["lexicon"] for r in words], [r["predicted"] for r in words])
    else:
        tau, tau_p = float("nan"), float("nan")
    return {
        "alpha": alpha, "alpha_scores": {str(k): v for k, v in scores.items()},
        "n_features": int(x.shape[1]), "n_train_tokens": int(len(train)), "n_test_tokens": int(len(test)),
        "r2_train": float(r2_score(y[train], pred[train])), "r2_test": float(r2_score(y[test], pred[test])),
        "kendall_tau": float(tau), "kendall_p": float(tau_p), "n_test_words": len(words),
        "n_recovered": sum(r["recovered"] for r in words), "words": words,
        "recovered": [r["word"] for r in words if r["recovered"]],
        "missed": [r["word"] for r in words if not r["recovered"]],
    }


def run_probe(saes: Sequence[Any], table: TokenTable, site_keys: Sequence[str], cfg: ProbeConfig) -> dict[str, Any]:
    if float(np.abs(table.valence).sum()) == 0:
        raise ValueError("no token in the probe's texts has a lexicon valence; use more or other texts")
    with torch.no_grad():
        x = feature_matrix(saes, table, site_keys)
    return fit_probe(x, table, cfg)
