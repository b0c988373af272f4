import torch

from interp.data.types import PreferencePair
from interp.logprobs import pair_logprobs, split_tokens, token_logprobs
from methods.reprpo.batches import collate, tokenize_pairs


def test_pairs_made_identical_by_truncation_are_dropped_and_counted(stories_model):
    tok = stories_model.tokenizer
    same_start = "Once upon a time there was a little girl named Lily who loved to play"
    pairs = [
        PreferencePair("Tell me a story.", same_start + " in the park.", same_start + " with her dog."),  # differ late
        PreferencePair("Tell me a story.", "Tim ran.", "Sue sat."),  # differ at once
        PreferencePair("Tell me a story.", "Same.", "Same."),  # identical before any cut
    ]
    n_prompt = len(tok("Tell me a story.")["input_ids"])
    short = tokenize_pairs(tok, pairs, max_length=n_prompt + 6, max_prompt_length=n_prompt)
    assert short.n_identical == 2 and [p.index for p in short.pairs] == [1]
    assert short.summary()["n_dropped_identical"] == 2
    long = tokenize_pairs(tok, pairs, max_length=200, max_prompt_length=100)
    assert long.n_identical == 1 and [p.index for p in long.pairs] == [0, 1] and long.n_cut == 0


def test_truncation_keeps_prompt_end_and_response_start(stories_model):
    tok = stories_model.tokenizer
    p = PreferencePair("word " * 50, "The cat sat on the mat and slept all day long.", "A dog barked.")
    out = tokenize_pairs(tok, [p], max_length=30, max_prompt_length=20, eos_token_id=2)
    (prompt, resp) = out.pairs[0].chosen
    full_prompt = split_tokens(tok, p.prompt, p.chosen)[0]
    assert len(prompt) == 20 and prompt == full_prompt[-20:]
    assert len(prompt) + len(resp) == 30 and out.n_cut == 1
    assert out.pairs[0].rejected[1][-1] == 2  # eos appended to the untruncated response


def test_masks_cover_exactly_the_response_tokens(stories_model):
    tok = stories_model.tokenizer
    pairs = [PreferencePair("Lily went to the park.", " She saw a big dog.", " It rained."),
             PreferencePair("Tom had a red ball and a small blue car.", " He played.", " He cried all day.")]
    data = tokenize_pairs(tok, pairs, max_length=200, max_prompt_length=100)
    batch = collate(stories_model, data.pairs)
    lens = [len(p.chosen[1]) for p in data.pairs] + [len(p.rejected[1]) for p in data.pairs]
    assert batch.target_mask.sum(1).tolist() == lens
    assert batch.state_mask.sum(1).tolist() == lens
    assert (batch.attention_mask.bool() | ~batch.state_mask).all()  # never a padding position


def test_training_logprobs_match_the_evaluation_scorer(stories_model):
    """Training (our batches) and evaluation (interp.logprobs) score the same tokens: equal sums."""
    tok = stories_model.tokenizer
    pairs = [PreferencePair("Lily went to the park.", " She saw a big dog.", " It rained."),
             PreferencePair("Once upon a time,", " there was a cat.", " a boy ran home.")]
    data = tokenize_pairs(tok, pairs, max_length=200, max_prompt_length=100)
    batch = collate(stories_model, data.pairs)
    with torch.no_grad():
        lp = token_logprobs(stories_model.forward(batch.input_ids, batch.attention_mask).logits, batch.input_ids)
    ours = (lp * batch.target_mask).sum(1)
    ref = pair_logprobs(stories_model, [p.prompt for p in pairs], [p.chosen for p in pairs], [p.rejected for p in pairs])
    assert torch.allclose(ours, torch.cat([ref.chosen.sum, ref.rejected.sum]), atol=1e-4)
