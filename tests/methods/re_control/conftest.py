"""RE-Control tests run tiny models (d_model 64): one intra-op thread is faster than two, and much
faster on a shared machine where a second thread waits for a busy core."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
