"""The trained policy as one module: the LoRA-wrapped model plus the learned hidden-state transforms.

`Policy.forward` returns everything a loss reads (summed response log-probabilities, response
lengths, pooled states, transformed), so under Accelerate/DDP every trained parameter is used
inside the wrapped forward and its gradient is synchronised. Hidden states are read by a reading
(`methods.reprpo.reading`: resid_post for `ours`, the o_proj/down_proj inputs for `reference`)
while the peft model runs, and pooled per site (response tokens, or all tokens less sinks). States
are one tensor [rows, d_k] per site, since the reference's sites differ in width.
The reference is the same module with the adapter disabled (`reference_outputs`).
"""
from __future__ import annotations

from contextlib import ExitStack, nullcontext
from typing import TYPE_CHECKING, Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

from interp.logprobs import token_logprobs
from interp.models.positions import positions_from_mask
from methods.reprpo.batches import PairBatch
from methods.reprpo.reading import ResidReading, SideReading, pool
from methods.reprpo.transforms import LayerTransforms

if TYPE_CHECKING:
    from interp.models.model import Model

POOLINGS = ("response", "all_sink")


class Policy(nn.Module):
    def __init__(self, model: "Model", peft_model: nn.Module, reading: ResidReading | SideReading | None = None,
                 transforms: LayerTransforms | None = None, pooling: str = "response",
                 sink_threshold: float | None = None, per_token_log_softmax: bool = False):
        """`per_token_log_softmax`: pool log_softmax(T(h)) per token (the reference rank loss) instead of
        transforming the pooled state."""
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
        self.peft = peft_model
        self.transforms = transforms
        self.reading = reading
        self.pooling, self.sink_threshold = pooling, sink_threshold
        self.per_token_log_softmax = per_token_log_softmax
        self._model = [model]  # a plain list: the Model wrapper is not a submodule
        self._hooks: ExitStack | None = None
        self._rec: list[list[Tensor]] | None = None

    def start_recording(self) -> None:
        """Attach the state-recording hooks once, for every later forward (attaching costs a walk over
        all of the bridge's hook points per site, far more than a training step on a small model)."""
        if self.reading is not None and self._hooks is None:
            self._hooks = ExitStack()
            self._rec = self._hooks.enter_context(self.reading.attached())

    def stop_recording(self) -> None:
        if self._hooks is not None:
            self._hooks.close()
        self._hooks, self._rec = None, None

    @property
    def model(self) -> "Model":
        return self._model[0]

    def token_maps(self) -> list[Callable[[Tensor], Tensor]] | None:
        """Per site, the map applied to every token before pooling (None: pool the raw states)."""
        if not self.per_token_log_softmax or self.reading is None:
            return None
        per_layer = self.transforms.per_layer if self.transforms is not None else [nn.Identity()] * len(self.reading.dims)
        return [lambda h, t=t: t(h.float()).log_softmax(-1) for t in per_layer]

    def run(self, input_ids: Tensor, attention_mask: Tensor, n_response: Tensor, want_states: bool,
            token_maps: Sequence[Callable[[Tensor], Tensor]] | None = None) -> dict:
        """One forward of the peft model: per-row summed response log-probs, lengths, pooled states (one per site)."""
        batch = PairBatch(input_ids, attention_mask, n_response, [])
        if self._rec is not None:
            ctx = nullcontext(self._rec)
        else:
            ctx = self.reading.attached() if want_states and self.reading is not None else nullcontext([])
        with ctx as rec:
            for acts in rec:
                acts.clear()
            out = self.peft(input_ids=input_ids, attention_mask=attention_mask,
                            position_ids=positions_from_mask(attention_mask), use_cache=False)
        target = batch.target_mask
        lp = token_logprobs(out.logits, input_ids)
        result: dict = {"logps": (lp * target).sum(1), "n_tokens": target.sum(1)}
        if want_states and self.reading is not None:
            mask = batch.state_mask if self.pooling == "response" else attention_mask.bool()
            result["states"] = [pool(acts[-1], mask, self.sink_threshold, token_maps[k] if token_maps else None)
                                for k, acts in enumerate(rec)]
        for acts in rec:
            acts.clear()  # the pooled states are all we keep
        return result

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, n_response: Tensor,
        ref_states: Sequence[Float[Tensor, "rows d"]] | None = None,
    ) -> dict:
        """Policy outputs for a pair batch; with `ref_states`, also their transform (trained jointly)."""
        maps = self.token_maps()
        out = self.run(input_ids, attention_mask, n_response, want_states=self.reading is not None, token_maps=maps)
        if "states" in out and self.transforms is not None and maps is None:
            out["states"] = self.transforms([s.float() for s in out["states"]])
            if ref_states is not None:
                out["ref_states"] = self.transforms([s.float() for s in ref_states])
        elif "states" in out and ref_states is not None:
            out["ref_states"] = [s.float() for s in ref_states]  # already mapped per token by the reference pass
        return out

    @torch.no_grad()
    def reference_outputs(self, batch: PairBatch, token_maps: Sequence[Callable[[Tensor], Tensor]] | None = None) -> dict:
        """Outputs of the reference model (adapter disabled); states raw unless `token_maps` are given."""
        with self.peft.disable_adapter():
            out = self.run(batch.input_ids, batch.attention_mask, batch.n_response, want_states=True,
                           token_maps=token_maps)
        return {k: ([s.detach() for s in v] if isinstance(v, list) else v.detach()) for k, v in out.items()}


def split_rows(t: Tensor) -> tuple[Tensor, Tensor]:
    """(chosen rows, rejected rows) of a 2n-row tensor."""
    n = t.shape[0] // 2
    return t[:n], t[n:]
