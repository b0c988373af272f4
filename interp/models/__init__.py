from interp.models.model import Model, positions_from_mask
from interp.models.registry import DEFAULT_MODEL, REGISTERED, load_model, resolve_spec

__all__ = ["Model", "load_model", "resolve_spec", "REGISTERED", "DEFAULT_MODEL", "positions_from_mask"]
