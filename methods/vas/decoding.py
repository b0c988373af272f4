"""VAS decoding: a logits processor for `interp.generate` that adds value estimates to the top-k logits.

At each step, with the base model's logits l and its top-k tokens a_1..a_k per row:

    l[a_j] += sum_i beta_i * (Q_i(s, a_j) - mean_j' Q_i(s, a_j')),    Q_i(s, a) = V_i(s + a)

(one term per value estimator: composition). Tokens outside the top-k keep their logits, or are
dropped with `drop_others=True`. With every beta 0 the logits are returned unchanged, so decoding
equals the base model's exactly.

Cost: each value model keeps its own KV cache of the sequence so far. Per step it runs
  1. one forward of the token chosen at the previous step (read from the new input_ids), which
     extends its cache, and
  2. ONE forward of all b*k candidates: its cache is repeated k times along the batch and the
     candidates are scored as one new position each,
with the attention mask and position ids of the left-padded batch (`StepContext` from
`set_context`). The original implementation instead ran one forward per candidate for a
single unpadded sequence (`q_values_loop` below reproduces that, for tests and benchmarks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from methods.vas.defaults import DEFAULT_TOP_K
from methods.vas.value_model import ValueModel


@dataclass
class Guide:
    """One value estimator and its weight beta (chosen at generation time)."""

    value: ValueModel
    beta: float
    name: str = ""


def _layers(cache: Any) -> list[tuple[Tensor, Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def repeat_cache(cache: Any, k: int) -> Any:
    """A new DynamicCache whose every row is repeated k times (row i -> rows i*k .. i*k+k-1); `cache` is untouched."""
    from transformers import DynamicCache

    return DynamicCache([(key.repeat_interleave(k, 0), val.repeat_interleave(k, 0)) for key, val in _layers(cache)])


@torch.no_grad()
def prefill(value: ValueModel, ids: Int[Tensor, "batch pos"], mask: Int[Tensor, "batch pos"]) -> Any:
    """The value model's KV cache of the whole (left-padded) prefix."""
    return value(ids, mask, use_cache=True).past_key_values


@torch.no_grad()
def candidate_values(
    value: ValueModel, cache: Any, mask: Int[Tensor, "batch pos"], candidates: Int[Tensor, "batch k"]
) -> Float[Tensor, "batch k"]:
    """Q(s, a) = V(s + a) for k candidate tokens per row, in ONE forward reusing the prefix cache.

    `cache` covers the prefix whose mask is `mask`; the candidates sit at the next position of
    each row (its count of real tokens) and attend to that row's prefix only.
    """
    b, k = candidates.shape
    rep = repeat_cache(cache, k)
    mask_k = torch.cat([mask.repeat_interleave(k, 0), mask.new_ones(b * k, 1)], 1)
    pos = mask.sum(-1).repeat_interleave(k)[:, None]
    out = value(candidates.reshape(b * k, 1), mask_k, position_ids=pos, past_key_values=rep, use_cache=True)
    return out.values[:, -1].view(b, k)


@torch.no_grad()
def row_prefills(value: ValueModel, ids: Int[Tensor, "batch pos"], mask: Int[Tensor, "batch pos"]) -> list[Any]:
    """One cache per row of its UNPADDED prefix (how the original handled one sequence at a time)."""
    caches = []
    for i in range(ids.shape[0]):
        seq = ids[i][mask[i].bool()][None]
        caches.append(prefill(value, seq, torch.ones_like(seq)))
    return caches


@torch.no_grad()
def q_values_loop_cached(
    value: ValueModel, caches: Sequence[Any], candidates: Int[Tensor, "batch k"]
) -> Float[Tensor, "batch k"]:
    """One forward per (row, candidate), each reusing that row's prefix cache: the original's way."""
    from transformers import DynamicCache

    b, k = candidates.shape
    out = torch.zeros(b, k, device=candidates.device)
    for i, cache in enumerate(caches):
        n = cache.get_seq_length()
        ones = candidates.new_ones(1, n + 1)
        for j in range(k):
            fresh = DynamicCache(_layers(cache))  # update() concatenates: the prefix tensors stay intact
            out[i, j] = value(candidates[i, j].view(1, 1), ones, past_key_values=fresh, use_cache=True).values[0, -1]
    return out


