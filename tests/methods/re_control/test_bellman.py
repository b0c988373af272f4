"""The Bellman objective, checked against numbers worked out by hand."""
import pytest
import torch

from methods.re_control.bellman import bellman_loss, bellman_terms, last_valid, pad_trajectories


def two_trajectories():
    # trajectory A: 3 states (2 tokens), reward 5; trajectory B: 2 states (1 token), reward -1, one padded slot
    values = torch.tensor([[1.0, 2.0, 3.0], [0.5, 4.0, 100.0]])
    return values, torch.tensor([3, 2]), torch.tensor([5.0, -1.0])


def test_loss_on_two_trajectories_matches_hand_computation():
    values, lengths, rewards = two_trajectories()
    # A: (1-2)^2 + (2-3)^2 + (3-5)^2 = 1 + 1 + 4 = 6
    # B: (0.5-4)^2 + (4-(-1))^2 = 12.25 + 25 = 37.25   (the padded 100 plays no part)
    assert float(bellman_loss(values, lengths, rewards)) == pytest.approx((6 + 37.25) / 2)
    td, terminal = bellman_terms(values, lengths, rewards)
    assert td.tolist() == pytest.approx([2.0, 12.25])
    assert terminal.tolist() == pytest.approx([4.0, 25.0])


def test_discount_scales_the_bootstrapped_target():
    values, lengths, rewards = two_trajectories()
    # g = 0.5: A: (1-1)^2 + (2-1.5)^2 + 4 = 4.25 ; B: (0.5-2)^2 + 25 = 27.25
    assert float(bellman_loss(values, lengths, rewards, discount=0.5)) == pytest.approx((4.25 + 27.25) / 2)
    with pytest.raises(ValueError, match="discount"):
        bellman_loss(values, lengths, rewards, discount=0.0)


def test_terminal_anchor_is_the_last_valid_state_not_the_first():
    values, lengths, rewards = two_trajectories()
    assert last_valid(values, lengths).tolist() == [3.0, 4.0]
    # moving the padding changes nothing; moving the last valid state changes the terminal term
    padded = values.clone()
    padded[1, 2] = -7.0
    assert torch.equal(bellman_loss(padded, lengths, rewards), bellman_loss(values, lengths, rewards))
    v = values.clone().requires_grad_(True)
    _, terminal = bellman_terms(v, lengths, rewards)
    (g,) = torch.autograd.grad(terminal.sum(), v)
    # d/dv (v_T - r)^2 = 2 (v_T - r) at index T = length - 1 only
    assert g.tolist() == [[0.0, 0.0, 2 * (3.0 - 5.0)], [0.0, 2 * (4.0 + 1.0), 0.0]]


def test_detached_target_versus_residual_gradient():
    values = torch.tensor([[1.0, 2.0]], requires_grad=True)
    lengths, rewards = torch.tensor([2]), torch.tensor([2.0])
    (g_semi,) = torch.autograd.grad(bellman_loss(values, lengths, rewards, detach_target=True), values)
    (g_res,) = torch.autograd.grad(bellman_loss(values, lengths, rewards, detach_target=False), values)
    # L = (v0 - v1)^2 + (v1 - 2)^2 ; semi-gradient: dv1 only from the terminal term (0 here)
    assert g_semi.tolist() == [[2 * (1 - 2), 0.0]]
    # residual gradient: dv1 = -2 (v0 - v1) + 2 (v1 - 2) = 2
    assert g_res.tolist() == [[2 * (1 - 2), 2.0]]


def test_pad_trajectories_scatters_rows_and_checks_completeness():
    states = torch.arange(5, dtype=torch.float32)[:, None].repeat(1, 2)
    traj, step = torch.tensor([1, 0, 1, 0, 1]), torch.tensor([0, 0, 1, 1, 2])
    padded, lengths = pad_trajectories(states, traj, step, 2)
    assert lengths.tolist() == [2, 3]
    assert padded[:, :, 0].tolist() == [[1.0, 3.0, 0.0], [0.0, 2.0, 4.0]]
    with pytest.raises(ValueError, match="incomplete"):
        pad_trajectories(states[:4], traj[:4], torch.tensor([0, 0, 2, 1]), 2)
