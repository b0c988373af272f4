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


class UnreadableFile(ValueError):
    """A run file that is not a regular file, is too large, too deeply nested, or of the wrong JSON type."""


MAX_DEPTH = 100  # nesting of a JSON value; run files nest a few levels
KINDS = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean",
         type(None): "null"}


def read_regular(path: str | os.PathLike, max_bytes: int | None = None) -> bytes:
    """The bytes of `path` if it is a regular file (a symlink to one is fine) of at most `max_bytes`.

    Opened without blocking and checked on the open descriptor: a FIFO, a device (/dev/zero) or a
    directory is refused at once instead of hanging or filling memory."""
    import stat

    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a file")
            raise UnreadableFile(f"{path} is {kind}, not a regular file; replace it with the file the step writes "
                                 "(re-run the step with --force)")
        if max_bytes is not None and st.st_size > max_bytes:
            raise UnreadableFile(f"{path} holds {st.st_size:,} bytes, more than the {max_bytes:,} a run file may; "
                                 "re-run the step that writes it with --force")
        chunks, left = [], (max_bytes + 1 if max_bytes is not None else -1)
        while left != 0:
            chunk = os.read(fd, 1 << 20 if left < 0 else min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left = left - len(chunk) if left > 0 else left
        data = b"".join(chunks)
        if max_bytes is not None and len(data) > max_bytes:
            raise UnreadableFile(f"{path} is larger than the {max_bytes:,} bytes a run file may hold")
        return data
    finally:
        os.close(fd)


def _depth(text: str, exact: bool = False) -> int:
    """How deeply JSON containers nest in `text`, from its brackets (no parsing, no recursion): an upper bound
    counting brackets inside strings too, or with `exact` only those outside strings (slower)."""
    import re

    import numpy as np

    if exact:
        text = re.sub(r"[^\[\]{}]", "", re.sub(r'"(?:[^"\\]|\\.)*"', "", text))
    a = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    steps = ((a == ord("[")) | (a == ord("{"))).astype(np.int32) - ((a == ord("]")) | (a == ord("}")))
    return int(np.cumsum(steps).max()) if len(steps) else 0


def parse_json(text: str, where: str, expect: type | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` that refuses (UnreadableFile or ValueError) nesting deeper than `max_depth` and a top-level
    value that is not of type `expect`, instead of a RecursionError or a wrong-type error later on."""
    if text.count("[") + text.count("{") > max_depth and _depth(text) > max_depth and _depth(text, exact=True) > max_depth:
        raise UnreadableFile(f"{where} nests JSON values more than {max_depth} levels deep; re-run the step that "
                             "writes it with --force")
    try:
        value = json.loads(text)
    except RecursionError:
        raise UnreadableFile(f"{where} nests JSON values too deeply to read (more than {max_depth} levels); "
                             "re-run the step that writes it with --force") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is not valid JSON ({e}); delete it or re-run the step that writes it") from e
    if expect is not None and not isinstance(value, expect):
        raise UnreadableFile(f"{where} holds {KINDS.get(type(value), type(value).__name__)}, not "
                             f"{KINDS.get(expect, expect.__name__)}; re-run the step that writes it with --force")
    return value


def _text(path: Path, max_bytes: int | None) -> str:
    try:
        return read_regular(path, max_bytes).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start}); delete it or re-run the step "
                         "that writes it") from None


def read_json(path: str | os.PathLike, expect: type | None = None, max_bytes: int | None = None) -> Any:
    """A JSON file: regular files only, nesting at most MAX_DEPTH, optionally of type `expect` and at most
    `max_bytes`; a ValueError (UnreadableFile) says what is wrong and what to do."""
    path = Path(path)
    return parse_json(_text(path, max_bytes), str(path), expect)


def read_jsonl(path: str | os.PathLike, max_bytes: int | None = None) -> list[dict]:
    path = Path(path)
    rows = []
    for i, line in enumerate(_text(path, max_bytes).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(parse_json(line, f"{path}, line {i}"))
        except UnreadableFile:
            raise
        except ValueError as e:
            raise ValueError(f"{path}, line {i}: not valid JSON ({e.__cause__ or e})") from e
    return rows


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save tensors as safetensors, atomically (contiguous CPU copies, as safetensors requires)."""
    from safetensors import SafetensorError

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as e:  # safetensors reports the OS's write errors as its own exception
            if "I/O error" not in str(e):
                raise
            raise disk_error(path, str(e)) from None


def disk_error(path: str | os.PathLike, detail: str) -> OSError:
    """The OSError for a write that failed in the OS (a full disk: what to do next)."""
    import errno

    if "os error 28" in detail or "No space left" in detail:
        return OSError(errno.ENOSPC, f"no space left on the device while writing {path}. Free some space, then run "
                                     "the same command again: finished steps are kept and long steps resume")
    return OSError(f"could not write {path} ({detail})")


class WeightsRefused(ValueError):
    """A weights file is not in a format this project loads (safetensors, or torch.load(weights_only=True))."""


def load_tensors(path: str | os.PathLike, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file: the only weight format this project reads besides torch.load(weights_only=True)."""
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
            "and unpickling them could run arbitrary code. interp reads only torch.load(weights_only=True) files and "
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
    elif "not fully covered" in str(error) or "incomplete" in str(error).lower():
        what = "it is truncated (an interrupted write, copy or download?)"
    else:
        what = "it is damaged or in another format"
    return (f"{path} is not a valid safetensors file ({error}): {what}. interp loads weights only from safetensors "
            "(or torch.load(weights_only=True)); re-create the file with the step that writes it, or convert it to "
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
