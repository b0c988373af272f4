"""Shared checks for the model tests: bridge vs plain-HF logits, site identities, a tiny greedy loop."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from interp.activations import capture
from interp.models import Model, positions_from_mask
from interp.models.cache_keyword import returned_cache
from interp.sites import attn_out, final, mlp_out, resid_post, resid_pre

os.environ["HF_HUB_OFFLINE"] = "1"  # tests never reach a model hub
TEXTS = ["Once upon a time there was a cat who liked fish.", "Hi", "The quick brown fox jumps over the lazy dog!"]


def hf_reference(folder: Path) -> torch.nn.Module:
    """The same checkpoint as plain transformers would run it: eager attention, fp32, no bridge."""
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    return hf.eval()


@torch.no_grad()
def logits_diffs(model: Model, reference: torch.nn.Module, texts=TEXTS) -> dict[str, float]:
    """Max |logit difference| on real (unpadded) tokens of a left-padded batch: bridge forward and hooked HF forward."""
    ids, mask = model.tokenize(texts)
    pos = positions_from_mask(mask)
    want = reference(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    via_bridge = model.bridge(ids, return_type="logits", attention_mask=mask, position_ids=pos)
    via_hf = model.logits(ids, mask)
    real = mask.bool()
    assert want.shape == via_bridge.shape == via_hf.shape
    assert torch.isfinite(want[real]).all()
    return {
        "bridge": (via_bridge - want)[real].abs().max().item(),
        "hooked_hf": (via_hf - want)[real].abs().max().item(),
    }


@torch.no_grad()
def check_sites(model: Model, texts=TEXTS) -> None:
    """Capture every site kind on every layer and check they fit together as the residual stream should."""
    ids, mask = model.tokenize(texts)
    n = model.n_layers
    sites = [final()] + [f(layer) for layer in range(n) for f in (resid_pre, resid_post, mlp_out, attn_out)]
    acts = capture(model, ids, mask, sites=sites)
    real = mask.bool()
    for site in sites:
        a = acts[site.resolve(model)]
        assert a.shape == (*ids.shape, model.d_model), (site, a.shape)
        assert torch.isfinite(a[real]).all(), site
    for layer in range(n):
        pre, post = acts[resid_pre(layer)], acts[resid_post(layer)]
        delta = acts[attn_out(layer)] + acts[mlp_out(layer)]
        torch.testing.assert_close(post[real], (pre + delta)[real], atol=1e-4, rtol=1e-4, msg=f"layer {layer}")
        if layer + 1 < n:
            torch.testing.assert_close(acts[resid_pre(layer + 1)], post)
    # final() is the normed state that feeds the unembedding
    logits = model.logits(ids, mask)
    unembedded = model.hf.get_output_embeddings()(acts[final()])
    torch.testing.assert_close(unembedded[real], logits[real], atol=1e-4, rtol=1e-4)
    # pooled capture agrees with per-token capture
    last = capture(model, ids, mask, sites=[resid_post(-1)], pool="last")[resid_post(n - 1)]
    torch.testing.assert_close(last, acts[resid_post(n - 1)][:, -1])


@torch.no_grad()
def greedy(model: Model, prompt: str, max_new_tokens: int, add_special_tokens: bool = True) -> tuple[list[int], str]:
    """KV-cached greedy continuation through `model.forward`; stops at an end-of-sequence id."""
    ids, mask = model.tokenize([prompt], add_special_tokens=add_special_tokens)
    past, step, new = None, ids, []
    for _ in range(max_new_tokens):
        out = model.forward(step, mask, past_key_values=past, use_cache=True)
        past = returned_cache(out)
        token = int(out.logits[0, -1].argmax())
        new.append(token)
        if token in model.eos_token_ids:
            break
        step = torch.tensor([[token]], device=ids.device)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    return new, model.decode(new)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def checks() -> SimpleNamespace:
    """The helpers above, handed to test modules as a fixture (no test package imports needed)."""
    return SimpleNamespace(
        hf_reference=hf_reference, logits_diffs=logits_diffs, check_sites=check_sites, greedy=greedy, texts=TEXTS
    )
