"""The Dask cluster that ``--scheduler`` names, shared by ``enso featurize`` and ``enso experiment``.

Work is shipped to ``dask.distributed`` workers as tasks; the workers read the workspace (features,
datasets) from a shared filesystem at the same path as the client, and send back what they computed.
Only the client writes files, so the atomic, resumable writers of each stage stay the only writers.
A worker that cannot see the workspace fails the run in one line naming it, before any work is lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from enso_ng.errors import EnsoError

ENV_SCHEDULER = "ENSO_SCHEDULER"
INSTALL_HINT = "--scheduler needs dask.distributed: pip install 'enso_ng[dask]'"
#: seconds to wait for the first worker of a scheduler that has none yet
WAIT_FOR_WORKERS = 60.0
#: Dask settings for the workers of ``local:N``, measured on the 300-cell logreg/knn/mlp benchmark grid
#: (``benchmarks/cluster.py``), where Dask's defaults made the workers' fitting 23% slower than in
#: ``--jobs`` processes: the nanny's ``MALLOC_TRIM_THRESHOLD_`` also pins glibc's mmap threshold at 128 KiB,
#: so every larger torch tensor is a fresh mmap and page faults, and the statistical profiler samples
#: every thread's stack 100 times a second. Without both, fitting is within 4% of ``--jobs``. The README
#: gives the same settings for workers users start themselves.
LOCAL_WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,  # None unsets it
    "distributed.worker.profile.enabled": False,
}


class WorkspaceNotVisible(Exception):
    """Raised on a worker whose filesystem does not hold the workspace path (picklable, one line)."""

    def __init__(self, worker: str, path: str, reason: str) -> None:
        super().__init__(worker, path, reason)
        self.worker, self.path, self.reason = worker, path, reason

    def line(self) -> str:
        return (
            f"worker {self.worker} cannot see the workspace: {self.path}: {self.reason} "
            f"(workers need the workspace at the same path, e.g. on a shared filesystem)"
        )


def local_workers(address: str) -> int | None:
    """N for ``local:N`` (a LocalCluster of N single-threaded workers), None for a scheduler address."""
    if not address.startswith("local:"):
        return None
    count = address.removeprefix("local:")
    if not count.isdigit() or int(count) < 1:
        raise EnsoError(f"--scheduler {address!r}: expected local:N with N a positive number of workers")
    return int(count)


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` on ``address`` (``tcp://HOST:PORT``, or ``local:N`` for a LocalCluster
    started here and stopped on exit), with at least one worker."""
    n = local_workers(address)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EnsoError(INSTALL_HINT) from None
    with contextlib.ExitStack() as stack:
        if n is not None:
            import dask

            stack.enter_context(dask.config.set(LOCAL_WORKER_CONFIG))
            # processes, one thread each: the grid's BLAS and torch run single-threaded per cell anyway
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # a free port: never a clash with a dashboard already running
                    silence_logs=logging.ERROR,
                )
            )
            target: Any = cluster
        else:
            target = address
        try:
            client = stack.enter_context(Client(target, timeout="10s"))
        except OSError as exc:
            raise EnsoError(f"--scheduler {address}: cannot connect ({exc})") from None
        try:
            client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
        except TimeoutError:
            raise EnsoError(f"--scheduler {address}: no worker joined within {WAIT_FOR_WORKERS:.0f} s") from None
        yield client


def check_path(path: str, worker: str | None = None) -> None:
    """On a worker: fail with :class:`WorkspaceNotVisible` unless ``path`` can be read there."""
    if worker is None:
        from distributed import get_worker

        worker = get_worker().address
    if not os.path.exists(path):
        raise WorkspaceNotVisible(worker, path, "no such file or directory")
    if not os.access(path, os.R_OK):
        raise WorkspaceNotVisible(worker, path, "permission denied")


def _visible(path: str, dask_worker: Any = None) -> str | None:
    """Run on every worker by :func:`check_workers_see` (Dask passes the worker): None, or why it
    cannot read ``path``."""
    try:
        check_path(path, dask_worker.address)
    except WorkspaceNotVisible as exc:
        return exc.line()
    return None


def check_workers_see(client: Any, paths: list[Path]) -> None:
    """Every worker now connected can read every path; else one line naming the first that cannot."""
    for path in paths:
        for line in client.run(_visible, str(path)).values():
            if line is not None:
                raise EnsoError(line)


def result_of(future: Any, address: str) -> Any:
    """A finished task's value; a worker that could not see the workspace becomes one line naming it, and so
    does the scheduler at ``address`` going away mid-run (killed, its machine lost: Dask cancels every
    future with the connection). A task's own error passes as it is."""
    from concurrent.futures import CancelledError

    try:
        return future.result()
    except WorkspaceNotVisible as exc:
        raise EnsoError(exc.line()) from None
    except (CancelledError, OSError, TimeoutError) as exc:
        if connected(future.client) and not isinstance(exc, CancelledError):
            raise
        raise EnsoError(
            f"--scheduler {address}: the scheduler went away mid-run ({type(exc).__name__}); what was written "
            f"before it is kept (a run's finished cells): rerun the same command to resume"
        ) from None


def connected(client: Any) -> bool:
    """Whether the client still has its scheduler (after a loss, cancelling or closing would only fail)."""
    return client.status == "running"
