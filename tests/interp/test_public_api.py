"""The top-level names analysis scripts import are the functions, whatever was imported before."""
import importlib


def test_top_level_names_are_callables_after_submodule_imports():
    importlib.import_module("interp.generation")
    importlib.import_module("interp.store.collect")
    import interp
    from interp import ActivationStore, capture, collect, generate, intervene, load_model

    for fn in (capture, collect, generate, intervene, load_model):
        assert callable(fn) and not isinstance(fn, type(interp)), fn
    assert isinstance(ActivationStore, type)
    assert set(interp.__all__) >= {"load_model", "capture", "intervene", "generate", "ActivationStore", "resid_post", "final"}
