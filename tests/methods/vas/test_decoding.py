"""Batched candidate scoring equals one forward per candidate; beta = 0 is the base decoder; composition adds."""
import pytest
import torch

from interp import generate
from methods.vas.decoding import Guide, VASProcessor, candidate_values, prefill, q_values_loop
from tests.methods.vas.conftest import PROMPTS, random_value_model


def _left_padded(base):
    ids, mask = base.tokenize(PROMPTS)
    assert (mask == 0).any() and len(set(mask.sum(1).tolist())) == len(PROMPTS), "prompts must differ in length"
    return ids, mask


def test_batched_q_equals_per_candidate_q_on_left_padded_batch(stories_base, stories_value):
    ids, mask = _left_padded(stories_base)
    top = stories_base.logits(ids, mask)[:, -1].topk(10).indices
    batched = candidate_values(stories_value, prefill(stories_value, ids, mask), mask, top)
    alone = q_values_loop(stories_value, ids, mask, top, use_cache=False)  # unpadded, no cache: ground truth
    cached = q_values_loop(stories_value, ids, mask, top, use_cache=True)  # the original's way
    assert batched.std() > 0.05, "random values should differ across candidates"
    torch.testing.assert_close(batched, alone, atol=1e-4, rtol=0)
    torch.testing.assert_close(cached, alone, atol=1e-4, rtol=0)


def test_smaller_backbone_with_same_tokenizer_and_another_architecture():
    from tests.conftest import cached_model

    base = cached_model("tiny-random-llama")
    value = random_value_model("tiny-random-gpt2", seed=3)  # same byte tokenizer, other architecture
    ids, mask = base.tokenize(PROMPTS)
    top = base.logits(ids, mask)[:, -1].topk(5).indices
    batched = candidate_values(value, prefill(value, ids, mask), mask, top)
    torch.testing.assert_close(batched, q_values_loop(value, ids, mask, top, use_cache=False), atol=1e-4, rtol=0)


def test_cache_advanced_through_generation_gives_per_candidate_q(stories_base, stories_value):
    proc = VASProcessor(stories_base, Guide(stories_value, 3.0), top_k=4, trace=True)
    generate(stories_base, PROMPTS, processors=[proc], max_new_tokens=6, progress=False)
    assert len(proc.trace) == 6
    for ids, mask, top, (q,) in proc.trace[::2]:
        torch.testing.assert_close(q, q_values_loop(stories_value, ids, mask, top, use_cache=False), atol=1e-4, rtol=0)


@pytest.mark.parametrize("sample", [False, True])
def test_beta_zero_is_exactly_base_decoding(stories_base, stories_value, sample):
    kw = dict(max_new_tokens=12, do_sample=sample, seed=4, progress=False)
    plain = generate(stories_base, PROMPTS, **kw).tokens
    proc = VASProcessor(stories_base, Guide(stories_value, 0.0), top_k=10)
    guided = generate(stories_base, PROMPTS, processors=[proc], **kw).tokens
    assert guided == plain
    assert proc.stats["steps"] == 12  # the value model did run at every step
    steered = generate(stories_base, PROMPTS, processors=[VASProcessor(stories_base, Guide(stories_value, 50.0))], **kw).tokens
    assert steered != plain


def test_drop_others_keeps_only_top_k(stories_base, stories_value):
    proc = VASProcessor(stories_base, Guide(stories_value, 1.0), top_k=3, drop_others=True, trace=True)
    out = generate(stories_base, PROMPTS, processors=[proc], max_new_tokens=8, do_sample=True, seed=0, progress=False)
    for step, (_, _, top, _) in enumerate(proc.trace):
        for row, toks in enumerate(out.tokens):
            if step < len(toks):
                assert toks[step] in top[row].tolist()


def test_two_estimators_add(stories_base, stories_value, stories_value_2):
    ids, mask = _left_padded(stories_base)
    scores = stories_base.logits(ids, mask)[:, -1].float()

    def run(guides):
        proc = VASProcessor(stories_base, guides, top_k=5)
        return proc(ids, scores.clone()) - scores

    both = run([Guide(stories_value, 2.0), Guide(stories_value_2, -1.5)])
    one, two = run([Guide(stories_value, 2.0)]), run([Guide(stories_value_2, -1.5)])
    torch.testing.assert_close(both, one + two, atol=1e-5, rtol=0)
    same = run([Guide(stories_value, 1.0), Guide(stories_value, 1.0)])
    torch.testing.assert_close(same, run([Guide(stories_value, 2.0)]), atol=1e-5, rtol=0)
    # each row's bonus sums to zero over its top-k (Q minus its mean) and is zero elsewhere
    assert torch.allclose(both.sum(1), torch.zeros(len(PROMPTS)), atol=1e-4)
    assert ((both != 0).sum(1) <= 5).all()


def test_tokenizer_mismatch_is_a_clear_error(stories_value):
    from tests.conftest import cached_model

    with pytest.raises(ValueError, match="tokenizer"):
        VASProcessor(cached_model("tiny-random-llama"), Guide(stories_value, 1.0))


def test_same_size_tokenizer_with_other_ids_is_refused(stories_base, stories_value):
    from types import SimpleNamespace

    class Swapped:
        """The value model's tokenizer with two tokens' ids exchanged."""

        def __init__(self, tok):
            vocab = dict(tok.get_vocab())
            a, b = sorted(vocab, key=vocab.get)[10:12]
            vocab[a], vocab[b] = vocab[b], vocab[a]
            self.vocab = vocab

        def __len__(self):
            return len(self.vocab)

        def get_vocab(self):
            return self.vocab

    fake = SimpleNamespace(tokenizer=Swapped(stories_value.tokenizer), spec="swapped", vocab_size=len(stories_value.tokenizer))
    with pytest.raises(ValueError, match="token ids differ"):
        stories_value.check_tokenizer(fake)
