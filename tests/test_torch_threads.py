"""The test fixture that sizes torch's threads gives the previous count back, even when the block fails: a module
that wants one thread cannot change the threading of the tests that run after it."""

from __future__ import annotations

import pytest

from tests.conftest import torch_threads


def test_torch_threads_restores_the_count_it_found():
    torch = pytest.importorskip("torch")
    start = torch.get_num_threads()
    with torch_threads(2):  # a known count to come back to (OMP_NUM_THREADS=1 starts torch on one)
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="boom"):
            with torch_threads(1):
                raise RuntimeError("boom")
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == start
