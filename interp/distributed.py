"""One process or many: the few collective operations the pipelines need, through Accelerate.

Under `accelerate launch --num_processes N` (or `torchrun`) every process runs the same command.
The pipelines then share their work out deterministically by rank and combine results so that N
processes end where one process ends:

- data-parallel training sums each rank's loss over its share of a global batch, all-reduces
  the gradients as sums, and divides by the global count (`all_reduce_grads`): the update is the
  one-process update up to the order of float additions;
- collection gives whole batches to ranks round-robin (`round_robin`), so every batch is
  computed exactly as one process computes it;
- a run directory's step is opened by the main process first (`open_step`), which may clear it
  for `--force`, then by the others; artifacts and `metrics.json` are written by the main process.

With one process every function here is a no-op, and no process group is ever created.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence, TypeVar

import torch

if TYPE_CHECKING:
    from interp.runs import Step

T = TypeVar("T")
_LAUNCH_VARS = ("WORLD_SIZE", "ACCELERATE_NUM_PROCESSES")


def launched() -> bool:
    """True inside `accelerate launch` / `torchrun` with more than one process."""
    for var in _LAUNCH_VARS:
        if int(os.environ.get(var, "1") or 1) > 1:
            return True
    return False


def state(device: "str | torch.device | None" = None):
    """Accelerate's PartialState (a singleton): gloo for CPU processes, NCCL for GPUs.

    With a single process this creates no process group. `device` says whether this run is on CPU
    (a CPU model under a multi-process launch needs `cpu=True` for Accelerate to pick gloo).
    """
    from accelerate import PartialState

    if PartialState._shared_state:  # already made: the first caller chose the backend
        return PartialState()
    cpu = (device is not None and torch.device(device).type == "cpu") or not torch.cuda.is_available()
    return PartialState(cpu=cpu)


def _initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return state().process_index if launched() else 0


def world_size() -> int:
    return state().num_processes if launched() else 1


def is_main() -> bool:
    return rank() == 0


def default_device(device: "str | torch.device | None" = None) -> torch.device:
    """`device` if given; else this process's device (cuda:<local rank> under a multi-GPU launch), else CUDA or CPU."""
    if device is not None:
        return torch.device(device)
    if launched():
        return state().device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def barrier() -> None:
    if launched():
        state().wait_for_everyone()


def round_robin(items: Sequence[T], r: int | None = None, w: int | None = None) -> list[T]:
    """This rank's share: items r, r + w, r + 2w, ... (each item whole, e.g. a batch of prompts)."""
    r = rank() if r is None else r
    w = world_size() if w is None else w
    return list(items[r::w])


ShareSplit = Literal["contiguous", "strided"]


def share(n: int, r: int, w: int, split: ShareSplit = "contiguous") -> list[int]:
    """The indices of `n` items that rank `r` of `w` handles: a contiguous block (an activation store's shards
    stay in text order) or every `w`-th (`round_robin`)."""
    if split == "contiguous":
        return list(range(r * n // w, (r + 1) * n // w))
    if split == "strided":
        return round_robin(range(n), r, w)
    raise ValueError(f"unknown split {split!r}: use 'contiguous' or 'strided'")


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """The elementwise sum over ranks (in place; returns `t`). The identity with one process."""
    if _initialized():
        import torch.distributed as dist

        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_grads(params: Sequence[torch.nn.Parameter], extra: torch.Tensor | None = None,
                     divide_by: float = 1.0) -> torch.Tensor | None:
    """Sum every parameter's gradient over ranks in one collective, then divide by `divide_by`.

    Parameters without a gradient count as zeros (a rank whose share of a batch was empty).
    `extra` (e.g. loss sums to log) rides in the same buffer and comes back summed, undivided.
    """
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    if not _initialized():
        if divide_by != 1.0:
            for p, g in zip(params, grads):
                p.grad = g.div_(divide_by)
        else:
            for p, g in zip(params, grads):
                p.grad = g
        return extra
    flat = torch.cat([g.reshape(-1) for g in grads] + ([extra.reshape(-1).to(grads[0].dtype)] if extra is not None else []))
    all_reduce_sum(flat)
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(g).div_(divide_by).clone()
        offset += n
    return flat[offset:].view_as(extra).to(extra.dtype) if extra is not None else None


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """`obj` as the `src` rank has it, on every rank."""
    if not _initialized():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def open_step(run_dir: str | Path, step: str, config: dict[str, Any], force: bool = False) -> "Step":
    """`interp.runs.open_step` on the main process first (it may clear the step for `force`), then the others."""
    from interp.runs import open_step as _open

    if not launched():
        return _open(run_dir, step, config, force=force)
    out = None
    error: BaseException | None = None
    if is_main():
        try:
            out = _open(run_dir, step, config, force=force)
        except BaseException as e:  # noqa: BLE001 - re-raised on every rank below
            error = e
    failed = broadcast_object(repr(error) if error is not None else None)
    if error is not None:
        raise error
    if failed is not None:
        raise RuntimeError(f"the main process could not open step {step!r}: {failed}")
    if not is_main():
        out = _open(run_dir, step, config, force=False)
    barrier()
    assert out is not None
    return out


def finish_step(step: "Step", metrics: dict[str, Any]) -> dict[str, Any]:
    """Write `metrics.json` on the main process once every rank is done; every rank returns the metrics."""
    barrier()
    if is_main():
        step.finish(metrics)
    barrier()
    return metrics
