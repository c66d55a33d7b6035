"""Fixtures shared by the training tests."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny networks: a second intra-op thread mostly spins, and on a busy 2-core machine that costs
    # several times the CPU time of the work itself. Restored after each module.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
