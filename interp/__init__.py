"""interp: read and edit a language model's residual stream through one hooked backbone.

    import interp
    model = interp.load_model("smollm2-135m-instruct")
    acts = interp.capture_texts(model, ["Hello"], sites=[interp.resid_post(-1)])
    with interp.intervene(model, interp.AddVector(interp.resid_post(10), v, scale=4)):
        out = interp.generate(model, ["Tell me a story"], max_new_tokens=40)
"""
from interp.capture import capture, capture_texts, recording
from interp.generation import Generation, GenerationConfig, generate
from interp.interventions import AddVector, ApplyFunction, ApplyModule, Intervention, ProjectOut, Replace, intervene
from interp.models import DEFAULT_MODEL, Model, load_model
from interp.sites import Site, attn_out, final, mlp_out, parse_site, resid_post, resid_pre

__all__ = [
    "load_model", "Model", "DEFAULT_MODEL",
    "Site", "resid_pre", "resid_post", "mlp_out", "attn_out", "final", "parse_site",
    "capture", "capture_texts", "recording",
    "Intervention", "AddVector", "ProjectOut", "Replace", "ApplyFunction", "ApplyModule", "intervene",
    "generate", "GenerationConfig", "Generation",
]


def __getattr__(name: str):
    # the store pulls in accelerate; import it on first use
    if name in ("ActivationStore", "collect"):
        import interp.store as store

        return getattr(store, name)
    raise AttributeError(f"module 'interp' has no attribute {name!r}")
