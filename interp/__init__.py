"""interp: read and edit a language model's residual stream through one hooked backbone.

    import interp
    model = interp.load_model("smollm2-135m-instruct")
    acts = interp.capture_texts(model, ["Hello"], sites=[interp.resid_post(-1)])
    with interp.intervene(model, interp.AddVector(interp.resid_post(10), v, scale=4)):
        out = interp.generate(model, ["Tell me a story"], max_new_tokens=40)

Names are imported on first use, so `import interp.data` does not pay for torch and
transformer-lens.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "interp.models": ["load_model", "Model", "DEFAULT_MODEL"],
    "interp.sites": ["Site", "resid_pre", "resid_post", "mlp_out", "attn_out", "final", "parse_site", "pattern",
                     "attn_scores", "head_out", "mlp_pre", "mlp_post", "hook_site"],
    "interp.activations": ["capture", "capture_texts", "recording"],
    "interp.interventions": ["Intervention", "AddVector", "ProjectOut", "Replace", "ApplyFunction", "ApplyModule", "intervene"],
    "interp.generation": ["generate", "GenerationConfig", "Generation"],
    "interp.store": ["ActivationStore", "collect"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    if name in ("steering", "io", "runs", "data", "rewards", "metrics", "store", "sae", "divergence", "logprobs"):
        return importlib.import_module(f"interp.{name}")
    raise AttributeError(f"module 'interp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
