"""Run directories: the contract between pipelines and the explorer.

Every pipeline step writes into `runs/<name>/<step>/`: `config.json` (every setting, seed,
model spec, package versions), its artifacts, and `metrics.json` last, as the mark that the
step finished. A step whose `metrics.json` exists and whose config matches is skipped;
a different config is refused unless `force=True`.

A run directory has one writer at a time (`writing`): the writing process holds an exclusive
flock on `<run>/.writer.json`, so a second writer is refused at once, naming the first one's pid
and command. The kernel drops the lock when its process exits or dies, so the lock of a crashed
writer is simply taken by the next one. Readers (the explorer, `show` commands) never lock.
Runs do not nest: a run inside another run's step (or a step that is another run) is refused.
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import re
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from interp.io import read_json, write_json
from interp.redact import SECRET_NAME, redact_obj

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# recorded in config.json but not settings: a run written before they existed is still the same run
METADATA = ("versions", "pipeline", "interp_version")


class RunConfigMismatch(RuntimeError):
    """A run directory already holds a step made with another configuration."""


class RunBusy(RuntimeError):
    """Another process is writing this run directory (it holds the run's writer lock)."""


class NestedRun(ValueError):
    """A run directory that lies inside another run's step, or whose step is another run."""


LOCK_FILE = ".writer.json"  # in a run directory: flocked by the process that writes the run
_IDLE = {"about": "interp holds an exclusive flock on this file while a process writes this run; `writer` "
                  "names that process (null: no writer now)", "writer": None}
_HELD: dict[str, list[Any]] = {}  # real path of a run directory -> [open lock file, depth], in this process
F = TypeVar("F", bound=Callable[..., Any])


def _lock_key(run_dir: Path) -> str:
    return os.path.realpath(run_dir)


def holds_lock(run_dir: str | Path) -> bool:
    """Whether this process holds `run_dir`'s writer lock."""
    return _lock_key(Path(run_dir)) in _HELD


def _this_writer() -> dict[str, Any]:
    from interp.redact import redact

    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    return {"pid": os.getpid(), "command": redact(" ".join(argv)), "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def _write_in_place(fd: int, data: dict[str, Any]) -> None:
    """Rewrite the lock file through the locked descriptor (never renamed over: every writer must flock one file)."""
    raw = (json.dumps(data) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, raw, 0)


def _holder(path: Path) -> dict[str, Any] | None:
    """Who holds the lock, as it wrote itself into the file (None while it has not written yet)."""
    for _ in range(20):  # the holder writes right after taking the lock: give it a moment
        try:
            info = json.loads(path.read_text(encoding="utf-8")).get("writer")
        except (OSError, ValueError, AttributeError):
            info = None
        if isinstance(info, dict) and "pid" in info:
            return info
        time.sleep(0.05)
    return None


@contextmanager
def writing(run_dir: str | Path) -> Iterator[Path]:
    """Hold `run_dir`'s writer lock while the body writes it; a second writer is refused at once (RunBusy).

    Re-entrant within a process (a pipeline step that runs another step of the same run). Only the
    main process of a multi-process job takes it; the others write under its hold. A refused attempt
    writes nothing: the lock file is created once and, between writers, always holds the same text."""
    import fcntl

    from interp.distributed import is_main

    run_dir = Path(run_dir)
    key = _lock_key(run_dir)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield run_dir
        finally:
            _HELD[key][1] -= 1
        return
    if not is_main():
        yield run_dir
        return
    check_not_nested(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        _write_in_place(fd, _IDLE)
        os.close(fd)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _holder(path)
        who = (f"pid {holder['pid']} ({holder.get('command', '?')}, since {holder.get('since', '?')})"
               if holder else "another process")
        raise RunBusy(f"run {run_dir} is being written by {who}; wait for it to finish (or stop it), or use another "
                      "run name. Reading the run (interp app, show) needs no wait") from None
    _HELD[key] = [fd, 1]
    try:
        _write_in_place(fd, {**_IDLE, "writer": _this_writer()})
        yield run_dir
    finally:
        del _HELD[key]
        try:
            _write_in_place(fd, _IDLE)
        except OSError:  # a full disk: the stale name is harmless, the lock goes with the descriptor
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def owning_run(path: str | Path) -> Path:
    """The run directory whose writer lock covers `path`: the run of the nearest step directory at or above
    it (a store a pipeline step collects into), else `path` itself (a directory that is a run of its own)."""
    here = Path(os.path.abspath(path))
    for parent in (here, *here.parents):
        if _is_step_dir(parent):
            return parent.parent
    return Path(path)


def writes_run(arg: str) -> Callable[[F], F]:
    """Make an API function that writes the directory in its argument `arg` hold that directory's run writer
    lock for its whole call, not only while a step is opened: a second writer is refused for as long as it
    writes. Re-entrant, so a caller that already holds the lock (the protocol, a CLI command) keeps it; a
    None `arg` (nothing written) takes no lock."""

    def wrap(fn: F) -> F:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def locked(*args: Any, **kwargs: Any) -> Any:
            target = sig.bind_partial(*args, **kwargs).arguments.get(arg)
            if target is None:
                return fn(*args, **kwargs)
            with writing(owning_run(target)):
                return fn(*args, **kwargs)

        return locked  # type: ignore[return-value]

    return wrap


def _is_step_dir(path: Path) -> bool:
    """A step directory: it holds a config.json that `open_step` wrote (it records package versions),
    or one next to its run's lock file. A saved model's config.json inside a step is neither."""
    cfg = path / "config.json"
    if not cfg.is_file():
        return False
    if (path.parent / LOCK_FILE).is_file():
        return True
    try:
        data = read_json(cfg)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "versions" in data


def check_not_nested(run_dir: str | Path) -> None:
    """Refuse a run directory that lies inside another run's step (a --force there would delete it, or
    it would delete the step's files): NestedRun names the step."""
    run_dir = Path(run_dir)
    here = Path(os.path.abspath(run_dir))
    for parent in (here, *here.parents):
        if _is_step_dir(parent):
            raise NestedRun(f"run {run_dir} would lie inside {parent}, a step of the run {parent.parent}; runs do "
                            "not nest inside steps: choose a run name outside it (e.g. a sibling of that run)")


def safe_name(name: str, what: str = "run name") -> str:
    """Refuse names that could escape the runs directory (`..`, `/`, absolute paths) or name it itself (empty)."""
    if not Path(name).parts:
        raise ValueError(f"invalid {what} {name!r}: it is empty; name the run, e.g. --run demo")
    for part in Path(name).parts:
        if not _NAME.match(part) or part in (".", ".."):
            raise ValueError(
                f"invalid {what} {name!r}: use letters, digits, '.', '_' or '-' (optionally "
                "nested with '/'), with no '..' and no absolute path"
            )
    if Path(name).is_absolute():
        raise ValueError(f"invalid {what} {name!r}: must be relative to the runs directory")
    return name


def package_versions() -> dict[str, str]:
    from interp.versions import PACKAGES, installed_versions

    return {k: v for k, v in installed_versions((*PACKAGES, "interp")).items() if v != "not installed"}


def scrub_secrets(config: dict[str, Any]) -> dict[str, Any]:
    """Drop string values whose key looks like a credential, and mask the value of any credential-named
    environment variable (HF_TOKEN, OPENAI_API_KEY, ...) wherever it appears: no secret is written into a
    run directory."""
    return redact_obj(_drop_secret_keys(config))


def _drop_secret_keys(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_drop_secret_keys(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        if SECRET_NAME.search(str(k)) and not str(k).endswith(("_tokens", "max_new_tokens")) and k not in ("tokenizer",):
            if isinstance(v, str) and v:
                continue
        out[k] = _drop_secret_keys(v)
    return out


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in METADATA}


def _changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _only_config(path: Path) -> bool:
    return all(p.name == "config.json" for p in path.iterdir())


@dataclass
class Step:
    """One step's directory with its config; `done` when metrics.json exists for this config."""

    path: Path
    config: dict[str, Any]

    @property
    def done(self) -> bool:
        return (self.path / "metrics.json").exists()

    def file(self, name: str) -> Path:
        return self.path / name

    def finish(self, metrics: dict[str, Any]) -> dict[str, Any]:
        write_json(self.path / "metrics.json", redact_obj(metrics))
        return metrics

    def metrics(self) -> dict[str, Any]:
        return read_json(self.path / "metrics.json")


def open_step(run_dir: str | Path, step: str, config: dict[str, Any], force: bool = False) -> Step:
    """Prepare `run_dir/step/` for `config`.

    - no directory yet: create it and write config.json;
    - same config: reuse (a finished step is skipped by the caller via `step.done`; an
      unfinished one resumes from its checkpoints);
    - another config: raise RunConfigMismatch unless `force`, which clears the step; a step that
      holds nothing but its config.json (an attempt stopped by bad input before writing anything)
      simply takes the new config.
    """
    safe_name(step, "step name")
    path = Path(run_dir) / step
    config = json.loads(json.dumps(scrub_secrets(config), default=str))
    cfg_file = path / "config.json"
    # under the run's writer lock (held by the caller for the whole run, or here while the step is opened):
    # a step holding only its config.json is then one whose writer is gone, never one being written
    with writing(run_dir):
        if (path / LOCK_FILE).exists() or any(_is_step_dir(p) for p in (path.iterdir() if path.is_dir() else ())):
            raise NestedRun(f"{path} is another run's directory, not a step of {run_dir}; use another run name "
                            "(runs do not nest inside steps)")
        if cfg_file.exists():
            old = read_json(cfg_file)
            same = _settings(old) == _settings(config)
            if not same and _only_config(path):
                cfg_file.unlink()  # an attempt that failed before writing anything (bad input): nothing to keep
            elif not same:
                if not force:
                    changed = _changed(_settings(old), _settings(config))
                    raise RunConfigMismatch(
                        f"{path} was written with another config (differs in: {', '.join(changed)}); "
                        "use another run name, or pass --force to redo this step"
                    )
                shutil.rmtree(path)
            elif force:
                shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        if not cfg_file.exists():
            write_json(cfg_file, {**config, "versions": package_versions()})
    return Step(path=path, config=config)
