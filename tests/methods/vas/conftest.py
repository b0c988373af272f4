"""Value models with seeded random adapters and heads: Q values that vary across candidates."""
import pytest
import torch

from tests.conftest import cached_model

PROMPTS = ["Once upon a time, there was a big", "The cat", "Tom and Lily went to the park. They saw a"]


def random_value_model(backbone: str, seed: int, head: str = "linear", adapter: str = "lora"):
    """A value model whose LoRA B and head are random (a fresh one is constant across candidates)."""
    from methods.vas.value_model import ValueConfig, ValueModel

    torch.manual_seed(seed)
    value = ValueModel(ValueConfig(backbone, adapter=adapter, head=head), device="cpu")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in value.named_parameters():
            if "lora_B" in name or name.startswith("head."):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    return value.eval()


@pytest.fixture(scope="session")
def stories_base():
    return cached_model("stories260k")


@pytest.fixture(scope="session")
def stories_value():
    return random_value_model("stories260k", seed=1)


@pytest.fixture(scope="session")
def stories_value_2():
    return random_value_model("stories260k", seed=2)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread beats two (no thread hand-off per 64-wide matmul), most of all on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
