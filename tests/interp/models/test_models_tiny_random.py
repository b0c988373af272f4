"""Every tiny random architecture boots in the bridge from a local folder, matches plain HF, and exposes all sites."""
from __future__ import annotations

import pytest
import torch

from interp.models import load_model
from interp.models.tiny_random import ARCHS, build_tiny_random, tiny_config

ORIGINAL = ("llama", "gpt2", "neox")


def test_at_least_three_new_architectures():
    assert set(ORIGINAL) <= set(ARCHS)
    assert len(set(ARCHS) - set(ORIGINAL)) >= 3


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_arch_boots_matches_hf_and_captures(arch, tmp_path, checks):
    folder = build_tiny_random(arch, tmp_path / arch)
    model = load_model(str(folder), device="cpu")
    assert model.path == folder
    assert model.vocab_size == 259 and model.n_layers == 4 and model.d_model == 64
    diffs = checks.logits_diffs(model, checks.hf_reference(folder))
    assert max(diffs.values()) < 1e-4, diffs
    checks.check_sites(model)


def test_tiny_build_is_seeded(tmp_path):
    from safetensors.torch import load_file

    a = load_file(build_tiny_random("qwen2", tmp_path / "a") / "model.safetensors")
    b = load_file(build_tiny_random("qwen2", tmp_path / "b") / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_original_configs_unchanged():
    llama, gpt2, neox = (tiny_config(a) for a in ORIGINAL)
    assert (llama.hidden_size, llama.num_hidden_layers, llama.num_key_value_heads) == (64, 4, 2)
    assert (gpt2.n_embd, gpt2.n_layer, gpt2.n_head) == (64, 4, 4)
    assert (neox.hidden_size, neox.rope_parameters["partial_rotary_factor"]) == (64, 0.25)


def test_unknown_arch_names_the_choices():
    with pytest.raises(ValueError, match="qwen2"):
        tiny_config("not-an-arch")


@pytest.mark.parametrize("name", ["tiny-random-llama", "tiny-random-gpt2", "tiny-random-neox"])
def test_registered_tiny_models_match_hf(name, checks):
    model = load_model(name, device="cpu")
    diffs = checks.logits_diffs(model, checks.hf_reference(model.path))
    assert max(diffs.values()) < 1e-4, diffs
