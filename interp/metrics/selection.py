"""Choosing a control's strength on validation data: the largest reward gain that keeps the responses'
diversity and coherence within stated relative drops of the base model's (the pre-registered rule of
RE-Control's evaluation, used for every method that picks a strength)."""
from __future__ import annotations

from typing import Any


def choose_within_limits(base: dict[str, float], points: list[dict[str, Any]], gain: str,
                         max_diversity_drop: float = 0.10, max_coherence_drop: float = 0.15,
                         strength=lambda p: 0.0) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """The point with the largest `gain` among those whose diversity and coherence stay within the allowed
    relative drops of base (ties: the smaller `strength`); when none does, the one with the smallest total
    drop. Returns (chosen, feasible points, reason). One rule for RE-Control's setting, static editing's scale
    and VAS's beta, so that all are held to the same limits."""
    def drops(p):
        return ((base["diversity"] - p["diversity"]) / max(abs(base["diversity"]), 1e-12),
                (base["coherence"] - p["coherence"]) / max(abs(base["coherence"]), 1e-12))

    ok = [p for p in points if drops(p)[0] <= max_diversity_drop and drops(p)[1] <= max_coherence_drop]
    if ok:
        best = max(ok, key=lambda p: (p[gain], -strength(p)))
        reason = (f"largest validation reward gain {best[gain]:+.4f} among {len(ok)} of {len(points)} settings "
                  f"within {max_diversity_drop:.0%} diversity and {max_coherence_drop:.0%} coherence of base")
    else:
        best = min(points, key=lambda p: sum(max(0.0, x) for x in drops(p)))
        reason = "no setting kept diversity and coherence near base; took the one that moved them least"
    return best, ok, reason
