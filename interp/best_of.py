"""Best-of-N selection from shared sampled passes, for every method's Best-of-N baseline.

Sampling max(N) passes once and keeping, per prompt, the best of the first N gives Best-of-4 and
Best-of-8 from 8 generations instead of 12, and makes Best-of-8 a superset of Best-of-4's candidates.
"""
from __future__ import annotations

from typing import Sequence

import torch
from jaxtyping import Float
from torch import Tensor


def best_of_first_n(
    texts: Sequence[Sequence[str]], rewards: Sequence[Float[Tensor, "prompt"]], ns: Sequence[int],
) -> list[tuple[int, list[str], Float[Tensor, "prompt"]]]:
    """For each N in `ns` (ascending): (N, the highest-reward response per prompt among passes 0..N-1, its reward).

    `texts[j][i]` / `rewards[j][i]`: pass j's response to prompt i and its reward.
    """
    if not ns:
        return []
    if len(texts) != len(rewards):
        raise ValueError(f"got {len(texts)} passes of texts but {len(rewards)} of rewards")
    if min(ns) < 1 or max(ns) > len(texts):
        raise ValueError(f"Best-of-N needs 1 <= N <= {len(texts)} (the sampled passes), got {list(ns)}")
    all_r = torch.stack(list(rewards), 1)  # [prompt, pass]
    out = []
    for n in sorted(ns):
        best = all_r[:, :n].argmax(1)
        out.append((n, [texts[int(j)][i] for i, j in enumerate(best)], all_r[:, :n].max(1).values))
    return out
