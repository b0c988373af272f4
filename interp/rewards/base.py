"""The reward protocol: `reward(prompts, responses) -> Float[Tensor, "batch"]`, one score per response.

Every reward in the project (lexicon, Bradley-Terry head, Hugging Face classifier) has this
shape, so pipelines, metrics and the explorer name a reward by a string and never care which
kind it is (see `interp.rewards.registry.get_reward`).
"""
from __future__ import annotations

from typing import Callable, Iterator, Protocol, Sequence, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

# lists longer than this show a progress bar
PROGRESS_MIN = 256


@runtime_checkable
class Reward(Protocol):
    """Scores responses to prompts: higher is better. `name` is the registry name that rebuilds it."""

    name: str

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> Float[Tensor, "batch"]: ...


def check_lengths(prompts: Sequence[str], responses: Sequence[str]) -> None:
    """Refuse mismatched lists early: a silent zip would score the wrong prompt against a response."""
    if isinstance(prompts, str) or isinstance(responses, str):
        raise TypeError("pass lists of strings (one prompt per response), not a single string")
    if len(prompts) != len(responses):
        raise ValueError(
            f"got {len(prompts)} prompts but {len(responses)} responses; pass one prompt per response "
            "(repeat a shared prompt)"
        )


def join_text(prompt: str, response: str) -> str:
    """The text an encoder sees for (prompt, response).

    Joined as is when the boundary already has whitespace (HH-style "...Assistant:" + " reply",
    chat templates ending in a newline) or either side is empty; otherwise with one space, so
    the last prompt word and the first response word never fuse.
    """
    if not prompt or not response or prompt[-1].isspace() or response[0].isspace():
        return prompt + response
    return prompt + " " + response


def batches(n: int, batch_size: int, desc: str, progress: bool | None = None) -> Iterator[slice]:
    """Slices of `range(n)` in batches, with a tqdm bar when the list is long (or `progress=True`)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    show = n >= PROGRESS_MIN if progress is None else progress
    starts = range(0, n, batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=not show, leave=False):
        yield slice(start, min(start + batch_size, n))


def batched_scores(
    fn: Callable[[list[str], list[str]], Tensor],
    prompts: Sequence[str],
    responses: Sequence[str],
    batch_size: int,
    desc: str,
    progress: bool | None = None,
) -> Float[Tensor, "batch"]:
    """Apply a per-batch scorer over long lists and concatenate as float32 on the CPU."""
    check_lengths(prompts, responses)
    prompts, responses = list(prompts), list(responses)
    if not prompts:
        return torch.zeros(0, dtype=torch.float32)
    out = [
        fn(prompts[s], responses[s]).detach().to("cpu", torch.float32).reshape(-1)
        for s in batches(len(prompts), batch_size, desc, progress)
    ]
    return torch.cat(out)
