"""The value network: width from the model, files, and refusal of a model it was not trained for."""
import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

from methods.re_control import ControlConfig, ValueConfig, ValueFunction, controlled_generate, train_value
from methods.re_control.value import resolve_value_folder
from tests.conftest import cached_model


def narrow_model(tmp_path, width=32, heads=4, kv_heads=2):
    """A tiny random Llama of width `width` with the byte tokenizer (a model of another width than 64)."""
    from interp.models import load_model
    from interp.models.tiny_random import byte_tokenizer

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=width, intermediate_size=64, num_hidden_layers=2, num_attention_heads=heads,
                      num_key_value_heads=kv_heads, max_position_embeddings=128, vocab_size=259, bos_token_id=256,
                      eos_token_id=257, pad_token_id=258)
    folder = tmp_path / f"width{width}"
    AutoModelForCausalLM.from_config(cfg).save_pretrained(folder, safe_serialization=True)
    byte_tokenizer().save_pretrained(folder)
    return load_model(str(folder), device="cpu")


def small_value(d=64, **kw):
    torch.manual_seed(0)
    states = torch.randn(40, 5, d)
    lengths = torch.randint(2, 6, (40,))
    rewards = states[:, 0, 0]
    from methods.re_control import TrainConfig

    return train_value(states, lengths, rewards, ValueConfig(d_model=d, model="stories260k", tokenizer_size=512, **kw),
                       TrainConfig(epochs=3, patience=3), progress=False)[0]


def test_width_defaults_to_d_model_and_depth_is_configurable():
    v = ValueFunction(ValueConfig(d_model=64, depth=3))
    linears = [m for m in v.net if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(64, 64), (64, 64), (64, 64), (1, 64)]
    v = ValueFunction(ValueConfig(d_model=64, width=16, depth=1))
    assert [tuple(m.weight.shape) for m in v.net if isinstance(m, torch.nn.Linear)] == [(16, 64), (1, 16)]
    assert v(torch.zeros(3, 7, 64)).shape == (3, 7)


def test_save_and_load_round_trip(tmp_path):
    v = small_value(width=24, standardize=True)
    v.save(tmp_path / "train-value")
    w = ValueFunction.load(tmp_path)  # a run directory resolves to its train-value step
    assert resolve_value_folder(tmp_path) == tmp_path / "train-value"
    assert w.cfg == v.cfg
    x = torch.randn(4, 64)
    assert torch.allclose(v(x), w(x))
    with pytest.raises(FileNotFoundError, match="train-value"):
        ValueFunction.load(tmp_path / "nowhere")


def test_value_for_width_64_refuses_a_model_of_width_32(tmp_path):
    v = small_value()
    model = narrow_model(tmp_path)
    assert model.d_model == 32
    with pytest.raises(ValueError, match=r"d_model=64.*d_model=32"):
        v.check(model)
    with pytest.raises(ValueError, match="retrain it for this model"):
        controlled_generate(model, ["hi"], v, ControlConfig(0.5, 2), max_new_tokens=2, progress=False)
    with pytest.raises(ValueError, match="width 64"):
        v(torch.zeros(2, 32))


def test_value_for_width_64_refuses_a_model_of_width_576(tmp_path):
    """The issue's case: a value function trained at width 64 (stories260k) against SmolLM2's width, 576
    (a two-layer random Llama of that width, 9 heads of 64 like SmolLM2-135M)."""
    v = small_value()
    model = narrow_model(tmp_path, width=576, heads=9, kv_heads=3)
    assert model.d_model == 576
    with pytest.raises(ValueError, match=r"d_model=64.*d_model=576"):
        v.check(model)
    with pytest.raises(ValueError, match="retrain it for this model"):
        controlled_generate(model, ["hi"], v, ControlConfig(0.5, 2), max_new_tokens=2, progress=False)
    with pytest.raises(ValueError, match="width 64"):
        v(torch.zeros(2, 576))


def test_value_refuses_a_model_with_another_tokenizer():
    v = small_value()  # trained for stories260k's 512-token vocabulary
    tiny = cached_model("tiny-random-llama")  # width 64 too, but a 259-token byte tokenizer
    with pytest.raises(ValueError, match="tokenizer of 512 tokens"):
        v.check(tiny)
