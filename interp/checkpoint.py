"""Resumable checkpoints for every long step: model and optimizer state, counters, history and RNG.

    ckpt = Checkpoints(step_dir / "checkpoints")
    found = ckpt.load()                       # None, or (step, state) with this rank's RNG restored
    ...
    ckpt.save(step, {"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "history": h})

A checkpoint is a folder `step-NNNNNNN/`:
  state.safetensors     every tensor of the state, by its path ("optimizer/state/0/exp_avg")
  state.json            the rest of the state (numbers, strings, lists, dicts with int keys ...),
                        with each tensor replaced by a reference into state.safetensors
  rng-rankK.safetensors, rng-rankK.json   each process's torch / CUDA / numpy / Python RNG
  done.json             written last: step, world size
It is written into a hidden `.step-NNNNNNN.tmp/` folder and renamed into place only when whole;
`latest.json` (itself written atomically) then points to it, and older checkpoints are removed. A
crash at any moment leaves the previous checkpoint or the new one, never a half one that looks
whole. Nothing is pickled: tensors go through safetensors and everything else through JSON, so
loading a checkpoint never runs code.

Under several processes (`accelerate launch`) every rank calls `save`/`load`: the main process
writes the shared state, each rank its own RNG files; resuming needs the same number of processes.
`Checkpoints(root, shared=False)` is one process's own series instead (e.g. one of several SAEs
that ranks train independently): no collective calls, this process writes every file.
"""
from __future__ import annotations

import math
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interp import distributed, faults
from interp.io import load_tensors, read_json, save_tensors, write_json

LATEST = "latest.json"
DONE = "done.json"
_T, _D, _TUP, _F = "__tensor__", "__dict__", "__tuple__", "__float__"


# --- state <-> (tensors, JSON) ----------------------------------------------------------------
def pack(obj: Any) -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state into named tensors and a JSON-able skeleton that refers to them."""
    tensors: dict[str, torch.Tensor] = {}
    storages: set[int] = set()

    def walk(x: Any, path: str) -> Any:
        if isinstance(x, torch.Tensor):
            name = path or "tensor"
            t = x.detach().to("cpu").contiguous()
            ptr = t.untyped_storage().data_ptr()
            if ptr in storages and t.numel():  # safetensors refuses tensors that share memory (tied weights)
                t = t.clone()
            storages.add(t.untyped_storage().data_ptr())
            tensors[name] = t
            return {_T: name}
        if isinstance(x, np.ndarray):
            return walk(torch.from_numpy(np.ascontiguousarray(x)), path)
        if isinstance(x, dict):
            for k in x:
                if not isinstance(k, (str, int)) or isinstance(k, bool):
                    raise TypeError(f"checkpoint state: dict key {k!r} at {path or '/'} must be a str or an int")
            return {_D: [[k, walk(v, f"{path}/{k}")] for k, v in x.items()]}
        if isinstance(x, tuple):
            return {_TUP: [walk(v, f"{path}/{i}") for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(x)]
        if isinstance(x, float) and not math.isfinite(x):
            return {_F: repr(x)}
        if isinstance(x, (np.integer, np.floating, np.bool_)):
            return walk(x.item(), path)
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise TypeError(f"checkpoint state: cannot store {type(x).__name__} at {path or '/'}")

    return tensors, walk(obj, "")


def unpack(tensors: dict[str, torch.Tensor], skeleton: Any) -> Any:
    """The inverse of `pack`."""
    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            if _T in x:
                return tensors[x[_T]]
            if _D in x:
                return {k: walk(v) for k, v in x[_D]}
            if _TUP in x:
                return tuple(walk(v) for v in x[_TUP])
            if _F in x:
                return float(x[_F])
            raise ValueError(f"checkpoint state.json holds an unknown object {sorted(x)}")
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(skeleton)


def save_state(folder: Path, name: str, state: Any) -> None:
    """`folder/name.safetensors` + `folder/name.json`, each written atomically."""
    tensors, skeleton = pack(state)
    save_tensors(folder / f"{name}.safetensors", tensors)
    write_json(folder / f"{name}.json", skeleton)


def load_state(folder: Path, name: str) -> Any:
    tensors = load_tensors(folder / f"{name}.safetensors") if (folder / f"{name}.safetensors").exists() else {}
    return unpack(tensors, read_json(folder / f"{name}.json"))


# --- RNG ---------------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Torch (CPU and every CUDA device), numpy and Python RNG states."""
    out: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = list(torch.cuda.get_rng_state_all())
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    out["numpy"] = {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                    "has_gauss": int(has_gauss), "gauss": float(gauss)}
    out["python"] = random.getstate()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if torch.cuda.is_available() and state.get("cuda"):
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]][: torch.cuda.device_count()])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    random.setstate(_tuples(state["python"]))


