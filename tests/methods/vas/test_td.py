"""TD(lambda) returns against hand-computed examples, and the masked loss."""
import pytest
import torch

from methods.vas.td import td_lambda_returns, value_loss


def test_three_step_hand_example():
    # V(s1), V(s2), V(s3) = 0.2, 0.5, 0.4; terminal reward R = 1; gamma = 1, lambda = 0.5
    # G3 = R                                   = 1.0
    # G2 = (1 - l) V3 + l G3 = 0.5*0.4 + 0.5*1.0 = 0.7
    # G1 = (1 - l) V2 + l G2 = 0.5*0.5 + 0.5*0.7 = 0.6
    # (GAE form: deltas 0.5-0.2=0.3, 0.4-0.5=-0.1, 1-0.4=0.6; A3=0.6, A2=-0.1+0.5*0.6=0.2,
    #  A1=0.3+0.5*0.2=0.4; G = A + V = 0.6, 0.7, 1.0)
    values = torch.tensor([[0.2, 0.5, 0.4]])
    got = td_lambda_returns(values, torch.tensor([1.0]), torch.ones(1, 3), gamma=1.0, lam=0.5)
    assert torch.allclose(got, torch.tensor([[0.6, 0.7, 1.0]]), atol=1e-6)


def test_discount_hand_example():
    # same values, gamma = 0.5, lambda = 0.5, R = 1:
    # G3 = 1.0
    # G2 = g[(1 - l) V3 + l G3] = 0.5 * (0.5*0.4 + 0.5*1.0) = 0.35
    # G1 = g[(1 - l) V2 + l G2] = 0.5 * (0.5*0.5 + 0.5*0.35) = 0.2125
    values = torch.tensor([[0.2, 0.5, 0.4]])
    got = td_lambda_returns(values, torch.tensor([1.0]), torch.ones(1, 3), gamma=0.5, lam=0.5)
    assert torch.allclose(got, torch.tensor([[0.2125, 0.35, 1.0]]), atol=1e-6)


def test_lambda_limits():
    values = torch.tensor([[0.2, 0.5, 0.4]])
    mc = td_lambda_returns(values, torch.tensor([-2.0]), torch.ones(1, 3), gamma=1.0, lam=1.0)
    assert torch.allclose(mc, torch.full((1, 3), -2.0))  # Monte-Carlo: every state learns R
    td0 = td_lambda_returns(values, torch.tensor([-2.0]), torch.ones(1, 3), gamma=1.0, lam=0.0)
    assert torch.allclose(td0, torch.tensor([[0.5, 0.4, -2.0]]))  # one-step: the successor's value


def test_padding_rows_are_independent():
    # row 0: the hand example; row 1: two steps then padding (whose values must not leak in)
    values = torch.tensor([[0.2, 0.5, 0.4], [0.1, 0.3, 99.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    got = td_lambda_returns(values, torch.tensor([1.0, -1.0]), mask, gamma=1.0, lam=0.5)
    # row 1: G2 = R = -1; G1 = 0.5*0.3 + 0.5*(-1) = -0.35; padded position 0
    assert torch.allclose(got, torch.tensor([[0.6, 0.7, 1.0], [-0.35, -1.0, 0.0]]), atol=1e-6)


def test_returns_carry_no_gradient_and_loss_is_half_masked_mse():
    values = torch.tensor([[0.2, 0.5, 0.4], [0.1, 0.3, 5.0]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    returns = td_lambda_returns(values, torch.tensor([1.0, -1.0]), mask, lam=0.5)
    assert not returns.requires_grad
    loss = value_loss(values, returns, mask)
    # errors: row 0: -0.4, -0.2, -0.6; row 1: 0.45, 1.3 -> 0.5 * mean of squares over 5 positions
    expected = 0.5 * (0.16 + 0.04 + 0.36 + 0.2025 + 1.69) / 5
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    loss.backward()
    assert values.grad[1, 2] == 0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes disagree"):
        td_lambda_returns(torch.zeros(2, 3), torch.zeros(3), torch.ones(2, 3))
