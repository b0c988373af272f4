"""Sites beyond the residual stream (`interp.sites`: pattern, q/k/v/z, head_out, mlp_post, hook:NAME):
captured values equal transformer-lens's own `run_with_cache` on three architectures (every hook that fires
in a block, by name); head_out(l, h) is the head's term of attn_out; edits at these sites behave the same
KV-cached and recomputed; attaching one keeps the bridge execution path; the grammar's errors explain."""
import pytest
import torch

from interp import AddVector, ApplyFunction, capture, generate, intervene, resid_post
from interp.models.lean_path import LeanUnavailable
from interp.sites import (
    Site, attn_scores, head_out, hook_site, k, mlp_post, mlp_pre, parse_site, pattern, q, v, z,
)
from tests.conftest import cached_model

SPECS = ["tiny-random-llama", "tiny-random-gpt2", "tiny-random-neox"]  # GQA + rotary, fused qkv + Conv1D, parallel
PROMPTS = ["Once upon a time", "hi", "She said hello to the big dog and"]


@pytest.fixture(scope="module", params=SPECS)
def model(request):
    m = cached_model(request.param)
    yield m
    m.execution = "auto"


def unpadded(model, rows=2, width=7):
    """Token ids without padding: run_with_cache does not take position ids, so left padding would move
    rotary positions on its side only."""
    ids = torch.randint(3, model.vocab_size, (rows, width), generator=torch.Generator().manual_seed(0))
    return ids, torch.ones_like(ids)


def test_every_hook_of_a_block_equals_run_with_cache(model):
    """`hook:NAME` for every hook of the middle block that fires (aliases included), plus the named kinds and
    hooks outside the blocks, against the cache transformer-lens fills itself."""
    ids, mask = unpadded(model)
    _, cache = model.bridge.run_with_cache(ids, attention_mask=mask)
    layer = model.n_layers // 2
    names = [n for n in cache.keys() if n.startswith(f"blocks.{layer}.")]
    assert len(names) > 30, names
    outer = [n for n in ("hook_embed", "ln_final.hook_normalized", "unembed.hook_in") if n in cache.keys()]
    sites = {hook_site(n): n for n in names + outer}
    sites[hook_site(f"blocks.{layer - model.n_layers}.attn.hook_pattern")] = f"blocks.{layer}.attn.hook_pattern"
    for kind in (pattern, attn_scores, q, k, v, z):
        sites[kind(layer)] = f"blocks.{layer}.attn.hook_{'attn_scores' if kind is attn_scores else kind.__name__}"
    sites[mlp_pre(layer)] = f"blocks.{layer}.mlp.hook_pre"
    sites[mlp_post(layer)] = f"blocks.{layer}.mlp.hook_post"
    got = capture(model, ids, mask, list(sites))
    assert model.lean.last.startswith("bridge (site "), model.lean.last
    for site, name in sites.items():
        expect = cache[name]
        if expect.shape[0] == 1 and got[site.resolve(model)].shape[0] == 2:  # rotary cos/sin: we pass position ids
            expect = expect.expand(2, *expect.shape[1:])  # per row, run_with_cache one shared row
        torch.testing.assert_close(got[site.resolve(model)], expect, atol=1e-6, rtol=1e-5, msg=lambda m: f"{site}: {m}")
    assert got[q(layer).resolve(model)].shape[-2:] == (model.bridge.cfg.n_heads, model.bridge.cfg.d_head)
    assert got[pattern(layer).resolve(model)].shape == (2, model.bridge.cfg.n_heads, 7, 7)


def test_head_selection_equals_the_cache_slice(model):
    ids, mask = unpadded(model)
    _, cache = model.bridge.run_with_cache(ids, attention_mask=mask)
    layer, head, kv_head = model.n_layers - 1, model.bridge.cfg.n_heads - 2, 1
    sites = [pattern(layer, head), attn_scores(layer, head), q(layer, head), z(-1, head), k(layer, kv_head), v(layer, kv_head)]
    got = capture(model, ids, mask, sites)
    expect = {
        "pattern": cache[f"blocks.{layer}.attn.hook_pattern"][:, head],
        "attn_scores": cache[f"blocks.{layer}.attn.hook_attn_scores"][:, head],
        "q": cache[f"blocks.{layer}.attn.hook_q"][:, :, head],
        "z": cache[f"blocks.{layer}.attn.hook_z"][:, :, head],
        "k": cache[f"blocks.{layer}.attn.hook_k"][:, :, kv_head],
        "v": cache[f"blocks.{layer}.attn.hook_v"][:, :, kv_head],
    }
    for site in sites:
        torch.testing.assert_close(got[site.resolve(model)], expect[site.kind], atol=1e-6, rtol=1e-5, msg=lambda m: f"{site}: {m}")


