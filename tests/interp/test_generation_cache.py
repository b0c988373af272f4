"""KV-cached generation equals recomputation and a batch equals its rows alone, compared at the logits of
every decoding step, on every tiny architecture and on real weights (stories260k; SmolLM2 in its own
tests). Both plain and under an intervention small enough not to dominate the output: a large steering
vector once hid a broken cache, because it decided every token by itself."""
import pytest
import torch

from interp import AddVector, generate, resid_post
from tests.interp.arch_zoo import REGISTERED, extra_archs, load_spec

SPECS = ["stories260k", *REGISTERED, *(f"local:{a}" for a in extra_archs())]
PROMPTS = ["Once upon a time", "The cat", "She said hello to the big dog and"]
STEPS = 8


@pytest.fixture(scope="module", params=SPECS)
def model(request, tmp_path_factory):
    return load_spec(request.param, tmp_path_factory)


def step_logits(model, prompts, **kw) -> tuple[torch.Tensor, list[list[int]]]:
    """Generate greedily and record the logits each step saw: `[step batch vocab]`, plus the tokens."""
    seen = []

    def record(ids, scores):
        seen.append(scores.clone())
        return scores

    out = generate(model, prompts, max_new_tokens=STEPS, stop_at_eos=False, processors=[record], progress=False, **kw)
    return torch.stack(seen), out.tokens


def small_nudge(model) -> AddVector:
    """A steering vector at 5% of the middle layer's typical residual norm: it shifts logits a little
    but cannot choose the tokens by itself."""
    from interp import capture

    site = resid_post(model.n_layers // 2)
    ids, mask = model.tokenize(PROMPTS)
    norm = capture(model, ids, mask, [site])[site.resolve(model)][mask.bool()].norm(dim=-1).mean()
    direction = torch.randn(model.d_model, generator=torch.Generator().manual_seed(0))
    return AddVector(site, direction / direction.norm() * 0.05 * float(norm))


def assert_close_logits(a, b, what):
    spread = float(b.std())
    err = float((a - b).abs().max())
    assert err <= 1e-4 * spread + 1e-6, f"{what}: max logit difference {err:.3g} (logits' spread {spread:.3g})"


def check_cached_equals_recomputed(model, prompts, nudged: bool) -> torch.Tensor:
    """Every step's logits, KV-cached vs recomputed, with or without a small nudge; returns the cached ones."""
    ivs = [small_nudge(model)] if nudged else []
    cached, cached_tokens = step_logits(model, prompts, use_cache=True, interventions=ivs)
    full, full_tokens = step_logits(model, prompts, use_cache=False, interventions=ivs)
    assert cached_tokens == full_tokens
    assert_close_logits(cached, full, "cached vs recomputed")
    return cached


def check_batch_equals_alone(model, prompts, nudged: bool, rows: list[int]) -> None:
    """The chosen rows' logits in a batch of `prompts` equal each row generated alone."""
    ivs = [small_nudge(model)] if nudged else []
    batch, batch_tokens = step_logits(model, prompts, interventions=ivs)
    for i in rows:
        alone, alone_tokens = step_logits(model, [prompts[i]], interventions=ivs)
        assert alone_tokens[0] == batch_tokens[i], prompts[i]
        assert_close_logits(batch[:, i], alone[:, 0], f"row {i} in a batch vs alone")


@pytest.mark.parametrize("nudged", [False, True], ids=["plain", "small-intervention"])
def test_cached_logits_equal_recomputation(model, nudged):
    cached = check_cached_equals_recomputed(model, PROMPTS, nudged)
    if nudged:  # the nudge is felt, so the comparison saw an intervention at work
        plain, _ = step_logits(model, PROMPTS)
        assert float((plain[0] - cached[0]).abs().max()) > 100 * 1e-4 * float(plain.std())


@pytest.mark.parametrize("nudged", [False, True], ids=["plain", "small-intervention"])
def test_batch_logits_equal_each_row_alone(model, nudged):
    check_batch_equals_alone(model, PROMPTS, nudged, rows=list(range(len(PROMPTS))))
