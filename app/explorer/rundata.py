"""Finding and reading run directories for the explorer, with messages instead of tracebacks.

A run step is `runs/<name>/<step>/` holding config.json and, once finished, metrics.json.
Every reader here either returns data or raises `MissingArtifact`, whose message names the
file and the command that makes it; pages show that message.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def _read_json_or_problem(path: Path) -> tuple[Any, str | None]:
    if not path.exists():
        return None, None
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return None, f"{path} is not valid JSON ({e.__class__.__name__}); re-run the step with --force"


def discover(root: Path) -> list[StepInfo]:
    """Every step directory (one holding config.json) under `root`, sorted by run then step.

    Steps do not nest: a config.json inside a step (a saved Hugging Face model, a trainer
    checkpoint) belongs to that step's artifacts, not to another step.
    """
    if not root.exists():
        return []
    steps = []
    step_dirs: set[Path] = set()
    for cfg in sorted(root.rglob("config.json"), key=lambda p: (len(p.parts), p)):
        step_dir = cfg.parent
        rel = step_dir.relative_to(root)
        if len(rel.parts) < 2 or any(parent in step_dirs for parent in step_dir.parents):
            continue
        step_dirs.add(step_dir)
        config, p1 = _read_json_or_problem(cfg)
        metrics, p2 = _read_json_or_problem(step_dir / "metrics.json")
        steps.append(StepInfo("/".join(rel.parts[:-1]), rel.parts[-1], step_dir, config, metrics, p1 or p2))
    return sorted(steps, key=lambda s: (s.run, s.step))


def read_json(path: Path, command: str) -> Any:
    if not path.exists():
        raise MissingArtifact(path, command)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MissingArtifact(path, command, f"is half-written or corrupt ({e.__class__.__name__})") from e


def read_jsonl(path: Path, command: str) -> list[dict]:
    if not path.exists():
        raise MissingArtifact(path, command)
    rows = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MissingArtifact(path, command, f"is half-written or corrupt ({e.__class__.__name__})") from e
    return rows


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
