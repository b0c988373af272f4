"""The Bellman objective for the value function, on padded trajectories of states.

A trajectory with response tokens y_1..y_T has states s_0..s_T (state t predicts token t+1;
s_T is the state after the last token). With reward r given only at the end and discount g:

    L = sum_{t=0}^{T-1} (V(s_t) - g * V(s_{t+1}))^2  +  (V(s_T) - r)^2

averaged over trajectories. The terminal term is anchored on the LAST VALID state s_T, found
from each trajectory's length (RE-Control's official code took the argmax of a 0/1 mask,
which returns the FIRST state). `detach_target=True` (default) stops the gradient through
g * V(s_{t+1}) (semi-gradient TD); False gives the residual-gradient variant.
"""
from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor


def valid_mask(lengths: Int[Tensor, "batch"], n_pos: int) -> Tensor:
    """[batch, n_pos] booleans: True for the first `lengths[i]` states of row i."""
    return torch.arange(n_pos, device=lengths.device)[None, :] < lengths[:, None]


def last_valid(values: Float[Tensor, "batch pos"], lengths: Int[Tensor, "batch"]) -> Float[Tensor, "batch"]:
    """values[i, lengths[i] - 1]: each trajectory's terminal value (the state after its last token)."""
    if bool((lengths < 1).any()):
        raise ValueError("every trajectory needs at least one state (the prompt's last position)")
    if bool((lengths > values.shape[1]).any()):
        raise ValueError(f"a length exceeds the padded width {values.shape[1]}")
    return values.gather(1, (lengths - 1).long()[:, None]).squeeze(1)


def bellman_terms(
    values: Float[Tensor, "batch pos"],
    lengths: Int[Tensor, "batch"],
    rewards: Float[Tensor, "batch"],
    discount: float = 1.0,
    detach_target: bool = True,
) -> tuple[Float[Tensor, "batch"], Float[Tensor, "batch"]]:
    """(per-trajectory sum of the TD terms, per-trajectory terminal term) -- padding ignored."""
    lengths = lengths.to(values.device).long()
    rewards = rewards.to(values.device, values.dtype)
    target = values[:, 1:].detach() if detach_target else values[:, 1:]
    td = (values[:, :-1] - discount * target) ** 2
    # the pair (t, t+1) is inside the trajectory when t+1 < length
    td = torch.where(valid_mask(lengths - 1, td.shape[1]), td, torch.zeros_like(td)).sum(1)
    terminal = (last_valid(values, lengths) - rewards) ** 2
    return td, terminal


def bellman_loss(
    values: Float[Tensor, "batch pos"],
    lengths: Int[Tensor, "batch"],
    rewards: Float[Tensor, "batch"],
    discount: float = 1.0,
    detach_target: bool = True,
) -> Float[Tensor, ""]:
    """Mean over trajectories of sum_t (V(s_t) - g V(s_{t+1}))^2 + (V(s_T) - r)^2 (see module doc)."""
    if not 0.0 < discount <= 1.0:
        raise ValueError(f"discount must be in (0, 1], got {discount}")
    td, terminal = bellman_terms(values, lengths, rewards, discount, detach_target)
    return (td + terminal).mean()


def pad_trajectories(
    states: Float[Tensor, "rows d"], traj: Int[Tensor, "rows"], step: Int[Tensor, "rows"], n_traj: int
) -> tuple[Float[Tensor, "n_traj pos d"], Int[Tensor, "n_traj"]]:
    """Scatter store rows (one state per row, with trajectory id and step) into a zero-padded tensor."""
    if states.shape[0] == 0:
        raise ValueError("no states to pad: the activation store is empty")
    lengths = torch.zeros(n_traj, dtype=torch.long)
    lengths.scatter_reduce_(0, traj.long(), step.long() + 1, reduce="amax")
    counts = torch.bincount(traj.long(), minlength=n_traj)
    if not torch.equal(counts, lengths):
        bad = int((counts != lengths).nonzero()[0])
        raise ValueError(
            f"trajectory {bad} has {int(counts[bad])} stored states but its steps reach {int(lengths[bad])}: "
            "the store is incomplete or mixes two collections; redo the collect step with --force"
        )
    out = torch.zeros(n_traj, int(lengths.max()), states.shape[1], dtype=states.dtype)
    out[traj.long(), step.long()] = states
    return out, lengths
