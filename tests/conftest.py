"""Shared test setup: offline, few threads (CI has 2 cores), models built once per session."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import pytest  # noqa: E402
import torch  # noqa: E402

# CI has 2 cores; under pytest-xdist (`-n 2`, one worker per core) each worker takes one of them
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, torch.get_num_threads()))

_MODELS: dict = {}
# tests of tiny models that are latency bound: two OpenMP threads spin against the other job on a
# shared 2-core machine, so these run on one torch thread (restored afterwards)
ONE_THREAD = ("methods/reprpo", "methods/reward_divergence", "interp/sae", "interp/store", "interp/test_divergence.py")
_TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def one_torch_thread(request):
    rel = os.path.relpath(str(request.node.path), _TESTS).replace(os.sep, "/")
    if not rel.startswith(ONE_THREAD):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
