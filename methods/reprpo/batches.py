"""Training batches of preference pairs: tokens, truncation, and the masks that keep the prompt out.

Each pair becomes two sequences, prompt+chosen and prompt+rejected. The prompt/response boundary
is found on tokens (`interp.logprobs.split_tokens`), so evaluation and training score the same
tokens. Truncation keeps the last `max_prompt_length` prompt tokens and then the first response
tokens that fit `max_length`. A pair whose two sequences become identical (the responses differ
only after the cut), or whose response is empty, carries no preference: it is dropped and counted,
never trained on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from interp.logprobs import response_mask, split_tokens

if TYPE_CHECKING:
    from interp.data.types import PreferencePair
    from interp.models.model import Model

Seq = tuple[list[int], list[int]]  # (prompt ids, response ids)


@dataclass
class TokenPair:
    chosen: Seq
    rejected: Seq
    index: int  # position in the list given to tokenize_pairs


@dataclass
class TokenizedPairs:
    pairs: list[TokenPair]
    n_identical: int  # dropped: chosen == rejected after truncation
    n_empty: int  # dropped: a response with no tokens
    n_cut: int  # kept pairs with at least one side truncated

    def summary(self) -> dict[str, int]:
        return {"n_pairs": len(self.pairs), "n_dropped_identical": self.n_identical,
                "n_dropped_empty": self.n_empty, "n_truncated": self.n_cut}


@dataclass
class PairBatch:
    """n pairs as 2n left-padded rows: chosen rows first, then rejected rows in the same order."""

    input_ids: Int[Tensor, "rows pos"]
    attention_mask: Int[Tensor, "rows pos"]
    n_response: Int[Tensor, "rows"]
    indices: list[int]

    @property
    def n_pairs(self) -> int:
        return len(self.indices)

    @property
    def target_mask(self) -> Bool[Tensor, "rows pos_minus_1"]:
        """Which next-token predictions score a response token (prompt and padding masked)."""
        return response_mask(self.attention_mask, self.n_response)

    @property
    def state_mask(self) -> Bool[Tensor, "rows pos"]:
        """Positions holding a response token: the states the hidden-state losses pool over."""
        width = self.input_ids.shape[1]
        pos = torch.arange(width, device=self.input_ids.device).unsqueeze(0)
        return pos >= (width - self.n_response.unsqueeze(1))

    def to(self, device: torch.device | str) -> "PairBatch":
        return PairBatch(self.input_ids.to(device), self.attention_mask.to(device), self.n_response.to(device), self.indices)


def truncate(seq: Seq, max_length: int, max_prompt_length: int) -> tuple[Seq, bool]:
    """Keep the prompt's last `max_prompt_length` tokens, then the response's first tokens that fit."""
    prompt, response = seq
    new_prompt = prompt[-max_prompt_length:] if len(prompt) > max_prompt_length else prompt
    room = max_length - len(new_prompt)
    new_response = response[:room]
    cut = len(new_prompt) < len(prompt) or len(new_response) < len(response)
    return (new_prompt, new_response), cut


def tokenize_pairs(
    tokenizer,
    pairs: Sequence["PreferencePair"],
    max_length: int,
    max_prompt_length: int,
    eos_token_id: int | None = None,
) -> TokenizedPairs:
    """Token sequences of every pair, truncated; identical or empty pairs dropped and counted."""
    if max_prompt_length >= max_length:
        raise ValueError(f"max_prompt_length ({max_prompt_length}) must be below max_length ({max_length})")
    kept, n_identical, n_empty, n_cut = [], 0, 0, 0
    for i, p in enumerate(pairs):
        sides = []
        cut_any = False
        for response in (p.chosen, p.rejected):
            prompt_ids, resp_ids = split_tokens(tokenizer, p.prompt, response)
            if eos_token_id is not None and resp_ids and resp_ids[-1] != eos_token_id:
                resp_ids = resp_ids + [int(eos_token_id)]
            seq, cut = truncate((prompt_ids, resp_ids), max_length, max_prompt_length)
            sides.append(seq)
            cut_any |= cut
        (c, r) = sides
        if not c[1] or not r[1] or not c[0] or not r[0]:
            n_empty += 1
            continue
        if c[0] + c[1] == r[0] + r[1]:
            n_identical += 1
            continue
        n_cut += cut_any
        kept.append(TokenPair(chosen=c, rejected=r, index=i))
    return TokenizedPairs(kept, n_identical, n_empty, n_cut)


def collate(model: "Model", pairs: Sequence[TokenPair]) -> PairBatch:
    """Left-pad the chosen then the rejected sequences of `pairs` into one batch on the model's device."""
    if not pairs:
        raise ValueError("cannot build a batch from no pairs")
    seqs = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    ids, mask = model.pad([a + b for a, b in seqs])
    n_resp = torch.tensor([len(b) for _, b in seqs], dtype=torch.long, device=ids.device)
    return PairBatch(ids, mask, n_resp, [p.index for p in pairs])