def test_head_out_is_each_heads_term_of_attn_out(model):
    """Per head against the bridge's own per-head result (its `use_attn_result` switch, on only here), and
    summed over heads plus the output bias, against attn_out."""
    from interp import attn_out

    ids, mask = model.tokenize(PROMPTS)
    layer, n_heads = 1, int(model.bridge.cfg.n_heads)
    sites = [head_out(layer, h) for h in range(n_heads)] + [attn_out(layer)]
    got = capture(model, ids, mask, sites)
    bias = getattr(model.bridge.blocks[layer].attn.o.original_component, "bias", None)
    total = sum(got[head_out(layer, h)] for h in range(n_heads)) + (0 if bias is None else bias)
    torch.testing.assert_close(total, got[attn_out(layer)], atol=1e-5, rtol=1e-5)
    assert float(got[head_out(layer, 0)].norm()) > 0 and not torch.allclose(got[head_out(layer, 0)], got[head_out(layer, 1)])

    ids, mask = unpadded(model)
    got = capture(model, ids, mask, [head_out(layer, h) for h in range(n_heads)])
    model.bridge.set_use_attn_result(True)
    try:
        _, cache = model.bridge.run_with_cache(ids, attention_mask=mask, names_filter=f"blocks.{layer}.attn.hook_result")
    finally:
        model.bridge.set_use_attn_result(False)
    for h in range(n_heads):
        torch.testing.assert_close(got[head_out(layer, h)], cache[f"blocks.{layer}.attn.hook_result"][:, :, h], atol=1e-5, rtol=1e-5,
                                   msg=lambda m: f"head {h}: {m}")


