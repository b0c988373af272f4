"""Run directories: the contract between pipelines and the explorer.

Every pipeline step writes into `runs/<name>/<step>/`: `config.json` (every setting, seed,
model spec, package versions), its artifacts, and `metrics.json` last, as the mark that the
step finished. A step whose `metrics.json` exists and whose config matches is skipped;
a different config is refused unless `force=True`.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.io import read_json, write_json
from interp.redact import SECRET_NAME, redact_obj

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# recorded in config.json but not settings: a run written before they existed is still the same run
METADATA = ("versions", "pipeline", "interp_version")


class RunConfigMismatch(RuntimeError):
    """A run directory already holds a step made with another configuration."""


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
