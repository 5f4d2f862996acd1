"""Where groups of cells run: this process, local worker processes, and (next) a cluster.

An executor takes the run's groups and yields each group's result as it finishes, in any order; the
results writer alone touches files. Adding an executor is registering one more function here.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from enso_ng.experiment.cell import Group, GroupResult, run_group
from enso_ng.experiment.config import ExperimentConfig
from enso_ng.registry import Registry

Executor = Callable[[list[Group], Path, ExperimentConfig], Iterator[tuple[GroupResult, Group]]]
EXECUTORS: Registry[Executor] = Registry("executor")


@EXECUTORS.register("local")
def local(groups: list[Group], root: Path, config: ExperimentConfig) -> Iterator[tuple[GroupResult, Group]]:
    """In order in this process, or with ``jobs > 1`` as worker processes complete them."""
    if config.jobs == 1 or len(groups) <= 1:
        for group in groups:
            yield run_group(root, config, group), group
        return
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited thread pools
    pool = ProcessPoolExecutor(
        max_workers=config.jobs, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
    )
    with pool:
        pending = {pool.submit(run_group, root, config, group): group for group in groups}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    group = pending.pop(future)
                    yield future.result(), group
        finally:
            for future in pending:
                future.cancel()


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Worker initializer: the kernel kills this worker when the run's process dies, even by SIGKILL,
    so no orphan keeps its gigabyte of features (Linux; elsewhere workers notice a broken pipe later)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(1)
