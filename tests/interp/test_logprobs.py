"""Response log-probabilities against a direct, unbatched computation on tiny-random-llama."""
import pytest
import torch

from interp.data.types import PreferencePair
from interp.logprobs import pair_logprobs, response_logprobs, split_tokens
from interp.metrics import preference_accuracy
from interp.models import load_model


@pytest.fixture(scope="module")
def model():
    return load_model("tiny-random-llama", device="cpu")


def direct(model, prompt, response, max_length=None):
    """Sum of log p(response bytes) from one unpadded forward of the raw HF model."""
    tok = model.tokenizer
    p_ids = tok(prompt)["input_ids"]
    ids = tok(prompt + response)["input_ids"]
    n_resp = len(ids) - len(p_ids)  # the byte tokenizer never merges across the boundary
    if max_length is not None:
        ids = ids[-max_length:]
    x = torch.tensor([ids])
    with torch.no_grad():
        logits = model.hf(input_ids=x).logits[0].double()
    lp = torch.log_softmax(logits, -1)
    total = sum(lp[t - 1, ids[t]].item() for t in range(len(ids) - n_resp, len(ids)))
    return total, n_resp


PROMPTS = ["Hello there, ", "Q: what is 2+2?\nA:", "x", "A much longer prompt that needs padding in a batch. "]
RESPONSES = ["general Kenobi", " 4", "yz", "ok"]


def test_matches_direct_computation_with_left_padding(model):
    out = response_logprobs(model, PROMPTS, RESPONSES, batch_size=3)  # mixed lengths share batches
    for i, (p, r) in enumerate(zip(PROMPTS, RESPONSES)):
        s, n = direct(model, p, r)
        assert out.n_tokens[i].item() == n == len(r.encode())
        assert out.sum[i].item() == pytest.approx(s, abs=1e-4)
        assert out.mean[i].item() == pytest.approx(s / n, abs=1e-5)
    assert out.sum.dtype == torch.float32 and out.n_prompt_cut == 0


def test_left_truncation_keeps_the_response(model):
    p, r = "0123456789" * 3, "abcdef"
    out = response_logprobs(model, [p], [r], max_length=12)
    s, n = direct(model, p, r, max_length=12)  # last 12 tokens: 6 prompt bytes + 6 response bytes
    assert out.n_tokens.item() == 6 and out.n_prompt_cut == 1
    assert out.sum.item() == pytest.approx(s, abs=1e-4)
    with pytest.raises(ValueError, match="response 0 has 6 tokens.*max_length=6"):
        response_logprobs(model, [p], [r], max_length=6)


def test_empty_response_and_boundary(model):
    out = response_logprobs(model, ["abc"], [""])
    assert out.n_tokens.item() == 0 and out.sum.item() == 0.0 and torch.isnan(out.mean).all()
    p_ids, r_ids = split_tokens(model.tokenizer, "ab", "cd")
    assert p_ids + r_ids == model.tokenizer("abcd")["input_ids"] and len(r_ids) == 2


def test_pairs_identical_after_truncation_are_dropped(model):
    prompts = ["Say: ", "Say: ", "Say: "]
    chosen = ["yes please", "same", "good"]
    rejected = ["no thanks", "same", "bad!"]
    lp = pair_logprobs(model, prompts, chosen, rejected)
    assert lp.n_identical == 1 and lp.kept.tolist() == [0, 2]
    s_c, _ = direct(model, "Say: ", "good")
    assert lp.chosen.sum[1].item() == pytest.approx(s_c, abs=1e-4)


def test_preference_accuracy_against_direct_scores(model):
    pairs = [
        PreferencePair("Q: ", "aaaa", "zq"),
        PreferencePair("Q: ", "hello", "hello!"),
        PreferencePair("Q: ", "same", "same"),
        PreferencePair("The end", ".", " xyz"),
    ]
    acc = preference_accuracy(model, pairs, batch_size=2)
    assert acc.n_identical == 1 and acc.n_scored == 3
    want_mean, want_sum = [], []
    for p in pairs[:2] + pairs[3:]:
        (sc, nc), (sr, nr) = direct(model, p.prompt, p.chosen), direct(model, p.prompt, p.rejected)
        want_mean.append(sc / nc > sr / nr)
        want_sum.append(sc > sr)
    assert acc.accuracy_mean == pytest.approx(sum(want_mean) / 3)
    assert acc.accuracy_sum == pytest.approx(sum(want_sum) / 3)
    assert acc.margin_mean.shape == (3,)
