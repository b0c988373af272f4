"""Finding and reading run directories for the explorer, with messages instead of tracebacks.

A run step is `runs/<name>/<step>/` holding config.json and, once finished, metrics.json.
Every reader here either returns data or raises `MissingArtifact`, whose message names the
file and the command that makes it; pages show that message.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.io import UnreadableFile
from interp.io import read_json as read_json_file
from interp.io import read_jsonl as read_jsonl_file


class MissingArtifact(Exception):
    """A file a page needs is absent or unreadable (half-written, corrupt)."""

    def __init__(self, path: Path, command: str, why: str = "does not exist"):
        self.path, self.command, self.why = path, command, why
        super().__init__(f"{path} {why}. Make it with: {command}")


def runs_root(default: str = "runs") -> Path:
    return Path(os.environ.get("INTERP_RUNS", default))


@dataclass
class StepInfo:
    run: str
    step: str
    path: Path
    config: dict[str, Any] | None
    metrics: dict[str, Any] | None
    problem: str | None

    @property
    def status(self) -> str:
        if self.problem:
            return "broken"
        return "finished" if self.metrics is not None else "unfinished"


MAX_STEP_FILE = 16 << 20  # config.json / metrics.json of a step: a few kB in practice
MAX_ARTIFACT = 512 << 20  # any other run file a page reads


def _read_json_or_problem(path: Path) -> tuple[Any, str | None]:
    """A step's config.json or metrics.json (an object), or None and the problem that makes it unreadable.

    Never raises and never hangs: a FIFO, a device, a directory, a file too large or nested too deeply, or
    one that holds another JSON type is a problem for that step's row, not an error for the page."""
    if not os.path.lexists(path):
        return None, None
    try:
        return read_json_file(path, expect=dict, max_bytes=MAX_STEP_FILE), None
    except UnreadableFile as e:
        return None, str(e)
    except ValueError as e:  # not JSON, not UTF-8: cut short by a crash, or damaged
        return None, f"{path} is not valid JSON ({(e.__cause__ or e).__class__.__name__}); re-run the step with --force"
    except OSError as e:
        return None, f"{path} cannot be read ({e.strerror or e.__class__.__name__}); check its permissions"


def discover(root: Path) -> list[StepInfo]:
    """Every step directory (one holding config.json) under `root`, sorted by run then step.

    Steps do not nest: a config.json inside a step (a saved Hugging Face model, a trainer
    checkpoint) belongs to that step's artifacts, not to another step. Symlinked directories are
    not followed (a link cannot make the walk loop or leave the runs directory); an unreadable
    directory is passed over.
    """
    if not root.is_dir():
        return []
    steps = []
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False, onerror=lambda e: None):
        dirs.sort()
        if "config.json" in files or "config.json" in dirs:
            found.append(Path(folder) / "config.json")
    step_dirs: set[Path] = set()
    for cfg in sorted(found, key=lambda p: (len(p.parts), p)):
        step_dir = cfg.parent
        rel = step_dir.relative_to(root)
        if len(rel.parts) < 2 or any(parent in step_dirs for parent in step_dir.parents):
            continue
        step_dirs.add(step_dir)
        config, p1 = _read_json_or_problem(cfg)
        metrics, p2 = _read_json_or_problem(step_dir / "metrics.json")
        steps.append(StepInfo("/".join(rel.parts[:-1]), rel.parts[-1], step_dir, config, metrics, p1 or p2))
    return sorted(steps, key=lambda s: (s.run, s.step))


def read_json(path: Path, command: str, expect: type | None = None, shape: Any = None) -> Any:
    """A run file a page needs, or MissingArtifact saying what is wrong with it and which command remakes it;
    with a `shape` (app.explorer.shapes), also when what it holds inside is not what the page uses."""
    if not os.path.lexists(path):
        raise MissingArtifact(path, command)
    try:
        data = read_json_file(path, expect=expect, max_bytes=MAX_ARTIFACT)
    except UnreadableFile as e:
        raise MissingArtifact(path, command, _why(path, e)) from e
    except (ValueError, OSError) as e:
        raise MissingArtifact(path, command, f"is half-written or corrupt ({(e.__cause__ or e).__class__.__name__})") from e
    check_shape(path, command, data, shape)
    return data


def check_shape(path: Path, command: str, data: Any, shape: Any) -> None:
    """MissingArtifact naming `path` and where `data` (read from it) differs from `shape`; nothing if it fits."""
    from app.explorer.shapes import problem

    found = problem(data, shape) if shape is not None else None
    if found:
        raise MissingArtifact(path, command, f"is not what this page reads: {found}")


def read_jsonl(path: Path, command: str, shape: Any = None) -> list[dict]:
    if not os.path.lexists(path):
        raise MissingArtifact(path, command)
    try:
        rows = read_jsonl_file(path, max_bytes=MAX_ARTIFACT)
    except UnreadableFile as e:
        raise MissingArtifact(path, command, _why(path, e)) from e
    except (ValueError, OSError) as e:
        raise MissingArtifact(path, command, f"is half-written or corrupt ({(e.__cause__ or e).__class__.__name__})") from e
    bad = next((i for i, r in enumerate(rows, 1) if not isinstance(r, dict)), None)
    if bad is not None:
        raise MissingArtifact(path, command, f"holds a line that is not a JSON object (line {bad})")
    check_shape(path, command, rows, shape)
    return rows


def _why(path: Path, e: Exception) -> str:
    """The reason of an UnreadableFile without the path it starts with (MissingArtifact names the path)."""
    text = str(e)
    return text[len(str(path)):].strip(" ,") if text.startswith(str(path)) else text


def find_steps(root: Path, step: str) -> list[StepInfo]:
    """All runs that have a step called `step` (e.g. 'divergence')."""
    return [s for s in discover(root) if s.step == step]


KINDS = {  # a step name only one pipeline writes -> that pipeline
    "divergence": "reward-divergence", "features": "reward-divergence", "probe": "reward-divergence",
    "saes": "reward-divergence", "rlhf": "reward-divergence", "train-value": "re-control", "label": "re-control",
    "rollouts": "vas", "grid": "vas", "backbone": "demo",
}


def run_kind(steps: list[StepInfo]) -> str:
    """Which pipeline wrote a run: the `pipeline` its config.json records (interp.pipeline), else, for runs
    written before the protocol, guessed from its step names (ReprPO: train + eval whose config names a method)."""
    from interp.pipeline import pipeline_of

    for s in steps:
        name = pipeline_of(s.config if isinstance(s.config, dict) else None)
        if name:
            return name
    for s in steps:
        if s.step in KINDS:
            return KINDS[s.step]
    if any(s.step == "eval" and isinstance((s.config or {}).get("train"), dict) for s in steps):
        return "reprpo"
    return "?"


def by_run(steps: list[StepInfo]) -> dict[str, list[StepInfo]]:
    out: dict[str, list[StepInfo]] = {}
    for s in steps:
        out.setdefault(s.run, []).append(s)
    return out


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metrics as dotted keys with scalar values (lists and long strings left out)."""
    out: dict[str, Any] = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) < 80):
            out[key] = v
    return out