def test_edits_at_hook_sites_change_what_follows(model):
    """An edit to one head's pattern, one head's output or the MLP's hidden units reaches the logits; a
    head_out edit moves attn_out by exactly its change; stacked edits of one head compose in order."""
    from interp import attn_out

    ids, mask = model.tokenize(PROMPTS)
    base = model.logits(ids, mask)
    layer = model.n_layers // 2
    vec = torch.randn(model.d_model, generator=torch.Generator().manual_seed(3))
    before = capture(model, ids, mask, [attn_out(layer), head_out(layer, 1)])
    with intervene(model, AddVector(head_out(layer, 1), vec, scale=0.5), ApplyFunction(head_out(layer, 1), lambda a: 2 * a)):
        after = capture(model, ids, mask, [attn_out(layer), head_out(layer, 1)])
    expect = 2 * (before[head_out(layer, 1)] + 0.5 * vec)
    torch.testing.assert_close(after[head_out(layer, 1)], expect, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(after[attn_out(layer)] - before[attn_out(layer)], expect - before[head_out(layer, 1)], atol=1e-5, rtol=1e-5)
    for iv in (ApplyFunction(pattern(layer, 0), lambda p: 0.5 * p), AddVector(mlp_post(0), torch.ones(model.bridge.cfg.d_mlp))):
        with intervene(model, iv):
            assert not torch.allclose(model.logits(ids, mask), base, atol=1e-4), iv.site
    with pytest.raises(ValueError, match="width 3 but site mlp_post"), intervene(model, AddVector(mlp_post(0), torch.ones(3))):
        model.logits(ids, mask)
    torch.testing.assert_close(model.logits(ids, mask), base)  # every hook came off, also after the error


def test_every_intervention_kind_at_one_head(model):
    """AddVector, ProjectOut, Replace, ApplyFunction and ApplyModule at z(1, 2) (width d_head): the head gets
    exactly the edit, the other heads of the same hook point keep their values."""
    from interp import ApplyModule, ProjectOut, Replace

    ids, mask = model.tokenize(PROMPTS)
    site, whole = z(1, 2), z(1)
    base = capture(model, ids, mask, [whole])[whole]
    h = base[:, :, 2]
    g = torch.Generator().manual_seed(7)
    vec = torch.randn(model.bridge.cfg.d_head, generator=g)
    unit = vec / vec.norm()
    lin = torch.nn.Linear(vec.shape[0], vec.shape[0])
    cases = [
        (AddVector(site, vec, scale=2.0), h + 2 * vec),
        (ProjectOut(site, vec), h - (h @ unit)[..., None] * unit),
        (Replace(site, vec), vec.expand_as(h)),
        (ApplyFunction(site, lambda a: -a), -h),
        (ApplyModule(site, lin, residual=True), h + lin(h).detach()),
    ]
    for iv, expect in cases:
        with torch.no_grad(), intervene(model, iv):
            got = capture(model, ids, mask, [whole])[whole]
        torch.testing.assert_close(got[:, :, 2], expect, atol=1e-5, rtol=1e-5, msg=lambda m: f"{type(iv).__name__}: {m}")
        others = [i for i in range(got.shape[2]) if i != 2]
        torch.testing.assert_close(got[:, :, others], base[:, :, others], msg=lambda m: f"{type(iv).__name__}: {m}")


def step_logits(model, ivs, use_cache, capture_sites=()):
    seen = []

    def record(ids, scores):
        seen.append(scores.clone())
        return scores

    gen = generate(model, PROMPTS, max_new_tokens=5, stop_at_eos=False, processors=[record], progress=False,
                   interventions=ivs, use_cache=use_cache, capture_sites=capture_sites)
    return torch.stack(seen), gen


_PLAIN: dict = {}


def unedited_logits(model):
    if model.spec not in _PLAIN:
        _PLAIN[model.spec] = step_logits(model, [], True)[0]
    return _PLAIN[model.spec]


def toward_self(p, weight=0.2, position_blind=False):
    """Move `weight` of each query's attention onto its own key. Query i of a `[.. query key]` pattern is key
    `key - query + i`: one row over every cached key in a KV-cached step. `position_blind` takes it for key i,
    as a hook that ignored the cache's offset would."""
    n_q, n_k = p.shape[-2], p.shape[-1]
    rows = torch.arange(n_q)
    own = torch.zeros_like(p)
    own[..., rows, rows if position_blind else rows + n_k - n_q] = 1.0
    return (1 - weight) * p + weight * own


def hook_edit(model, where):
    """Edits that do not pick the tokens alone: one head's keys (or values) scaled, so the cache must hold the
    edited keys of earlier positions (a vector added to every key would cancel in the softmax); one head's
    output nudged; one head's attention moved toward the query's own token."""
    layer = model.n_layers // 2
    if where == "k":
        return ApplyFunction(k(layer, 0), lambda a: 3 * a)
    if where == "v":
        return ApplyFunction(v(layer, 0), lambda a: 1.5 * a)
    if where == "head_out":
        return AddVector(head_out(layer, 1), torch.randn(model.d_model, generator=torch.Generator().manual_seed(5)) * 0.05)
    return ApplyFunction(pattern(layer, 0), lambda p: toward_self(p, position_blind=where == "blind"))


def max_err(a, b):
    """Largest logit difference, in units of the tolerance (1e-4 of the logits' spread)."""
    return float((a - b).abs().max()) / (1e-4 * float(b.std()) + 1e-6)


@pytest.mark.parametrize("where", ["k", "v", "head_out", "pattern"])
def test_edit_at_a_hook_site_cached_equals_recomputed(model, where):
    """Every step's logits, KV-cached vs recomputed, under an edit at a hook site; per-step capture of the
    pattern and of head_out agrees too."""
    layer = model.n_layers // 2
    sites = [pattern(layer), head_out(layer, 1)] if where == "pattern" else []
    iv = hook_edit(model, where)
    plain = unedited_logits(model)
    cached, gen_c = step_logits(model, [iv], True, sites)
    full, gen_f = step_logits(model, [iv], False, sites)
    assert gen_c.tokens == gen_f.tokens
    assert max_err(cached, full) <= 1, f"cached vs recomputed: {max_err(cached, full):.3g} x the tolerance"
    assert max_err(plain, full) > 50, "the edit is too small to test anything"
    for site in sites:
        for a, b in zip(gen_c.states[site.resolve(model)], gen_f.states[site.resolve(model)]):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=lambda m: f"{site}: {m}")


def test_the_cache_comparison_catches_a_position_blind_edit(model):
    """The comparison above is sensitive: the same pattern edit, blind to the cached step's key offset,
    differs between cached and recomputed decoding by far more than the tolerance."""
    iv = hook_edit(model, "blind")
    cached, _ = step_logits(model, [iv], True)
    full, _ = step_logits(model, [iv], False)
    assert max_err(cached, full) > 50


def test_generation_pattern_states_are_rows_of_the_full_pattern(model):
    """Step t of a captured pattern is the full sequence's pattern at the row's prompt end + t, over the
    row's own tokens (left padding cut, later keys 0)."""
    layer = 0
    gen = generate(model, PROMPTS, max_new_tokens=3, stop_at_eos=False, progress=False, capture_sites=[pattern(layer)])
    site = pattern(layer).resolve(model)
    for i, prompt_ids in enumerate(gen.prompt_ids):
        seq = torch.tensor([prompt_ids + gen.tokens[i]])
        full = capture(model, seq, None, [site])[site][0]  # [heads query key]
        n = len(prompt_ids)
        steps = gen.states[site][i]  # [steps heads key]
        assert steps.shape == (len(gen.tokens[i]) + 1, model.bridge.cfg.n_heads, seq.shape[1])
        torch.testing.assert_close(steps, full[:, n - 1:].transpose(0, 1), atol=1e-5, rtol=1e-4)


