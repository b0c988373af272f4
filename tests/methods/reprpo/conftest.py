"""ReprPO tests: one torch thread (tiny models are latency bound, and two OpenMP threads spin
against other jobs on a shared 2-core machine), and a private stories260k copy, since training
wraps the model's layers with LoRA (removed again after each use)."""
import pytest

from interp.data import genies


@pytest.fixture(scope="module")
def stories_model():
    from interp.models import load_model

    return load_model("stories260k", device="cpu")


@pytest.fixture(scope="session")
def short_pairs():
    """Real GENIES pairs with short answers (alpaca_easy test), whose responses differ early."""
    return [p for p in genies("alpaca_easy", "test") if len(p.chosen) < 40 and len(p.rejected) < 40][:8]
