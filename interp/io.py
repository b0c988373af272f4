"""Crash-safe file writing: every artifact is written to a temporary name and renamed.

A reader never sees a half-written file that looks whole: either the old content or the
new one is at the final path (POSIX rename is atomic within one filesystem).
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors.torch import load_file, save_file

from interp import faults


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the body succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
        faults.point(f"before rename {path.name}")  # a test may kill here: the old file must stay whole
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside `folder`; it replaces `folder` only if the body succeeds.

    For artifacts that are folders (saved models, SAEs). The old folder is removed just before
    the rename, so a crash leaves either the old folder, the new one, or no folder: never a
    half-written one at the final path.
    """
    import shutil

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the usual mode
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_jsonl(path: str | os.PathLike, rows: list[dict]) -> None:
    write_text(path, "".join(json.dumps(r, default=_json_default) + "\n" for r in rows))


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); delete it or re-run the step that writes it") from e


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {i}: not valid JSON ({e})") from e
    return rows


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save tensors as safetensors, atomically (contiguous CPU copies, as safetensors requires)."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


class WeightsRefused(ValueError):
    """A weights file is not in a format this project loads (safetensors, or torch.load with weights_only)."""


def load_tensors(path: str | os.PathLike, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file: the only weight format this project reads besides weights_only torch.load."""
    from safetensors import SafetensorError

    try:
        return load_file(str(path), device=device)
    except SafetensorError as e:
        raise WeightsRefused(_not_safetensors(path, e)) from None


def check_safetensors(path: str | os.PathLike) -> Path:
    """Read only the header of `path`; a `WeightsRefused` error when it is not a safetensors file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except SafetensorError as e:
        raise WeightsRefused(_not_safetensors(path, e)) from None
    return path


def load_torch(path: str | os.PathLike, map_location: str = "cpu") -> Any:
    """`torch.load(weights_only=True)`: tensors and plain containers only, never a pickled object that runs code."""
    import pickle

    try:
        return torch.load(path, weights_only=True, map_location=map_location)
    except pickle.UnpicklingError as e:
        reason = str(e).split("WeightsUnpickler error:")[-1].strip().splitlines()[0] if str(e) else ""
        raise WeightsRefused(
            f"refused to load {path}: it holds pickled objects other than tensors ({reason or 'unsupported content'}), "
            "and unpickling them could run arbitrary code. interp reads only weights_only torch.load files and "
            "safetensors; re-create the file with the step that writes it"
        ) from None


def _not_safetensors(path: str | os.PathLike, error: Exception) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        head = b""
    if head[:1] == b"\x80" or head[:2] == b"PK":
        what = ("it looks like a pickle (torch.save, .pt or .bin), which interp never unpickles because loading a "
                "pickle can run arbitrary code")
    elif not head:
        what = "it is empty (an interrupted write?)"
    else:
        what = "it is damaged or in another format"
    return (f"{path} is not a valid safetensors file ({error}): {what}. interp loads weights only from safetensors "
            "(or weights_only torch.load); re-create the file with the step that writes it, or convert it to "
            "safetensors from a source you trust")


def _json_default(o: Any) -> Any:
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
