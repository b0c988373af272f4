"""Mean max cosine similarity (MMCS) between two dictionaries' decoder directions.

`match="max"`: each feature of A takes its most similar feature of B (features of B may be
reused) -- the classic MMCS. `match="hungarian"`: a one-to-one matching maximising the total
cosine (scipy's `linear_sum_assignment`), so two dictionaries only score high if each A feature
has its own partner in B; the mean is over the min(n_A, n_B) matched pairs.
Identical dictionaries score 1; `random_baseline` gives the value expected by chance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

MATCHES = ("hungarian", "max")


@dataclass
class MMCS:
    value: float
    match: str
    cos: list[float]  # the matched cosine of each row of the smaller side (or of A for "max")
    partner: list[int]  # the index in B matched to each row of A (or -1 when unmatched)

    def to_dict(self, with_pairs: bool = False) -> dict:
        out = {"value": self.value, "match": self.match}
        if with_pairs:
            out.update(cos=self.cos, partner=self.partner)
        return out


def decoder_directions(sae) -> Float[Tensor, "d_sae d_in"]:
    """Unit-norm decoder rows of a sae-lens SAE (one direction per feature)."""
    w = sae.W_dec.detach().float().cpu()
    return w / w.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def cosine_matrix(a: Float[Tensor, "n_a d"], b: Float[Tensor, "n_b d"]) -> Float[Tensor, "n_a n_b"]:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"dictionaries have different widths {a.shape[-1]} and {b.shape[-1]}; compare SAEs of one site")
    a = a.float() / a.float().norm(dim=-1, keepdim=True).clamp(min=1e-12)
    b = b.float() / b.float().norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return a @ b.T


def mmcs(a: Float[Tensor, "n_a d"], b: Float[Tensor, "n_b d"], match: str = "hungarian") -> MMCS:
    """MMCS of directions `a` against `b` (rows need not be normalised)."""
    if match not in MATCHES:
        raise ValueError(f"unknown match {match!r}: choose one of {', '.join(MATCHES)}")
    cos = cosine_matrix(a, b)
    if match == "max":
        best, idx = cos.max(dim=1)
        return MMCS(float(best.mean()), match, best.tolist(), idx.tolist())
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cos.double().numpy(), maximize=True)
    matched = cos[torch.as_tensor(rows), torch.as_tensor(cols)]
    partner = [-1] * a.shape[0]
    for r, c in zip(rows.tolist(), cols.tolist()):
        partner[r] = c
    return MMCS(float(matched.mean()), match, matched.tolist(), partner)


def sae_mmcs(sae_a, sae_b, match: str = "hungarian") -> MMCS:
    """MMCS between two SAEs' decoders (e.g. small vs big dictionary, or base vs tuned model)."""
    return mmcs(decoder_directions(sae_a), decoder_directions(sae_b), match)


def random_baseline(n_a: int, n_b: int, d: int, match: str = "hungarian", n_sims: int = 5, seed: int = 0) -> dict[str, float]:
    """MMCS of two dictionaries of random unit directions of the same sizes (mean and std over simulations)."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_sims):
        a = torch.from_numpy(rng.standard_normal((n_a, d))).float()
        b = torch.from_numpy(rng.standard_normal((n_b, d))).float()
        vals.append(mmcs(a, b, match).value)
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "n_sims": n_sims}
