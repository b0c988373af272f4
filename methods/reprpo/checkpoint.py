"""Resumable ReprPO checkpoints: adapter + transforms, optimizer, scheduler, step, history and every RNG.

A thin layer over `interp.checkpoint.Checkpoints` (atomic folders, safetensors + JSON, nothing
pickled, one RNG file per rank): see there for the layout and the crash guarantees.
"""
from __future__ import annotations

from pathlib import Path

import torch

from interp.checkpoint import Checkpoints


def save_checkpoint(
    root: str | Path, step: int, trainable: dict[str, torch.Tensor], optimizer, scheduler,
    history: list[dict], accelerator=None, keep: int = 1,
) -> Path:
    """Write checkpoint `step` under `root` (all ranks call this; the main rank writes the shared state)."""
    state = {"trainable": dict(trainable), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "history": history}
    return Checkpoints(root, keep=keep).save(step, state)


def latest_checkpoint(root: str | Path) -> Path | None:
    return Checkpoints(root).latest()


def load_checkpoint(path: str | Path, optimizer, scheduler, accelerator=None) -> tuple[int, dict[str, torch.Tensor], list[dict]]:
    """Restore optimizer, scheduler and this rank's RNG; returns (step, trainable tensors, history)."""
    path = Path(path)
    found = Checkpoints(path.parent).load(path)
    assert found is not None
    step, state = found
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return step, state["trainable"], state["history"]
