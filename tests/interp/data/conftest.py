"""Data tests never reach a hub: loaders that would fall back to one are made to fail fast."""
import pytest

from interp.models.paths import data_dir


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data():
    root = data_dir()
    assert root.is_dir(), f"shared data folder {root} missing: set INTERP_DATA to the folder holding hh-rlhf/, genies/, rt-polarity/"
    return root
