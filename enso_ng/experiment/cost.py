"""What a fitted model costs: stored values, serialized bytes, and the peak memory of its fit.

Users choose between strategies by accuracy *and* cost, so every cell records the same measures, taken
the same way for every model:

- ``parameters``: the numeric values the fitted model stores (weights, biases, a kNN's training vectors,
  a forest's tree nodes), counted by walking its fitted state, so no model can under-report;
- ``model_bytes``: the size of the fitted model pickled, what shipping it would cost;
- ``fit_peak_bytes``: the fit's peak resident memory above what the process held before it. Linux lets a
  process reset its high-water mark (``/proc/self/clear_refs``), which sees torch's and BLAS's memory
  too; elsewhere Python's ``tracemalloc`` peak (numpy included, torch not) stands in.
"""

from __future__ import annotations

import os
import pickle
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp

_CLEAR_REFS = "/proc/self/clear_refs"


def available_memory() -> int | None:
    """Bytes this machine can give a process now without swapping (Linux's MemAvailable, which counts
    reclaimable caches; elsewhere free pages), or None where it cannot tell."""
    found = _status("MemAvailable:", "/proc/meminfo")
    if found is not None:
        return found
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _status(key: str, source: str = "/proc/self/status") -> int | None:
    try:
        with open(source) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@contextmanager
def peak_memory() -> Iterator[Callable[[], int | None]]:
    """Yield a function that, after the block, gives the block's peak memory in bytes (None if unknown)."""
    result: list[int | None] = [None]
    before = _status("VmRSS:")
    if before is not None and _reset_high_water_mark():
        yield lambda: result[0]
        peak = _status("VmHWM:")
        result[0] = None if peak is None else max(0, peak - before)
        return
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        yield lambda: result[0]
    finally:
        result[0] = max(0, tracemalloc.get_traced_memory()[1] - start)
        if not tracing:
            tracemalloc.stop()


def stored_values(obj: Any, seen: set[int] | None = None) -> int:
    """Numeric values held by ``obj``'s state: arrays, tensors and sparse matrices, found recursively."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    torch = sys.modules.get("torch")  # no object is a tensor unless torch was imported: no need to import it
    if isinstance(obj, np.ndarray):
        return int(obj.size) if obj.dtype.kind in "biufc" else 0
    if torch is not None and isinstance(obj, torch.Tensor):
        return int(obj.numel())
    if sp.issparse(obj):
        return int(obj.nnz)
    if isinstance(obj, dict):
        return sum(stored_values(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(stored_values(v, seen) for v in obj)
    if torch is not None and isinstance(obj, torch.nn.Module):
        return sum(int(p.numel()) for p in obj.parameters())
    state = getattr(obj, "__dict__", None)
    if state is None or isinstance(obj, type):
        return 0
    return sum(stored_values(v, seen) for v in state.values())


def model_bytes(model: Any) -> int | None:
    """The fitted model's size, pickled: what storing or shipping it takes (None if it cannot be pickled)."""
    try:
        return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # a library object without pickle support: unknown, not zero
        return None