def test_a_hook_site_keeps_the_bridge_path(model):
    """The lean path runs HF modules with residual hooks only: a hook site must pick the bridge (and say so),
    forcing lean must refuse naming the site, and the lean path comes back once it is detached."""
    ids, mask = model.tokenize(PROMPTS)
    model.execution = "auto"
    model.logits(ids, mask)
    assert model.lean.last == "lean"
    for site in (pattern(0), head_out(0, 0), hook_site("blocks.0.ln1.hook_normalized"), mlp_post(-1)):
        with intervene(model, ApplyFunction(site, lambda a: a)):
            model.logits(ids, mask)
            assert model.lean.last == f"bridge (site {site.resolve(model)} is attached (only residual sites run on the HF modules))"
            assert "bridge (site" in model.describe()["execution"]
            model.execution = "lean"
            with pytest.raises(LeanUnavailable, match="site"):
                model.logits(ids, mask)
            model.execution = "auto"
        with intervene(model, ApplyFunction(resid_post(0), lambda a: a)):
            model.logits(ids, mask)
            assert model.lean.last == "lean"


def test_hook_sites_on_stories260k():
    """The real-weights model the suite uses throughout: q/k/v/z with grouped-query heads against its cache."""
    model = cached_model("stories260k")
    ids, mask = unpadded(model, rows=1, width=9)
    _, cache = model.bridge.run_with_cache(ids, attention_mask=mask)
    sites = [q(2), k(2), v(2), z(2), pattern(2), head_out(2, 7)]
    got = capture(model, ids, mask, sites)
    for site in sites[:5]:
        torch.testing.assert_close(got[site], cache[site.hook_name(model)], atol=1e-6, rtol=1e-5)
    assert got[k(2)].shape[-2] == 4 and got[q(2)].shape[-2] == 8  # 4 key-value heads, 8 query heads
    assert got[head_out(2, 7)].shape == (1, 9, model.d_model)


# --- the grammar -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, site", [
    ("resid_post:-1", Site("resid_post", -1)), ("resid_post(-1)", Site("resid_post", -1)), ("final", Site("final")),
    ("final()", Site("final")), ("pattern(3, 5)", pattern(3, 5)), ("pattern:3:5", pattern(3, 5)),
    ("head_out.3.5", head_out(3, 5)), ("head_out( 3 ,5 )", head_out(3, 5)), ("mlp_post(2)", mlp_post(2)),
    ("z(-1)", z(-1)), ("hook:blocks.3.attn.hook_pattern", Site("hook", 3, name="attn.hook_pattern")),
    ("hook:hook_embed", Site("hook", name="hook_embed")), ("hook.blocks.-1.mlp.hook_post", Site("hook", -1, name="mlp.hook_post")),
])
def test_grammar_reads_every_form_and_round_trips(text, site):
    assert parse_site(text) == site
    assert parse_site(str(site)) == site and parse_site(site.key) == site


@pytest.mark.parametrize("text, message", [
    ("patern(3)", "unknown site kind 'patern'; did you mean pattern\\?.*valid forms: .*head_out\\(L, H\\)"),
    ("head_out(3)", "head_out needs a layer and a head"),
    ("resid_post(1, 2)", "takes no head"),
    ("pattern()", "pattern needs a layer"),
    ("resid_post(x)", "cannot parse site 'resid_post\\(x\\)'.*valid forms"),
    ("hook:", "hook: needs one hook name"),
])
def test_grammar_errors_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_site(text)


def test_errors_against_a_model_name_near_hooks_and_bounds():
    model = cached_model("tiny-random-llama")
    with pytest.raises(ValueError, match="no hook 'blocks.1.attn.hook_patern'; near names: blocks.1.attn.hook_pattern"):
        parse_site("hook:blocks.1.attn.hook_patern").resolve(model)
    with pytest.raises(ValueError, match="use_attn_result.*head_out"):
        parse_site("hook:blocks.1.attn.hook_result").resolve(model)
    with pytest.raises(ValueError, match="key-value heads run 0..1"):
        k(0, 2).resolve(model)  # 4 query heads, 2 key-value heads
    assert head_out(-1, -1).resolve(model) == head_out(3, 3)
    with pytest.raises(ValueError, match="layers run 0..3"):
        parse_site("hook:blocks.4.attn.hook_z").resolve(model)
