"""Log-probabilities of responses given prompts, prompt tokens masked: the basis of preference accuracy.

The boundary between prompt and response is found on tokens, not characters: the prompt and
prompt+response are both tokenized and the response is whatever follows their common prefix,
so a merge across the boundary can never shift which tokens are scored. Too-long sequences
lose prompt tokens from the left; a response is never cut (a response that cannot fit is an
error). Sequences are left-padded and scored in batches of similar length.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from interp.models.model import Model

Split = tuple[list[int], list[int]]  # (prompt ids, response ids)


@dataclass
class ResponseLogprobs:
    """Per response: summed and mean log-probability of its tokens, and how many tokens that is.

    `mean` is NaN for a response with no scored tokens (an empty response).
    `n_prompt_cut` counts prompts that lost tokens to `max_length`.
    """

    sum: Float[Tensor, "n"]
    mean: Float[Tensor, "n"]
    n_tokens: Int[Tensor, "n"]
    n_prompt_cut: int = 0


@dataclass
class PairLogprobs:
    """Log-probabilities of the pairs that were scored, and how many pairs were not.

    `kept` indexes the original pairs that were scored; `n_identical` pairs had equal chosen and
    rejected token sequences after truncation, so they carry no preference and were dropped.
    """

    chosen: ResponseLogprobs
    rejected: ResponseLogprobs
    kept: Int[Tensor, "k"]
    n_identical: int


def split_tokens(tokenizer, prompt: str, response: str) -> Split:
    """(prompt ids, response ids) with prompt ids + response ids == tokens of prompt + response.

    The response starts where the two tokenizations first differ; a token merged across the
    boundary therefore counts as response.
    """
    p = tokenizer(prompt)["input_ids"]
    full = tokenizer(prompt + response)["input_ids"]
    k = 0
    for a, b in zip(p, full):
        if a != b:
            break
        k += 1
    return list(full[:k]), list(full[k:])


def fit(split: Split, max_length: int, where: str = "") -> tuple[Split, bool]:
    """Keep the last prompt tokens so prompt + response fits `max_length`; (new split, was cut)."""
    prompt, response = split
    if len(prompt) + len(response) <= max_length:
        return split, False
    room = max_length - len(response)
    if room < 1:
        raise ValueError(
            f"response{where} has {len(response)} tokens, which with at least one prompt token does not fit "
            f"max_length={max_length}; raise max_length (at most the model's context) or shorten the response"
        )
    return (prompt[-room:], response), True


@torch.inference_mode()
def score_splits(
    model: "Model", splits: Sequence[Split], batch_size: int = 8, progress: bool | None = None
) -> tuple[Float[Tensor, "n"], Int[Tensor, "n"]]:
    """Summed log p(response tokens | preceding tokens) and the number of scored tokens per split.

    With no prompt token at all, the first response token has no context and is not scored.
    """
    n = len(splits)
    sums = torch.zeros(n, dtype=torch.float32)
    counts = torch.zeros(n, dtype=torch.long)
    order = sorted(range(n), key=lambda i: len(splits[i][0]) + len(splits[i][1]))
    show = n >= 64 if progress is None else progress
    for start in tqdm(range(0, n, batch_size), desc="response logprobs", unit="batch", disable=not show, leave=False):
        idx = order[start:start + batch_size]
        ids, mask = model.pad([splits[i][0] + splits[i][1] for i in idx])
        n_resp = torch.tensor([len(splits[i][1]) for i in idx], device=ids.device)
        logits = model.forward(ids, mask).logits
        lp = token_logprobs(logits, ids)
        scored = response_mask(mask, n_resp)
        sums[idx] = (lp * scored).sum(1).to("cpu", torch.float32)
        counts[idx] = scored.sum(1).to("cpu")
    return sums, counts


def token_logprobs(
    logits: Float[Tensor, "batch pos vocab"], ids: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch pos_minus_1"]:
    """log p(ids[:, t+1] | ids[:, :t+1]) for every t, computed in float32."""
    logits = logits[:, :-1].float()
    picked = logits.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return picked - logits.logsumexp(-1)


def response_mask(mask: Int[Tensor, "batch pos"], n_response: Int[Tensor, "batch"]) -> Bool[Tensor, "batch pos_minus_1"]:
    """Which next-token predictions target a response token: the last `n_response` real tokens
    of each left-padded row, excluding a row's very first real token (it has no context)."""
    width = mask.shape[1]
    target = torch.arange(1, width, device=mask.device).unsqueeze(0)  # position of the predicted token
    first_real = width - mask.sum(1, keepdim=True)
    in_response = target >= (width - n_response.unsqueeze(1))
    return in_response & (target > first_real)


def response_logprobs(
    model: "Model",
    prompts: Sequence[str],
    responses: Sequence[str],
    max_length: int | None = None,
    batch_size: int = 8,
    progress: bool | None = None,
) -> ResponseLogprobs:
    """Sum and mean log-probability of each response given its prompt (prompt tokens masked).

    Prompts are used as given (render a chat template first with `model.render` if wanted).
    """
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses; pass one prompt per response")
    limit = int(max_length or model.n_ctx)
    splits, n_cut = [], 0
    for i, (p, r) in enumerate(zip(prompts, responses)):
        s, cut = fit(split_tokens(model.tokenizer, p, r), limit, f" {i}")
        splits.append(s)
        n_cut += cut
    return _result(model, splits, n_cut, batch_size, progress)


def pair_logprobs(
    model: "Model",
    prompts: Sequence[str],
    chosen: Sequence[str],
    rejected: Sequence[str],
    max_length: int | None = None,
    batch_size: int = 8,
    progress: bool | None = None,
) -> PairLogprobs:
    """Response log-probabilities for preference pairs; pairs identical after truncation are dropped and counted."""
    if not len(prompts) == len(chosen) == len(rejected):
        raise ValueError(f"got {len(prompts)} prompts, {len(chosen)} chosen, {len(rejected)} rejected; lengths must match")
    limit = int(max_length or model.n_ctx)
    sc, sr, kept, cuts = [], [], [], [0, 0]
    for i, (p, c, r) in enumerate(zip(prompts, chosen, rejected)):
        (a, cut_a), (b, cut_b) = (fit(split_tokens(model.tokenizer, p, x), limit, f" of pair {i}") for x in (c, r))
        if a[0] + a[1] == b[0] + b[1]:
            continue
        sc.append(a)
        sr.append(b)
        kept.append(i)
        cuts[0] += cut_a
        cuts[1] += cut_b
    both = _result(model, sc + sr, 0, batch_size, progress)
    k = len(kept)
    part = lambda sl, c: ResponseLogprobs(both.sum[sl], both.mean[sl], both.n_tokens[sl], c)  # noqa: E731
    return PairLogprobs(
        chosen=part(slice(0, k), cuts[0]), rejected=part(slice(k, 2 * k), cuts[1]),
        kept=torch.tensor(kept, dtype=torch.long), n_identical=len(prompts) - k,
    )


def _result(model: "Model", splits: list[Split], n_cut: int, batch_size: int, progress: bool | None) -> ResponseLogprobs:
    if not splits:
        empty = torch.zeros(0)
        return ResponseLogprobs(empty, empty.clone(), torch.zeros(0, dtype=torch.long), n_cut)
    sums, counts = score_splits(model, splits, batch_size, progress)
    mean = torch.where(counts > 0, sums / counts.clamp(min=1), torch.full_like(sums, float("nan")))
    return ResponseLogprobs(sums, mean, counts, n_cut)
