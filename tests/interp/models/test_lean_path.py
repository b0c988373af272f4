"""The lean execution path (HF modules, site hooks only) equals the bridge path, on every test architecture:
logits, every captured site, order-sensitive stacks of edits at every site kind, KV-cached decoding and
gradients. And the choice between the paths: anything finer than a site keeps the bridge."""
import pytest
import torch

from interp import AddVector, ApplyFunction, attn_out, capture, final, generate, intervene, mlp_out, resid_post, resid_pre
from interp.models.lean_path import LeanUnavailable
from tests.interp.arch_zoo import REGISTERED, extra_archs, load_spec

SPECS = ["stories260k", *REGISTERED, *(f"local:{a}" for a in extra_archs())]
PROMPTS = ["Once upon a time", "hi", "She said hello to the big dog and"]


@pytest.fixture(scope="module", params=SPECS)
def model(request, tmp_path_factory):
    m = load_spec(request.param, tmp_path_factory)
    yield m
    m.execution = "auto"


def every_site(model):
    n = model.n_layers
    return [s for l in range(n) for s in (resid_pre(l), attn_out(l), mlp_out(l), resid_post(l))] + [final()]


def edits(model):
    """Two edits on each of four site kinds; the pair on mlp_out is order-sensitive (add, then square)."""
    g = torch.Generator().manual_seed(1)
    vec = lambda: torch.randn(model.d_model, generator=g) * 0.3  # noqa: E731
    mid = model.n_layers // 2
    return [
        AddVector(resid_pre(0), vec()),
        AddVector(attn_out(mid), vec()),
        AddVector(mlp_out(0), vec()),
        ApplyFunction(mlp_out(0), lambda a: a * a.abs().clamp(max=2.0)),
        ApplyFunction(resid_post(mid), lambda a: a - 0.1 * a.mean(-1, keepdim=True)),
    ]


def run(model, mode):
    model.execution = mode
    ids, mask = model.tokenize(PROMPTS)
    with intervene(model, *edits(model)):
        states = capture(model, ids, mask, every_site(model))
        logits = model.logits(ids, mask)
    assert model.lean.last.startswith(mode), model.lean.last
    return states, logits, mask.bool()


def test_logits_and_every_site_equal_under_edits(model):
    bridge_states, bridge_logits, real = run(model, "bridge")
    lean_states, lean_logits, _ = run(model, "lean")
    torch.testing.assert_close(lean_logits[real], bridge_logits[real], atol=1e-5, rtol=1e-5)
    for site, value in bridge_states.items():
        torch.testing.assert_close(lean_states[site][real], value[real], atol=1e-5, rtol=1e-5, msg=lambda m: f"{site}: {m}")
    # the edits matter: without them the lean logits differ, so equality above is not vacuous
    ids, mask = model.tokenize(PROMPTS)
    assert not torch.allclose(model.logits(ids, mask)[real], lean_logits[real], atol=1e-4)


def test_cached_decoding_equal(model):
    """Greedy KV-cached generation with per-step capture and a mid-layer edit: same tokens, same states."""
    site = resid_post(model.n_layers // 2)
    out = {}
    for mode in ("bridge", "lean"):
        model.execution = mode
        seen = []

        def record(ids, scores):
            seen.append(scores.clone())
            return scores

        gen = generate(model, PROMPTS, max_new_tokens=6, stop_at_eos=False, processors=[record], progress=False,
                       interventions=edits(model)[1:2], capture_sites=[site])
        out[mode] = (gen.tokens, torch.stack(seen), gen.states[site.resolve(model)])
    assert out["lean"][0] == out["bridge"][0]
    torch.testing.assert_close(out["lean"][1], out["bridge"][1], atol=1e-4, rtol=1e-5)
    for a, b in zip(out["lean"][2], out["bridge"][2]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_gradients_equal(model):
    """Training reads sites with autograd on (ReprPO): gradients agree across the paths, for the parameters
    both paths use and for a leaf added at the first layer's input (which every later module's backward
    reaches). GPT-2-style fused qkv: the bridge computes attention from its own q/k/v views of c_attn, so
    those gradients land on differently named parameters sharing the storage and are covered by the leaf."""
    grads, leaf_grads = {}, {}
    ids, mask = model.tokenize(PROMPTS)
    site = resid_post(model.n_layers - 1)
    for mode in ("bridge", "lean"):
        model.execution = mode
        model.hf.zero_grad(set_to_none=True)
        leaf = torch.zeros(model.d_model, requires_grad=True)
        with torch.enable_grad(), intervene(model, ApplyFunction(resid_pre(0), lambda a: a + leaf)):
            states = capture(model, ids, mask, [site], grad=True)
            (states[site.resolve(model)][mask.bool()].pow(2).mean() + model.logits(ids, mask).logsumexp(-1).mean()).backward()
        grads[mode] = {n: p.grad.clone() for n, p in model.hf.named_parameters() if p.grad is not None}
        leaf_grads[mode] = leaf.grad.clone()
        model.hf.zero_grad(set_to_none=True)
    torch.testing.assert_close(leaf_grads["lean"], leaf_grads["bridge"], atol=1e-5, rtol=1e-4)
    assert float(leaf_grads["lean"].abs().max()) > 0
    shared = grads["lean"].keys() & grads["bridge"].keys()
    assert len(shared) >= len(grads["bridge"]) // 2, sorted(grads["bridge"].keys() - shared)
    for name in shared:
        torch.testing.assert_close(grads["lean"][name], grads["bridge"][name], atol=1e-5, rtol=1e-4, msg=lambda m: f"{name}: {m}")


def test_tree_restored_after_an_error(model):
    model.execution = "lean"
    swaps = model.lean.swaps()

    def boom(acts):
        raise RuntimeError("boom")

    ids, mask = model.tokenize(PROMPTS)
    with pytest.raises(RuntimeError, match="boom"), intervene(model, ApplyFunction(resid_post(0), boom)):
        model.logits(ids, mask)
    assert all(s.parent._modules[s.name] is s.wrapper for s in swaps)


def test_a_transformer_lens_hook_keeps_the_bridge(model):
    """A hook finer than a site (here on the attention pattern) must fire: auto takes the bridge, lean refuses."""
    name = "blocks.0.attn.hook_pattern"
    if name not in model.bridge.hook_dict:
        pytest.skip(f"{name} not on this architecture")
    fired = []
    ids, mask = model.tokenize(PROMPTS)
    model.execution = "auto"
    with model.bridge.hooks(fwd_hooks=[(name, lambda acts, hook: fired.append(1))]):
        model.logits(ids, mask)
        assert fired and model.lean.last.startswith("bridge (a transformer-lens hook")
        model.execution = "lean"
        with pytest.raises(LeanUnavailable, match="transformer-lens hook"):
            model.logits(ids, mask)
    model.execution = "auto"
    model.logits(ids, mask)
    assert model.lean.last == "lean"
    assert "lean" in model.describe()["execution"]


def test_a_raw_hook_on_a_bridge_module_keeps_the_bridge(model):
    fired = []
    hp = model.bridge.hook_dict["blocks.0.hook_out"]
    handle = hp.register_forward_pre_hook(lambda mod, args: fired.append(1))
    try:
        model.execution = "auto"
        ids, mask = model.tokenize(PROMPTS)
        model.logits(ids, mask)
    finally:
        handle.remove()
    assert fired and model.lean.last.startswith("bridge")
