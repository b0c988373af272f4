"""Value training: it learns a reward that the states carry, and its settings are checked."""
import pytest
import torch

from methods.re_control import TrainConfig, ValueConfig, train_value
from methods.re_control.train import spearman, split_indices, within_group_spearman


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


def test_split_by_groups_keeps_each_prompt_on_one_side():
    groups = torch.arange(40) // 4  # 10 prompts x 4 responses
    tr, va = split_indices(40, 0.2, 0, groups)
    assert len(va) == 8 and len(tr) == 32
    assert not set(groups[tr].tolist()) & set(groups[va].tolist())
    # without groups: the same split as before groups existed (finished runs stay reproducible)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    tr0, va0 = split_indices(40, 0.2, 0)
    assert va0.tolist() == perm[:8].sort().values.tolist() and tr0.tolist() == perm[8:].sort().values.tolist()
    with pytest.raises(ValueError, match="2 prompts"):
        split_indices(4, 0.2, 0, torch.zeros(4))


def test_within_group_spearman_ignores_differences_between_prompts():
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    r = torch.tensor([10.0, 11.0, 12.0, 0.0, 1.0, 2.0])  # prompt 0's responses all beat prompt 1's
    v = torch.tensor([0.0, 1.0, 2.0, 10.0, 11.0, 12.0])  # ranks prompts backwards, responses rightly
    assert spearman(v, r) < 0
    assert within_group_spearman(v, r, groups) == pytest.approx(1.0)
    assert within_group_spearman(-v, r, groups) == pytest.approx(-1.0)
