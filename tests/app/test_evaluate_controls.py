"""The composition measurement measures where it was registered to: the pre-registered evaluation's prompts
(refused otherwise), and training data for VAS and the SAE that no other part of it uses."""
import inspect
from pathlib import Path

import pytest

import app.evaluate_controls as ec


@pytest.fixture(scope="module")
def cfg():
    return ec.re_control_config(Path("runs/controls"))


def test_prompts_are_the_preregistered_ones(cfg):
    test, val = ec.registered_prompts(cfg)
    ids = ec._prereg()["data"]
    assert [e.prompt.id for e in test] == ids["test_ids"] and len(test) == 300
    assert [e.prompt.id for e in val] == ids["validation_ids"]


@pytest.mark.parametrize("which", ["test_ids", "validation_ids"])
def test_other_prompts_are_refused(cfg, monkeypatch, which):
    record = ec._prereg()
    record["data"][which] = list(reversed(record["data"][which]))  # same prompts, another order: still refused
    monkeypatch.setattr(ec, "_prereg", lambda: record)
    with pytest.raises(RuntimeError, match=which.split("_")[0]):
        ec.registered_prompts(cfg)


def test_training_data_do_not_overlap(cfg):
    """RE-Control learns from training prompts [0, n_train), VAS from the next 384, the SAE from those after."""
    sae_first = inspect.signature(ec.prepare_sae).parameters["first"].default
    assert cfg.n_train <= ec.VAS_PROMPTS[0] < ec.VAS_PROMPTS[1] <= sae_first
    assert cfg.n_static_pairs <= cfg.n_train  # the steering vector's pairs are among RE-Control's training prompts
