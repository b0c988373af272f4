"""Store tests run torch on one thread: on a shared 2-core machine two OpenMP threads spin against
other jobs (a 20x slowdown measured), and the subprocess jobs they compare against use one thread too,
so in-process reference runs give bit-identical activations."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
