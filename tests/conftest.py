"""Shared test setup: offline, few threads (CI has 2 cores), models built once per session."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

_MODELS: dict = {}


def cached_model(spec: str):
    """One loaded model per spec per test session (tests must not leave hooks behind)."""
    from interp.models import load_model

    if spec not in _MODELS:
        _MODELS[spec] = load_model(spec, device="cpu")
    return _MODELS[spec]


@pytest.fixture(scope="session")
def tiny_llama():
    return cached_model("tiny-random-llama")


@pytest.fixture(scope="session")
def stories():
    return cached_model("stories260k")


@pytest.fixture(scope="session")
def smollm2():
    return cached_model("smollm2-135m-instruct")