@torch.no_grad()
def q_values_loop(
    value: ValueModel,
    ids: Int[Tensor, "batch pos"],
    mask: Int[Tensor, "batch pos"],
    candidates: Int[Tensor, "batch k"],
    use_cache: bool = True,
) -> Float[Tensor, "batch k"]:
    """Reference: each row unpadded on its own, one forward per candidate.

    `use_cache=True` reuses the row's prefix cache for each candidate forward (as the original);
    `False` recomputes prefix + candidate from scratch (no cache, no padding: the ground truth).
    """
    if use_cache:
        return q_values_loop_cached(value, row_prefills(value, ids, mask), candidates)
    b, k = candidates.shape
    out = torch.zeros(b, k, device=candidates.device)
    for i in range(b):
        seq = ids[i][mask[i].bool()][None]
        for j in range(k):
            full = torch.cat([seq, candidates[i, j].view(1, 1)], 1)
            out[i, j] = value(full, torch.ones_like(full)).values[0, -1]
    return out


@dataclass
class _State:
    ids: Tensor | None = None
    caches: list[Any] = field(default_factory=list)


class VASProcessor:
    """Logits processor adding sum_i beta_i (Q_i - mean Q_i) to the base model's top-k logits.

    Use with `interp.generate(model, prompts, processors=[VASProcessor(model, guides)])`. It needs
    the step's attention mask (given by `generate` through `set_context`); called without one, it
    assumes an unpadded batch.
    """

    def __init__(
        self, base: Any, guides: Sequence[Guide] | Guide, top_k: int = DEFAULT_TOP_K, drop_others: bool = False, trace: bool = False
    ):
        self.guides = [guides] if isinstance(guides, Guide) else list(guides)
        if not self.guides:
            raise ValueError("VAS needs at least one value model (Guide(value, beta))")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        for g in self.guides:
            g.value.check_tokenizer(base, what=f"value model {g.name or g.value.cfg.backbone!r}")
            g.value.eval()
        self.top_k, self.drop_others = top_k, drop_others
        self._ctx = None
        self._state = _State()
        self.stats = {"steps": 0, "mean_abs_bonus": 0.0}
        # with trace=True: per step (input_ids, mask, top-k ids, [Q of each guide]) for inspection and tests
        self.trace: list[tuple[Tensor, Tensor, Tensor, list[Tensor]]] | None = [] if trace else None

    def set_context(self, ctx: Any) -> None:
        self._ctx = ctx

    def reset(self) -> None:
        self._state = _State()

    def _caches(self, ids: Tensor, mask: Tensor) -> list[Any]:
        """Each value model's cache of `ids`: extended by one token when `ids` continues the last call, else rebuilt."""
        st = self._state
        fresh = self._ctx is not None and self._ctx.step == 0
        continues = (
            not fresh and st.ids is not None and ids.shape[0] == st.ids.shape[0]
            and ids.shape[1] == st.ids.shape[1] + 1 and torch.equal(ids[:, :-1], st.ids)
        )
        if continues:
            st.caches = [g.value(ids[:, -1:], mask, past_key_values=c, use_cache=True).past_key_values
                         for g, c in zip(self.guides, st.caches)]
        else:
            st.caches = [prefill(g.value, ids, mask) for g in self.guides]
        st.ids = ids
        return st.caches

    @torch.no_grad()
    def __call__(self, input_ids: Int[Tensor, "batch pos"], scores: Float[Tensor, "batch vocab"]) -> Float[Tensor, "batch vocab"]:
        mask = self._ctx.attention_mask if self._ctx is not None else torch.ones_like(input_ids)
        if mask.shape != input_ids.shape:
            raise ValueError(f"attention mask {tuple(mask.shape)} does not match input_ids {tuple(input_ids.shape)}")
        caches = self._caches(input_ids, mask)
        top = scores.topk(min(self.top_k, scores.shape[-1]), dim=-1).indices
        bonus = torch.zeros(top.shape, dtype=scores.dtype, device=scores.device)
        qs = []
        for g, cache in zip(self.guides, caches):
            q = candidate_values(g.value, cache, mask, top).to(scores.dtype)
            bonus = bonus + g.beta * (q - q.mean(-1, keepdim=True))
            qs.append(q)
        if self.trace is not None:
            self.trace.append((input_ids.clone(), mask.clone(), top, qs))
        out = torch.full_like(scores, float("-inf")) if self.drop_others else scores.clone()
        out.scatter_(1, top, scores.gather(1, top) + bonus)
        n = self.stats["steps"]
        self.stats["mean_abs_bonus"] = (self.stats["mean_abs_bonus"] * n + float(bonus.abs().mean())) / (n + 1)
        self.stats["steps"] = n + 1
        return out
