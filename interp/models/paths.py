"""Where the project keeps converted models (INTERP_CACHE) and finds the shared data (INTERP_DATA)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Converted models live here; `INTERP_CACHE` overrides the default under the user's cache."""
    root = os.environ.get("INTERP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "interp"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The shared data folder: `INTERP_DATA`, else `../shared/data` beside the project checkout."""
    env = os.environ.get("INTERP_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if (parent / "pyproject.toml").exists() and candidate.exists():
            return candidate
    return Path.cwd().parent / "shared" / "data"
