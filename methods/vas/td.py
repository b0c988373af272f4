"""TD(lambda) targets for a value model of a terminal-reward episode, in GAE form.

A response r_1..r_T to a prompt gives states s_1..s_T (s_j = prompt + r_1..r_j). The only
reward is the terminal one, R, paid on leaving s_T; the state after that is absorbing with
value 0. With V_j = V(s_j) computed WITHOUT gradient:

    delta_j = [j = T] R + gamma V_{j+1} [j < T] - V_j
    A_j     = delta_j + gamma lambda A_{j+1}   (A_{T+1} = 0)
    G_j     = A_j + V_j                          the lambda-return target of V(s_j)

so G_T = R and G_j = (1 - lambda) gamma V_{j+1} + lambda gamma G_{j+1}: lambda = 1 is the
Monte-Carlo return (every state learns R), lambda = 0 is one-step TD (each learns its
successor's value). Loss: 0.5 * mean over response positions of (V_j - G_j)^2.
"""
from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


def td_lambda_returns(
    values: Float[Tensor, "batch steps"],
    rewards: Float[Tensor, "batch"],
    mask: Float[Tensor, "batch steps"],
    gamma: float = 1.0,
    lam: float = 0.95,
) -> Float[Tensor, "batch steps"]:
    """lambda-returns G_j for response positions (mask 1, contiguous from the first column).

    Each row's last masked position is its terminal state and receives the reward R.
    Values at unmasked positions are ignored; returns there are 0.
    """
    if values.shape != mask.shape or rewards.shape != values.shape[:1]:
        raise ValueError(
            f"shapes disagree: values {tuple(values.shape)}, mask {tuple(mask.shape)}, rewards {tuple(rewards.shape)}"
        )
    values = values.detach().float()
    mask = mask.float()
    b, n = values.shape
    # terminal position: masked here and not masked at the next column
    nxt_mask = torch.cat([mask[:, 1:], torch.zeros(b, 1, dtype=mask.dtype, device=mask.device)], 1)
    terminal = mask * (1 - nxt_mask)
    nxt_values = torch.cat([values[:, 1:], torch.zeros(b, 1, dtype=values.dtype, device=values.device)], 1) * nxt_mask
    delta = terminal * rewards.float()[:, None] + gamma * nxt_values - values
    adv = torch.zeros_like(values)
    running = torch.zeros(b, dtype=values.dtype, device=values.device)
    for j in range(n - 1, -1, -1):
        running = (delta[:, j] + gamma * lam * running * nxt_mask[:, j]) * mask[:, j]
        adv[:, j] = running
    return (adv + values) * mask


def value_loss(
    values: Float[Tensor, "batch steps"], returns: Float[Tensor, "batch steps"], mask: Float[Tensor, "batch steps"]
) -> Float[Tensor, ""]:
    """0.5 * masked mean squared error over response positions."""
    mask = mask.float()
    return 0.5 * (((values - returns) ** 2) * mask).sum() / mask.sum().clamp(min=1)
