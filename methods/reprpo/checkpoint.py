"""Resumable checkpoints: adapter, transforms, optimizer, scheduler, step, history and every RNG.

A checkpoint is written into a hidden temporary folder and renamed into `step-NNNNNNN/` only when
complete; `latest.json` (itself written atomically) then points to it, and older checkpoints
are removed. A crash at any moment leaves either the previous checkpoint or the new one, never
a half one that looks whole. Tensors go to safetensors; optimizer and scheduler states (nested
dicts of tensors and numbers) through torch.save, read back with `weights_only=True`.
Under several processes, each rank writes its own RNG file into the same folder.
"""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interp.io import atomic_path, load_tensors, read_json, read_jsonl, save_tensors, write_json, write_jsonl

LATEST = "latest.json"


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda{i}"] = s
    np_state = np.random.get_state()
    meta = {"python": _listify(random.getstate()),
            "numpy": [np_state[0], np_state[1].tolist(), *[_listify(x) for x in np_state[2:]]]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"].cpu())
    if torch.cuda.is_available():
        states = [tensors[k].cpu() for k in sorted(k for k in tensors if k.startswith("cuda"))]
        if states:
            torch.cuda.set_rng_state_all(states[: torch.cuda.device_count()])
    random.setstate(_tupleify(meta["python"]))
    n = meta["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), *n[2:]))


def _listify(x):
    return [_listify(v) for v in x] if isinstance(x, (list, tuple)) else x


def _tupleify(x):
    return tuple(_tupleify(v) for v in x) if isinstance(x, list) else x


def save_checkpoint(
    root: str | Path, step: int, trainable: dict[str, torch.Tensor], optimizer, scheduler,
    history: list[dict], accelerator=None, keep: int = 1,
) -> Path:
    """Write checkpoint `step` under `root` (all ranks call this; the main rank writes the shared files)."""
    root = Path(root)
    rank = accelerator.process_index if accelerator else 0
    main = accelerator.is_main_process if accelerator else True
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.tmp"
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_tensors(tmp / "trainable.safetensors", trainable)
        with atomic_path(tmp / "optimizer.pt") as p:
            torch.save(optimizer.state_dict(), p)
        with atomic_path(tmp / "scheduler.pt") as p:
            torch.save(scheduler.state_dict(), p)
        write_jsonl(tmp / "history.jsonl", history)
    _barrier(accelerator)
    tensors, meta = rng_state()
    save_tensors(tmp / f"rng-rank{rank}.safetensors", tensors)
    write_json(tmp / f"rng-rank{rank}.json", meta)
    _barrier(accelerator)
    if main:
        write_json(tmp / "state.json", {"step": step, "world_size": accelerator.num_processes if accelerator else 1})
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        write_json(root / LATEST, {"step": step, "path": final.name})
        old = sorted(p for p in root.glob("step-*") if p.is_dir() and p != final)
        for p in old[: max(0, len(old) - (keep - 1))]:
            shutil.rmtree(p, ignore_errors=True)
    _barrier(accelerator)
    return final


def latest_checkpoint(root: str | Path) -> Path | None:
    root = Path(root)
    if not (root / LATEST).exists():
        return None
    path = root / read_json(root / LATEST)["path"]
    return path if (path / "state.json").exists() else None


def load_checkpoint(path: str | Path, optimizer, scheduler, accelerator=None) -> tuple[int, dict[str, torch.Tensor], list[dict]]:
    """Restore optimizer, scheduler and this rank's RNG; returns (step, trainable tensors, history)."""
    path = Path(path)
    state = read_json(path / "state.json")
    world = accelerator.num_processes if accelerator else 1
    if state.get("world_size", 1) != world:
        raise RuntimeError(
            f"checkpoint {path} was written by {state.get('world_size')} processes, this run has {world}; "
            "resume with the same number of processes, or start a new run"
        )
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True, map_location="cpu"))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True, map_location="cpu"))
    rank = accelerator.process_index if accelerator else 0
    set_rng_state(load_tensors(path / f"rng-rank{rank}.safetensors"), read_json(path / f"rng-rank{rank}.json"))
    trainable = load_tensors(path / "trainable.safetensors")
    return int(state["step"]), trainable, read_jsonl(path / "history.jsonl")


def _barrier(accelerator) -> None:
    if accelerator is not None and accelerator.num_processes > 1:
        accelerator.wait_for_everyone()
