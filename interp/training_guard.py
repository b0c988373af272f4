"""Stop a training loop the moment its loss stops being a number.

    from interp.training_guard import check_finite
    loss = ...
    check_finite(loss, step, what="Bellman loss", hint="lower --lr")   # before backward / optimizer.step
    loss.backward(); opt.step()

Checking before the optimizer step means the weights never take a NaN or infinite update, so every
checkpoint already written holds finite weights and stays the last good one: the loop raises
`NonFiniteLoss` (a `FloatingPointError`, and a `RuntimeError` so the CLI prints it as one clear
line) naming the step, and writes nothing more.
"""
from __future__ import annotations

import math
from typing import Any


class NonFiniteLoss(FloatingPointError, RuntimeError):
    """A training loss turned NaN or infinite; `step` says where, `value` what it was."""

    def __init__(self, value: float, step: Any, what: str = "loss", hint: str | None = None):
        self.value, self.step, self.what = value, step, what
        where = f"step {step}" if isinstance(step, int) else str(step)
        msg = (f"{what} is {value} at {where}: training stopped before applying this update, so the weights "
               "and every checkpoint already written stay finite (the last good checkpoint is kept)")
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


def check_finite(loss: Any, step: Any, what: str = "loss", hint: str | None = None) -> None:
    """Raise `NonFiniteLoss` when `loss` (a tensor of any shape, or a number) holds NaN or +-inf.

    `step` names the place: an int is printed as "step N", a string as given ("epoch 3, batch 2").
    """
    if hasattr(loss, "detach"):
        import torch

        t = loss.detach()
        if bool(torch.isfinite(t).all()):
            return
        bad = t[~torch.isfinite(t)].flatten()[0]
        raise NonFiniteLoss(float(bad), step, what, hint)
    value = float(loss)
    if not math.isfinite(value):
        raise NonFiniteLoss(value, step, what, hint)
