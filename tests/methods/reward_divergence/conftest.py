"""Reward-divergence tests run torch on one thread (two OpenMP threads spin against other jobs on a
shared 2-core machine)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
