"""One thread per process for fitting and selection: numpy's, scipy's and torch's pools otherwise
oversubscribe the cores (DESIGN.md, "Threads"), and results must not depend on how many there are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def one_thread() -> Iterator[None]:
    """BLAS and torch on one thread for the block."""
    with threadpool_limits(limits=1), torch_threads(1):
        yield
