"""Implicit-reward approximation: ridge regression from SAE features to each token's lexicon valence.

Features of the chosen layers are concatenated per token (a sparse matrix: TopK codes are
mostly zero). Tokens are split 80/20 by *word* (every occurrence of a word lands on one side),
so the test measures whether the features carry valence for words the probe never saw:
R^2 over held-out tokens, and Kendall's tau between each held-out lexicon word's mean
prediction and its lexicon valence. The ridge penalty is chosen on a word-grouped
validation split of the training tokens.

The paper's probe (Marks et al. 2023; reference `Notebooks/train_linear_probe.ipynb`,
`map_lp_training_point_to_pair_of_lp_final_inputs`) is `triple_probe`: its input is the SAE codes of a
valenced word's token in context, its target the signed distance sign(valence) x ||codes(word) -
codes(neutral counterpart)||, the counterpart being the same context with a neutral word. The reference
builds its contrastive triples with an LLM; here each held-out sentence is cut after its first valenced
word (not its first word) and the neutral counterpart puts a word from NEUTRAL_WORDS (none in the lexicon)
in its place. Both probes are scored the same way: Kendall's tau of held-out words' mean prediction
against their lexicon valence.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
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


def _choose_alpha(x, y, train: np.ndarray, groups: Sequence[str], cfg: ProbeConfig) -> tuple[float, dict[str, float]]:
    """The ridge penalty with the best R^2 on a word-grouped validation split of the training rows (ties: larger)."""
    from sklearn.metrics import r2_score

    inner = split(train.tolist(), (0.8, 0.0, 0.2), seed=cfg.seed + 1, group=lambda i: groups[i])
    fit_i, val_i = np.array(inner.train), np.array(inner.test)
    scores = {}
    for a in cfg.alphas:
        m = _fit(x[fit_i], y[fit_i], a)
        scores[a] = float(r2_score(y[val_i], m.predict(x[val_i]))) if len(val_i) > 1 else float("nan")
    alpha = max(scores, key=lambda a: (np.nan_to_num(scores[a], nan=-np.inf), -a))
    return alpha, {str(k): v for k, v in scores.items()}


def _kendall(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    from scipy.stats import kendalltau

    if len(a) < 2:
        return float("nan"), float("nan")
    tau, p = kendalltau(a, b)
    return float(tau), float(p)


def fit_probe(x: sp.csr_matrix, table: TokenTable, cfg: ProbeConfig) -> dict[str, Any]:
    """Fit on 80% of words, test on 20%: R^2, Kendall tau on held-out lexicon words, recovered/missed words."""
    from sklearn.metrics import r2_score

    y = table.valence
    groups = _groups(table)
    idx = list(range(table.n))
    parts = split(idx, (1 - cfg.test_fraction, 0.0, cfg.test_fraction), seed=cfg.seed, group=lambda i: groups[i])
    train, test = np.array(parts.train), np.array(parts.test)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"the probe needs tokens on both sides of the split; got {len(train)} train, {len(test)} test")
    alpha, scores = _choose_alpha(x, y, train, groups, cfg)
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
    tau, tau_p = _kendall([r["lexicon"] for r in words], [r["predicted"] for r in words])
    return {
        "alpha": alpha, "alpha_scores": scores,
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


# --- the paper's probe: signed SAE-code distance to a neutral counterpart ---------------------------
NEUTRAL_WORDS = ("table", "window", "paper", "street", "morning", "chair", "river", "number", "door", "wall",
                 "corner", "box", "letter", "station", "kitchen", "pencil")


@dataclass(frozen=True)
class ContrastivePair:
    """A held-out sentence cut after its first valenced word, and the same prefix with a neutral word."""

    sentence: int
    word: str
    valence: float
    text: str
    neutral: str
    neutral_text: str


def contrastive_pairs(texts: Sequence[str], max_texts: int, seed: int = 0) -> list[ContrastivePair]:
    """One pair per text that has a valenced lexicon word after its first word (up to `max_texts` pairs)."""
    from interp.rewards import vader_lexicon
    from methods.reward_divergence.valence import _WORD, _normalise

    lex = vader_lexicon()
    neutral = [w for w in NEUTRAL_WORDS if w not in lex]
    if not neutral:
        raise ValueError("every neutral word is in the lexicon; NEUTRAL_WORDS needs words the lexicon lacks")
    rng = random.Random(seed)
    out: list[ContrastivePair] = []
    for i, text in enumerate(texts):
        for m in _WORD.finditer(_normalise(text)):
            v = float(lex.get(m.group(0), 0.0))
            if v == 0.0 or not text[:m.start()].strip():
                continue  # the first word would sit on the attention-sink position
            n = rng.choice(neutral)
            prefix = text[:m.start()]
            out.append(ContrastivePair(i, m.group(0), v, prefix + text[m.start():m.end()], n, prefix + n))
            break
        if len(out) >= max_texts:
            break
    return out


@torch.no_grad()
def last_token_codes(model: Any, saes: Sequence[Any], sites: Sequence[Any], texts: Sequence[str],
                     batch_size: int = 32) -> np.ndarray:
    """[texts, sum of d_sae]: the SAEs' codes of each text's last token (the word that ends it)."""
    from interp.activations import capture
    from methods.reward_divergence.features import feature_activations

    blocks = []
    for s in range(0, len(texts), batch_size):
        ids, mask = model.tokenize(list(texts[s:s + batch_size]))  # left padded: the last column is every row's last token
        acts = capture(model, ids, mask, list(sites))
        blocks.append(np.concatenate([feature_activations(sae, acts[site][:, -1].float().cpu()).numpy()
                                      for sae, site in zip(saes, sites)], axis=1))
    return np.concatenate(blocks) if blocks else np.zeros((0, sum(int(sae.W_dec.shape[0]) for sae in saes)))


def fit_triple_probe(x_word: np.ndarray, x_neutral: np.ndarray, pairs: Sequence[ContrastivePair],
                     cfg: ProbeConfig) -> dict[str, Any]:
    """Ridge from codes(word) to sign(valence) x ||codes(word) - codes(neutral)||, split 80/20 by word.

    Held out: R^2 on the pairs, and per word (mean prediction over its pairs) Kendall's tau against
    the lexicon valence (the ridge probe's measure) and against the mean signed distance."""
    from sklearn.metrics import r2_score

    if len(pairs) != len(x_word) or len(pairs) != len(x_neutral):
        raise ValueError(f"got {len(pairs)} pairs for {len(x_word)} word and {len(x_neutral)} neutral code rows")
    if len(pairs) < 10:
        raise ValueError(f"the paper's probe needs at least 10 contrastive pairs, got {len(pairs)}; use more texts")
    y = np.sign([p.valence for p in pairs]) * np.linalg.norm(x_word - x_neutral, axis=1)
    groups = [p.word for p in pairs]
    parts = split(list(range(len(pairs))), (1 - cfg.test_fraction, 0.0, cfg.test_fraction), seed=cfg.seed,
                  group=lambda i: groups[i])
    train, test = np.array(parts.train), np.array(parts.test)
    if len(train) < 2 or len(test) < 2:
        raise ValueError(f"the paper's probe needs pairs on both sides of the word split; got {len(train)} / {len(test)}")
    alpha, scores = _choose_alpha(x_word, y, train, groups, cfg)
    model = _fit(x_word[train], y[train], alpha)
    pred = model.predict(x_word)
    by_word: dict[str, list[int]] = defaultdict(list)
    for i in test.tolist():
        by_word[groups[i]].append(i)
    words = [{"word": w, "lexicon": pairs[rows[0]].valence, "target": float(y[rows].mean()),
              "predicted": float(pred[rows].mean()), "n_pairs": len(rows)} for w, rows in sorted(by_word.items())]
    tau, tau_p = _kendall([w["lexicon"] for w in words], [w["predicted"] for w in words])
    tau_t, tau_t_p = _kendall([w["target"] for w in words], [w["predicted"] for w in words])
    return {
        "alpha": alpha, "alpha_scores": scores, "n_pairs": len(pairs), "n_train_pairs": int(len(train)),
        "n_test_pairs": int(len(test)), "r2_train": float(r2_score(y[train], pred[train])),
        "r2_test": float(r2_score(y[test], pred[test])), "kendall_tau": tau, "kendall_p": tau_p,
        "kendall_tau_target": tau_t, "kendall_p_target": tau_t_p, "n_test_words": len(words),
        "mean_abs_target": float(np.abs(y).mean()), "words": words,
    }


def run_triple_probe(model: Any, saes: Sequence[Any], sites: Sequence[Any], texts: Sequence[str],
                     cfg: ProbeConfig) -> dict[str, Any]:
    pairs = contrastive_pairs(texts, cfg.triple_max_texts, cfg.seed)
    x_word = last_token_codes(model, saes, sites, [p.text for p in pairs])
    x_neutral = last_token_codes(model, saes, sites, [p.neutral_text for p in pairs])
    res = fit_triple_probe(x_word, x_neutral, pairs, cfg)
    res["pairs"] = [{"sentence": p.sentence, "word": p.word, "neutral": p.neutral} for p in pairs]
    return res
