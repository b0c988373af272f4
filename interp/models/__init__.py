"""Model loading. Names are imported on first use, so a submodule that needs no model class
(`interp.models.lean_path`, `paths`, `cache_keyword`) does not pay for transformer-lens: the CLI
registers every method's pipeline at start-up, and `interp --help` should not take 10 seconds."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from interp.models.model import Model
    from interp.models.positions import positions_from_mask
    from interp.models.registry import DEFAULT_MODEL, REGISTERED, load_model, resolve_spec

_WHERE = {"Model": "interp.models.model", "positions_from_mask": "interp.models.positions",
          "load_model": "interp.models.registry", "resolve_spec": "interp.models.registry",
          "REGISTERED": "interp.models.registry", "DEFAULT_MODEL": "interp.models.registry"}
__all__ = ["Model", "load_model", "resolve_spec", "REGISTERED", "DEFAULT_MODEL", "positions_from_mask"]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'interp.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
