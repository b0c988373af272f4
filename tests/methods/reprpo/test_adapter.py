"""LoRA through peft on the bridge's inner layers: hooks still fire, states carry gradients, removal is clean."""
import pytest
import torch

from interp import capture, recording, resid_post
from methods.reprpo.adapter import add_lora, has_lora, load_adapter, lora_layers, remove_lora, save_adapter


def structure(model):
    return [(n, type(m).__name__) for n, m in model.hf.named_modules(remove_duplicate=False)]


def perturb(peft_model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def test_lora_on_the_bridge_keeps_hooks_and_gradients(stories_model):
    m = stories_model
    ids, mask = m.tokenize(["Once upon a time there was", "Lily saw a dog"])
    site = resid_post(2)
    before = structure(m)
    flags = {n: p.requires_grad for n, p in m.hf.named_parameters()}
    base = capture(m, ids, mask, [site])[site]
    peft_model = add_lora(m, r=4, alpha=8)
    try:
        assert len(lora_layers(peft_model)) == 7 * m.n_layers
        assert torch.allclose(capture(m, ids, mask, [site])[site], base)  # B = 0: starts as the reference
        perturb(peft_model)
        states = capture(m, ids, mask, [site], grad=True)[site]
        assert states.requires_grad and not torch.allclose(states, base)
        states.pow(2).mean().backward()
        early = [p for n, p in peft_model.named_parameters() if "lora_B" in n and ".layers.0." in n]
        late = [p for n, p in peft_model.named_parameters() if "lora_B" in n and ".layers.4." in n]
        assert early and all(p.grad is not None and p.grad.abs().sum() > 0 for p in early)
        assert all(p.grad is None for p in late)  # layer 4 comes after the captured site
        with peft_model.disable_adapter(), recording(m, [site]) as rec:
            m.forward(ids, mask)
        assert torch.allclose(rec[site][-1], base)
        with pytest.raises(RuntimeError, match="already carries"):
            add_lora(m)
    finally:
        remove_lora(peft_model)
    assert not has_lora(m) and structure(m) == before
    assert {n: p.requires_grad for n, p in m.hf.named_parameters()} == flags
    assert torch.allclose(capture(m, ids, mask, [site])[site], base)


def test_save_and_load_reproduce_the_adapter(stories_model, tmp_path):
    m = stories_model
    ids, mask = m.tokenize(["Once upon a time"])
    peft_model = add_lora(m, r=2, alpha=4, targets=("q_proj", "down_proj"))
    try:
        perturb(peft_model, seed=1)
        want = m.forward(ids, mask).logits.detach()
        save_adapter(peft_model, tmp_path / "a", extra={"transforms.x": torch.ones(2)})
    finally:
        remove_lora(peft_model)
    assert not torch.allclose(m.forward(ids, mask).logits, want)
    peft_model = load_adapter(m, tmp_path / "a")
    try:
        assert torch.allclose(m.forward(ids, mask).logits, want, atol=1e-6)
    finally:
        remove_lora(peft_model)


def test_unknown_projection_names_list_the_model_s_own(stories_model):
    with pytest.raises(ValueError, match="its projections are: .*q_proj"):
        add_lora(stories_model, targets=("c_attn",))
    assert not has_lora(stories_model)
