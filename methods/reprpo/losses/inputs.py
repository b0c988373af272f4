"""What every preference loss reads for a batch of n pairs (policy side and cached reference side)."""
from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor


@dataclass
class LossInputs:
    """Summed response log-probabilities (prompt masked), response lengths, and for the hidden-state
    losses the transformed, response-pooled states at the collection layers."""

    logp_chosen: Float[Tensor, "n"]
    logp_rejected: Float[Tensor, "n"]
    ref_logp_chosen: Float[Tensor, "n"]
    ref_logp_rejected: Float[Tensor, "n"]
    n_tokens_chosen: Float[Tensor, "n"]
    n_tokens_rejected: Float[Tensor, "n"]
    # stacked [n, layer, d] (ours: resid_post, one width), or one [n, d_k] per site (reference side channels)
    states_chosen: Float[Tensor, "n layer d"] | list[Float[Tensor, "n d"]] | None = None
    states_rejected: Float[Tensor, "n layer d"] | list[Float[Tensor, "n d"]] | None = None
    ref_states_chosen: Float[Tensor, "n layer d"] | list[Float[Tensor, "n d"]] | None = None
    ref_states_rejected: Float[Tensor, "n layer d"] | list[Float[Tensor, "n d"]] | None = None

    def logratio_margin(self) -> Float[Tensor, "n"]:
        """z = (log pi(c) - log ref(c)) - (log pi(r) - log ref(r)): the DPO implicit reward margin (nats)."""
        return (self.logp_chosen - self.ref_logp_chosen) - (self.logp_rejected - self.ref_logp_rejected)

    def require_states(self, method: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        s = (self.states_chosen, self.states_rejected, self.ref_states_chosen, self.ref_states_rejected)
        if any(x is None for x in s):
            raise ValueError(f"loss {method!r} needs hidden states of policy and reference; none were captured")
        return tuple(x.float() for x in s)  # type: ignore[return-value]


def scalar(t: Tensor) -> float:
    """A logged number (detached, so logging never touches the graph)."""
    return float(t.detach())