def _tuples(x: Any) -> Any:
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


# --- checkpoints -------------------------------------------------------------------------------
class Checkpoints:
    """The checkpoints of one step under `root` (see the module docstring); keeps the newest `keep`."""

    def __init__(self, root: str | Path, keep: int = 1, shared: bool = True):
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.root = Path(root)
        self.keep = keep
        self.shared = shared

    def _rank_world(self) -> tuple[int, int]:
        return (distributed.rank(), distributed.world_size()) if self.shared else (0, 1)

    def _barrier(self) -> None:
        if self.shared:
            distributed.barrier()

    def folder(self, step: int) -> Path:
        return self.root / f"step-{step:07d}"

    def latest(self) -> Path | None:
        """The newest whole checkpoint, or None."""
        if not (self.root / LATEST).exists():
            return None
        path = self.root / read_json(self.root / LATEST)["path"]
        return path if (path / DONE).exists() else None

    def save(self, step: int, state: Any, rng: bool = True) -> Path:
        """Write checkpoint `step` (every rank calls this; the main rank writes the shared state)."""
        r, w = self._rank_world()
        main = r == 0
        final = self.folder(step)
        tmp = final.with_name(f".{final.name}.tmp")
        if main:
            for stale in self.root.glob(".step-*.tmp"):  # left by a crash while a checkpoint was written
                shutil.rmtree(stale, ignore_errors=True)
            tmp.mkdir(parents=True)
            save_state(tmp, "state", state)
        self._barrier()
        if rng:
            save_state(tmp, f"rng-rank{r}", rng_state())
        self._barrier()
        if main:
            write_json(tmp / DONE, {"step": step, "world_size": w, "rng": rng})
            faults.point("checkpoint before rename")
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            faults.point("checkpoint before latest.json")
            write_json(self.root / LATEST, {"step": step, "path": final.name})
            older = sorted((p for p in self.root.glob("step-*") if p.is_dir() and p != final and p.name[5:].isdigit()),
                           key=lambda p: int(p.name[5:]))
            for p in older[: max(0, len(older) - (self.keep - 1))]:
                shutil.rmtree(p, ignore_errors=True)
        self._barrier()
        return final

    def load(self, path: str | Path | None = None, restore_rng: bool = True) -> tuple[int, Any] | None:
        """(step, state) of `path` or of the newest checkpoint, restoring this rank's RNG; None if there is none."""
        path = Path(path) if path is not None else self.latest()
        if path is None:
            return None
        done = read_json(path / DONE)
        r, w = self._rank_world()
        if done.get("world_size", 1) != w:
            raise RuntimeError(
                f"checkpoint {path} was written by {done.get('world_size')} process(es), this run has {w}; "
                "resume with the same number of processes, or redo the step with --force"
            )
        state = load_state(path, "state")
        if restore_rng and done.get("rng", True):
            set_rng_state(load_state(path, f"rng-rank{r}"))
        return int(done["step"]), state

    def clear(self) -> None:
        """Remove every checkpoint (after the step's final artifacts are written)."""
        if not self.shared or distributed.is_main():
            shutil.rmtree(self.root, ignore_errors=True)
        self._barrier()
