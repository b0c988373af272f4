"""TD(lambda) training learns a reward it can see in the tokens; the split keeps prompts apart."""
import pytest
import torch

from methods.vas.rollouts import Rollout
from methods.vas.train import TrainConfig, collate, split_rollouts, train_value_model
from methods.vas.value_model import ValueConfig, ValueModel


def _synthetic(n: int, seed: int) -> list[Rollout]:
    """Random-token responses scored by the share of tokens in the vocabulary's lower half, scaled to [-1, 1]:
    a terminal reward that adds up what each token contributes, as a sentiment lexicon does."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        prompt = torch.randint(3, 512, (int(torch.randint(2, 6, (1,), generator=g)),), generator=g).tolist()
        resp = torch.randint(3, 512, (int(torch.randint(4, 10, (1,), generator=g)),), generator=g).tolist()
        share = sum(t < 256 for t in resp) / len(resp)
        out.append(Rollout(f"p{i}", prompt, "", resp, 2 * share - 1))
    return out


def test_collate_layout():
    rs = [Rollout("a", [5, 6, 7], "", [8, 9], 1.0), Rollout("b", [5], "", [8, 9, 10], 0.0)]
    b = collate(rs, pad_id=0, device=torch.device("cpu"))
    assert b.start == 3
    assert b.ids.tolist() == [[5, 6, 7, 8, 9, 0], [0, 0, 5, 8, 9, 10]]
    assert b.mask.tolist() == [[1, 1, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1]]
    assert b.response_mask.tolist() == [[1, 1, 0], [1, 1, 1]]


def test_split_is_by_prompt_and_seeded():
    rs = [Rollout(f"p{i % 10}", [1], "", [2], 0.0, sample=i // 10) for i in range(40)]
    tr, va = split_rollouts(rs, 0.2, seed=3)
    assert {r.prompt for r in tr}.isdisjoint({r.prompt for r in va}) and len(va) == 8
    assert [r.prompt for r in split_rollouts(rs, 0.2, seed=3)[1]] == [r.prompt for r in va]


def test_td_training_learns_a_visible_reward():
    torch.manual_seed(0)
    value = ValueModel(ValueConfig("stories260k"), device="cpu")
    result = train_value_model(value, _synthetic(384, 0), TrainConfig(epochs=6, lr=3e-3, val_fraction=0.25), pad_id=0,
                               progress=False)
    # untrained, V is the constant mean reward: no ranking, and the reward's variance as error
    assert result["val_spearman_end"] > 0.5, result["history"]
    assert result["val_mc_mse"] < 0.9 * result["val_mc_mse_before"], result["history"]


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="lam"):
        TrainConfig(lam=1.5)
    with pytest.raises(ValueError, match="keep"):
        TrainConfig(keep="first")
