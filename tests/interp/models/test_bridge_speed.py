"""The bridge speed-ups change nothing a user can see: same logits and states, and hooks on the
skipped intermediates (a norm's hook_scale / hook_normalized) still fire and still edit."""
import pytest
import torch

from interp.models import load_model
from interp.models.bridge_speed import speed_up

TEXTS = ["Once upon a time there was a cat who liked fish.", "Hi"]


def _undo(model) -> int:
    n = 0
    for module in model.bridge.modules():
        for name in ("_hf_autograd_forward_with_hooks", "_filter_kwargs_for_forward"):
            if name in module.__dict__:
                del module.__dict__[name]
                n += 1
    return n


@torch.no_grad()
def _run(model):
    ids, mask = model.tokenize(TEXTS)
    out = model.bridge.run_with_cache(ids, attention_mask=mask, names_filter=lambda n: n.endswith("hook_resid_post"))
    return model.forward(ids, mask).logits, out[1]


@pytest.mark.parametrize("spec", ["tiny-random-llama", "tiny-random-gpt2", "tiny-random-neox"])
def test_speed_ups_give_bit_identical_outputs(spec):
    model = load_model(spec, device="cpu")
    fast_logits, fast_cache = _run(model)
    assert _undo(model) > 0, "load_model installs the speed-ups"
    slow_logits, slow_cache = _run(model)
    assert torch.equal(fast_logits, slow_logits)
    for name in slow_cache:
        assert torch.equal(fast_cache[name], slow_cache[name]), name
    assert speed_up(model.bridge) > 0


@torch.no_grad()
def test_hooks_on_norm_intermediates_still_fire_and_edit(tiny_llama):
    model = tiny_llama
    ids, mask = model.tokenize(TEXTS)
    clean = model.forward(ids, mask).logits
    point = "blocks.0.ln1.hook_normalized"
    assert point in model.bridge.hook_dict
    seen = []
    logits = model.bridge.run_with_hooks(ids, attention_mask=mask,
                                         fwd_hooks=[(point, lambda t, hook: seen.append(t.shape))])
    assert seen and torch.allclose(logits, clean, atol=1e-5)
    edited = model.bridge.run_with_hooks(ids, attention_mask=mask, fwd_hooks=[(point, lambda t, hook: t * 0.5)])
    assert not torch.allclose(edited, clean, atol=1e-3)
    # the hooks are gone again: back to the fast path and the clean logits
    assert torch.equal(model.forward(ids, mask).logits, clean)
