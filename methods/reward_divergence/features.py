"""Classify SAE features as reward-related without a paid API.

For every feature: its Pearson correlation with the lexicon valence of the current token over
held-out real tokens, a permutation test of that correlation (valences shuffled across
tokens), and its top-activating contexts (tokens + activations). A feature is reward-related
when |corr| >= threshold and the permutation p-value < p_value (uncorrected, the earlier count), and
reward-related at a false discovery rate `fdr` when Benjamini-Hochberg over all the dictionary's
features rejects it (`fdr.py`). The permutation test is only run for features over the threshold: the
others cannot qualify whatever their p-value, and enter BH with p = 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from methods.reward_divergence.config import FeatureConfig
from methods.reward_divergence.fdr import bh_adjusted, resolvable
from methods.reward_divergence.valence import TokenLabels


@dataclass
class TokenTable:
    """Held-out token rows sorted by (sequence, position), with their activations and labels."""

    acts: dict[str, Float[Tensor, "n d"]]
    seq_id: np.ndarray
    position: np.ndarray
    token_id: np.ndarray
    valence: np.ndarray
    word: list[str]

    @property
    def n(self) -> int:
        return len(self.seq_id)


def token_table(store, site_keys: Sequence[str], labels: Sequence[TokenLabels], max_tokens: int) -> TokenTable:
    """Read rows of whole sequences (up to `max_tokens` rows) and attach each token's valence and word.

    Refuses a store whose token ids disagree with the labels' tokenization (other texts or tokenizer).
    """
    data = store.read_all(columns=["seq_id", "position", "token_id"], sites=list(site_keys))
    seq, pos, tok = (data[c].numpy() for c in ("seq_id", "position", "token_id"))
    if (pos < 0).any():
        keep = pos >= 0  # padding rows, if the store kept them
        seq, pos, tok = seq[keep], pos[keep], tok[keep]
        data = {k: v[torch.from_numpy(keep)] for k, v in data.items()}
    order = np.lexsort((pos, seq))
    seq, pos, tok = seq[order], pos[order], tok[order]
    if len(seq) > max_tokens:
        cut_seq = seq[max_tokens - 1]
        n = int(np.searchsorted(seq, cut_seq, side="left")) or max_tokens  # whole sequences only
        order, seq, pos, tok = order[:n], seq[:n], pos[:n], tok[:n]
    valence = np.zeros(len(seq), dtype=np.float64)
    word = [""] * len(seq)
    for i, (s, p, t) in enumerate(zip(seq.tolist(), pos.tolist(), tok.tolist())):
        if s >= len(labels) or p >= len(labels[s].ids) or labels[s].ids[p] != t:
            raise ValueError(
                f"{store.path}: row (text {s}, position {p}, token {t}) does not match the tokenization of the "
                "texts given; label the same texts with the same model's tokenizer that collected the store"
            )
        valence[i], word[i] = labels[s].valence[p], labels[s].word[p]
    idx = torch.from_numpy(order)
    acts = {k: data[k][idx].float() for k in site_keys}
    return TokenTable(acts, seq, pos, tok, valence, word)


@torch.no_grad()
def feature_activations(sae, x: Float[Tensor, "n d_in"], batch_size: int = 4096) -> Float[Tensor, "n d_sae"]:
    return torch.cat([sae.encode(x[i:i + batch_size].to(sae.W_dec.dtype)) for i in range(0, x.shape[0], batch_size)])


def correlations(f: Float[Tensor, "n d_sae"], v: Float[Tensor, "n"]) -> Float[Tensor, "d_sae"]:
    """Pearson correlation of each feature with v (0 for features that are constant on these tokens)."""
    f = f.double()
    v = v.double()
    fc = f - f.mean(0)
    vc = v - v.mean()
    denom = fc.norm(dim=0) * vc.norm()
    return torch.where(denom > 0, (fc.T @ vc) / denom.clamp(min=1e-300), torch.zeros_like(denom))


def permutation_pvalues(
    f: Float[Tensor, "n k"], v: Float[Tensor, "n"], observed: Float[Tensor, "k"], n_perm: int, seed: int,
    chunk: int = 256,
) -> Float[Tensor, "k"]:
    """Two-sided permutation p-values, (1 + #{|r_perm| >= |r_obs|}) / (1 + n_perm), shuffling v across tokens.

    Each chunk of permutations is drawn at once (argsort of uniform noise), so tens of thousands of permutations,
    what Benjamini-Hochberg over thousands of features needs, take seconds."""
    if f.shape[1] == 0:
        return torch.zeros(0, dtype=torch.float64)
    fc = f.double() - f.double().mean(0)
    fn = fc / fc.norm(dim=0).clamp(min=1e-300)
    vc = v.double() - v.double().mean()
    vc = vc / vc.norm().clamp(min=1e-300)
    gen = torch.Generator().manual_seed(seed)
    hits = torch.zeros(f.shape[1], dtype=torch.float64)
    done = 0
    while done < n_perm:
        b = min(chunk, n_perm - done)
        order = torch.argsort(torch.rand(b, len(vc), generator=gen, dtype=torch.float64), dim=1)
        r = vc[order] @ fn
        hits += (r.abs() >= observed.abs().double() - 1e-12).sum(0)
        done += b
    return (1.0 + hits) / (1.0 + n_perm)


def top_contexts(
    table: TokenTable, acts: Float[Tensor, "n d_sae"], feature: int, k: int, before: int, after: int,
    token_text: dict[int, str],
) -> list[dict[str, Any]]:
    """The k highest-activating tokens of `feature`, each with its window of tokens and activations."""
    col = acts[:, feature]
    n_pos = int((col > 0).sum())
    if n_pos == 0:
        return []
    top = torch.topk(col, min(k, n_pos)).indices.tolist()
    out = []
    for r in top:
        lo, hi = r, r
        while lo > 0 and r - lo < before and table.seq_id[lo - 1] == table.seq_id[r]:
            lo -= 1
        while hi + 1 < table.n and hi - r < after and table.seq_id[hi + 1] == table.seq_id[r]:
            hi += 1
        out.append({
            "seq_id": int(table.seq_id[r]), "position": int(table.position[r]), "focus": r - lo,
            "tokens": [token_text[int(t)] for t in table.token_id[lo:hi + 1]],
            "acts": [round(float(a), 4) for a in col[lo:hi + 1]],
            "valence": float(table.valence[r]),
        })
    return out


def token_display(tokenizer: Any, token_id: int) -> str:
    """A token as it reads in running text: decoded, with the leading space its piece marks (Ġ, ▁) kept."""
    text = tokenizer.decode([token_id])
    piece = tokenizer.convert_ids_to_tokens(token_id) or ""
    if piece[:1] in ("\u0120", "\u2581") and not text.startswith(" "):
        text = " " + text
    return text


def classify_features(
    sae, table: TokenTable, site_key: str, cfg: FeatureConfig, tokenizer: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per feature (corr, p, BH q, reward_related uncorrected and at the FDR, density, top contexts) and a
    summary."""
    if not 0 < cfg.fdr < 1:
        raise ValueError(f"features.fdr must be in (0, 1), got {cfg.fdr}")
    f = feature_activations(sae, table.acts[site_key])
    v = torch.from_numpy(table.valence)
    corr = correlations(f, v)
    cand = (corr.abs() >= cfg.corr_threshold).nonzero().flatten()
    p = torch.ones(f.shape[1], dtype=torch.float64)
    if len(cand) and float(v.std()) > 0:
        p[cand] = permutation_pvalues(f[:, cand], v, corr[cand], cfg.n_permutations, cfg.seed)
    related = (corr.abs() >= cfg.corr_threshold) & (p < cfg.p_value)
    q = torch.from_numpy(bh_adjusted(p.numpy()))
    related_fdr = (corr.abs() >= cfg.corr_threshold) & (q <= cfg.fdr)
    density = (f > 0).float().mean(0)
    token_text = {int(t): token_display(tokenizer, int(t)) for t in np.unique(table.token_id)}
    rows = []
    for j in range(f.shape[1]):
        rows.append({
            "feature": j, "corr": float(corr[j]), "p": float(p[j]), "q": float(q[j]), "reward_related": bool(related[j]),
            "reward_related_fdr": bool(related_fdr[j]),
            "density": float(density[j]), "max_act": float(f[:, j].max()),
            "top": top_contexts(table, f, j, cfg.top_contexts, cfg.context_before, cfg.context_after, token_text),
        })
    summary = {
        "n_features": int(f.shape[1]), "n_tokens": int(f.shape[0]),
        "n_valenced_tokens": int((v != 0).sum()),
        "n_candidates": int(len(cand)), "n_reward_related": int(related.sum()),
        "n_positive": int((related & (corr > 0)).sum()), "n_negative": int((related & (corr < 0)).sum()),
        "fdr": cfg.fdr, "n_reward_related_fdr": int(related_fdr.sum()),
        "n_positive_fdr": int((related_fdr & (corr > 0)).sum()), "n_negative_fdr": int((related_fdr & (corr < 0)).sum()),
        "n_permutations": cfg.n_permutations, "min_p": 1.0 / (1 + cfg.n_permutations),
        "fdr_resolvable": resolvable(int(f.shape[1]), cfg.n_permutations, cfg.fdr),
        "max_abs_corr": float(corr.abs().max()) if len(corr) else 0.0,
        "dead_on_eval": int((density == 0).sum()),
    }
    return rows, summary
