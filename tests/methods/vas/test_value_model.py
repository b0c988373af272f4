"""Value model: LoRA or frozen+MLP shapes, save/load round trip with safetensors + JSON, clear errors."""
import json

import pytest
import torch

from methods.vas.value_model import CONFIG, WEIGHTS, ValueConfig, ValueModel, resolve_value_folder
from tests.methods.vas.conftest import PROMPTS, random_value_model


def test_lora_trains_only_adapter_and_head():
    value = ValueModel(ValueConfig("stories260k"), device="cpu")
    names = [n for n, p in value.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or n.startswith("head.") for n in names)
    assert any("lora_" in n for n in names)


def test_frozen_backbone_with_mlp_head_trains_only_the_head():
    value = ValueModel(ValueConfig("stories260k", adapter="none", head="mlp", mlp_hidden=32), device="cpu")
    names = [n for n, p in value.named_parameters() if p.requires_grad]
    assert names and all(n.startswith("head.") for n in names)


def test_save_load_round_trip(tmp_path, stories_base):
    value = random_value_model("stories260k", seed=5)
    value.save(tmp_path / "train", extra={"reward": "vader-sentiment"})
    meta = json.loads((tmp_path / "train" / CONFIG).read_text())
    assert meta["config"]["backbone"] == "stories260k" and meta["tokenizer_size"] == 512
    assert (tmp_path / "train" / WEIGHTS).exists() and meta["reward"] == "vader-sentiment"
    ids, mask = stories_base.tokenize(PROMPTS)
    expected = value(ids, mask).values
    for merge in (False, True):
        loaded = ValueModel.load(tmp_path, device="cpu", merge=merge)  # the run dir resolves to run/train
        torch.testing.assert_close(loaded(ids, mask).values, expected, atol=1e-5, rtol=0)
    with pytest.raises(RuntimeError, match="merged"):
        loaded.save(tmp_path / "again")


def test_mlp_round_trip(tmp_path, stories_base):
    value = random_value_model("stories260k", seed=6, head="mlp", adapter="none")
    value.save(tmp_path)
    ids, mask = stories_base.tokenize(PROMPTS)
    torch.testing.assert_close(ValueModel.load(tmp_path, device="cpu")(ids, mask).values, value(ids, mask).values)


def test_missing_or_foreign_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="interp vas train"):
        resolve_value_folder(tmp_path)
    (tmp_path / CONFIG).write_text(json.dumps({"kind": "something-else"}))
    (tmp_path / WEIGHTS).write_bytes(b"")
    with pytest.raises(ValueError, match="not a VAS value model"):
        resolve_value_folder(tmp_path)


def test_bad_config_names_the_options():
    with pytest.raises(ValueError, match="adapter"):
        ValueConfig("stories260k", adapter="full")
    with pytest.raises(ValueError, match="head"):
        ValueConfig("stories260k", head="conv")
