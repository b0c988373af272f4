"""What the pages that run a model share: one loaded model per spec, one generation at a time, loaded SAEs.

Streamlit caches a resource per function, so the playground and the controller page take their model and
their lock from here: two pages never hold two copies of a model, and never attach hooks to one model at once.
"""
from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st


@st.cache_resource(show_spinner="Loading the base model...", max_entries=2)
def model(spec: str):
    from interp import load_model

    return load_model(spec)


@st.cache_resource
def lock() -> threading.Lock:
    return threading.Lock()  # one generation at a time: sessions share the model and its hooks


@st.cache_resource(show_spinner="Loading the SAE...", max_entries=8)
def _sae(folder: str, mtime: float, command: str):
    from app.explorer.sae_views import load_sae

    return load_sae(Path(folder), command)


def sae(folder: Path, command: str):
    """The SAE saved in `folder` (reloaded when its weights change), or MissingArtifact."""
    from app.explorer.rundata import MissingArtifact
    from interp.sae.train import SAE_WEIGHTS

    weights = Path(folder) / SAE_WEIGHTS
    try:
        mtime = weights.stat().st_mtime
    except OSError as e:
        raise MissingArtifact(weights, command) from e
    return _sae(str(folder), mtime, command)
