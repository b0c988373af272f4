"""Value training: it learns a reward that the states carry, and its settings are checked."""
import pytest
import torch

from methods.re_control import TrainConfig, ValueConfig, train_value
from methods.re_control.train import spearman, split_indices


def synthetic(n=120, pos=6, d=16, seed=0):
    """Trajectories whose states all carry their reward (plus noise) in the first coordinate."""
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(n, pos, d, generator=g)
    lengths = torch.randint(2, pos + 1, (n,), generator=g)
    rewards = torch.randn(n, generator=g)
    states[..., 0] = rewards[:, None] + 0.1 * torch.randn(n, pos, generator=g)
    return states, lengths, rewards


def test_value_learns_the_terminal_reward_and_reports_validation_spearman():
    states, lengths, rewards = synthetic()
    value, hist = train_value(states, lengths, rewards, ValueConfig(d_model=16, depth=1, width=32),
                              TrainConfig(epochs=60, lr=3e-3, patience=60, val_fraction=0.25), progress=False)
    assert hist["n_val"] == 30 and hist["n_train"] == 90
    assert hist["val"]["spearman"] > 0.9
    assert hist["history"]["val_loss"][hist["best_epoch"]] == pytest.approx(min(hist["history"]["val_loss"]))
    assert hist["val"]["loss"] == pytest.approx(min(hist["history"]["val_loss"]), rel=1e-5)


def test_residual_gradient_and_discount_options_train_too():
    states, lengths, rewards = synthetic(n=40)
    _, hist = train_value(states, lengths, rewards, ValueConfig(d_model=16, depth=1),
                          TrainConfig(epochs=3, detach_target=False, discount=0.9), progress=False)
    assert len(hist["history"]["train_loss"]) == 3


def test_settings_are_validated():
    states, lengths, rewards = synthetic(n=10)
    with pytest.raises(ValueError, match="width 16"):
        train_value(states, lengths, rewards, ValueConfig(d_model=8), TrainConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="val_fraction"):
        TrainConfig(val_fraction=1.0)
    with pytest.raises(ValueError, match="at least 2"):
        split_indices(1, 0.2, 0)
    assert spearman(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 4.0, 9.0])) == pytest.approx(1.0)
