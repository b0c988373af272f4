import pytest

from methods.reprpo.config import METHOD_DEFAULTS, ReprPOConfig


def test_method_defaults_fill_unset_hyperparameters():
    assert ReprPOConfig(method="dpo").beta == 0.1
    assert ReprPOConfig(method="mse").alpha == METHOD_DEFAULTS["mse"]["alpha"]
    assert ReprPOConfig(method="dpo", beta=0.3).beta == 0.3


def test_transform_only_with_a_hidden_state_method():
    with pytest.raises(ValueError, match="no hidden-state loss"):
        ReprPOConfig(method="dpo", transform="ortho")
    ReprPOConfig(method="rank", transform="ether")


def test_roundtrip_and_unknown_keys():
    cfg = ReprPOConfig(method="prefvec", transform="hra", seed=3)
    assert ReprPOConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown ReprPO config keys"):
        ReprPOConfig.from_dict({**cfg.to_dict(), "colour": 1})
    with pytest.raises(ValueError, match="unknown method"):
        ReprPOConfig(method="ppo")
