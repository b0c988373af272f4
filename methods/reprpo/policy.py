"""The trained policy as one module: the LoRA-wrapped model plus the learned hidden-state transforms.

`Policy.forward` returns everything a loss reads (summed response log-probabilities, response
lengths, transformed response-pooled states), so under Accelerate/DDP every trained parameter
is used inside the wrapped forward and its gradient is synchronised. Hidden states are read
with `interp.recording(..., detach=False)` on the bridge's hook points while the peft model runs.
The reference is the same module with the adapter disabled (`reference_outputs`).
"""
from __future__ import annotations

from contextlib import ExitStack, nullcontext
from typing import TYPE_CHECKING, Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

from interp.activations import masked_mean, recording
from interp.logprobs import token_logprobs
from interp.models.model import positions_from_mask
from interp.sites import Site
from methods.reprpo.batches import PairBatch
from methods.reprpo.transforms import LayerTransforms

if TYPE_CHECKING:
    from interp.models.model import Model


class Policy(nn.Module):
    def __init__(self, model: "Model", peft_model: nn.Module, sites: Sequence[Site] = (),
                 transforms: LayerTransforms | None = None):
        super().__init__()
        self.peft = peft_model
        self.transforms = transforms
        self.sites = list(sites)
        self._model = [model]  # a plain list: the Model wrapper is not a submodule
        self._hooks: ExitStack | None = None
        self._rec: dict | None = None

    def start_recording(self) -> None:
        """Attach the state-recording hooks once, for every later forward (attaching costs a walk over
        all of the bridge's hook points per site, far more than a training step on a small model)."""
        if self.sites and self._hooks is None:
            self._hooks = ExitStack()
            self._rec = self._hooks.enter_context(recording(self.model, self.sites, detach=False))

    def stop_recording(self) -> None:
        if self._hooks is not None:
            self._hooks.close()
        self._hooks, self._rec = None, None

    @property
    def model(self) -> "Model":
        return self._model[0]

    def run(self, input_ids: Tensor, attention_mask: Tensor, n_response: Tensor, want_states: bool) -> dict[str, Tensor]:
        """One forward of the peft model: per-row summed response log-probs, lengths, pooled raw states."""
        batch = PairBatch(input_ids, attention_mask, n_response, [])
        if self._rec is not None:
            ctx = nullcontext(self._rec)
        else:
            ctx = recording(self.model, self.sites, detach=False) if want_states and self.sites else nullcontext({})
        with ctx as rec:
            for acts in rec.values():
                acts.clear()
            out = self.peft(input_ids=input_ids, attention_mask=attention_mask,
                            position_ids=positions_from_mask(attention_mask), use_cache=False)
        target = batch.target_mask
        lp = token_logprobs(out.logits, input_ids)
        result = {"logps": (lp * target).sum(1), "n_tokens": target.sum(1)}
        if want_states and self.sites:
            smask = batch.state_mask.long()
            result["states"] = torch.stack([masked_mean(rec[s][-1], smask) for s in self.sites], 1)
        for acts in rec.values():
            acts.clear()  # the pooled states are all we keep
        return result

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, n_response: Tensor,
        ref_states: Float[Tensor, "rows layer d"] | None = None,
    ) -> dict[str, Tensor]:
        """Policy outputs for a pair batch; with `ref_states`, also their transform (trained jointly)."""
        out = self.run(input_ids, attention_mask, n_response, want_states=bool(self.sites))
        if "states" in out and self.transforms is not None:
            out["states"] = self.transforms(out["states"].float())
            if ref_states is not None:
                out["ref_states"] = self.transforms(ref_states.float())
        return out

    @torch.no_grad()
    def reference_outputs(self, batch: PairBatch) -> dict[str, Tensor]:
        """Outputs of the reference model (adapter disabled), raw (untransformed) states."""
        with self.peft.disable_adapter():
            return {k: v.detach() for k, v in
                    self.run(batch.input_ids, batch.attention_mask, batch.n_response, want_states=True).items()}


def split_rows(t: Tensor) -> tuple[Tensor, Tensor]:
    """(chosen rows, rejected rows) of a 2n-row tensor."""
    n = t.shape[0] // 2
    return t[:n], t[n:]
