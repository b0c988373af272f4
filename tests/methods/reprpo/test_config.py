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


def test_eval_splits_default_to_all_and_stay_out_of_the_adapter_settings():
    from methods.reprpo.config import EVAL_SPLITS
    from methods.reprpo.pipeline import eval_config

    cfg = ReprPOConfig()
    assert cfg.eval_splits == EVAL_SPLITS == ("source_train", "source_test", "target_test", "random_test")
    narrowed = ReprPOConfig(eval_splits=["target_test"])
    assert narrowed.eval_splits == ("target_test",)
    assert "eval_splits" not in cfg.to_dict() and narrowed.to_dict() == cfg.to_dict()  # the same adapter
    assert "splits" not in eval_config(cfg, 750, 512, 8)  # earlier runs' recorded eval settings still match
    assert eval_config(narrowed, 750, 512, 8)["splits"] == ["target_test"]
    with pytest.raises(ValueError, match="choose among source_train"):
        ReprPOConfig(eval_splits=("test",))
    with pytest.raises(ValueError, match="n-eval 0"):
        ReprPOConfig(eval_splits=())
