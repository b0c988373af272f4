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


@pytest.mark.parametrize("spec", ["stories260k", "tiny-random-gpt2"])
def test_truncated_backbone_is_a_cheaper_value_model_with_exact_batched_q(spec):
    from methods.vas.decoding import candidate_values, prefill, q_values_loop
    from tests.conftest import cached_model

    value = ValueModel(ValueConfig(spec, n_layers=2), device="cpu")
    assert value.backbone.config.num_hidden_layers == 2
    with torch.no_grad():
        value.head.weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(0))
    base = cached_model("stories260k" if spec == "stories260k" else "tiny-random-llama")
    ids, mask = base.tokenize(PROMPTS)
    top = base.logits(ids, mask)[:, -1].topk(4).indices
    torch.testing.assert_close(candidate_values(value, prefill(value, ids, mask), mask, top),
                               q_values_loop(value, ids, mask, top, use_cache=False), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="n_layers"):
        ValueModel(ValueConfig(spec, n_layers=99), device="cpu")
