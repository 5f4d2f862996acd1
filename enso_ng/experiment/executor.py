"""Where groups of cells run: this process, local worker processes, or a Dask cluster.

An executor is a context manager: entering it sets up where the groups run (worker processes, a
connection to a cluster whose workers are checked to see the workspace), so a cluster that cannot run
the grid fails before the run's ``config.json`` is written; it gives an iterator of each group's result as
it finishes, in any order. The results writer alone touches files. Adding an executor is registering one
more function here.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager
from pathlib import Path

from enso_ng.errors import EnsoError
from enso_ng.experiment.cell import Group, GroupResult, run_group
from enso_ng.experiment.config import ExperimentConfig
from enso_ng.registry import Registry
from enso_ng.workspace import Workspace

Results = Iterator[tuple[GroupResult, Group]]
Executor = Callable[[list[Group], Path, ExperimentConfig], AbstractContextManager[Results]]
EXECUTORS: Registry[Executor] = Registry("executor")


@EXECUTORS.register("local")
@contextlib.contextmanager
def local(groups: list[Group], root: Path, config: ExperimentConfig) -> Iterator[Results]:
    """In order in this process, or with ``jobs > 1`` as worker processes complete them (started at the
    first result asked for, after ``config.json`` is written, as before executors were context managers)."""
    yield _local(groups, root, config)


def _local(groups: list[Group], root: Path, config: ExperimentConfig) -> Results:
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


@EXECUTORS.register("dask")
@contextlib.contextmanager
def dask(groups: list[Group], root: Path, config: ExperimentConfig) -> Iterator[Results]:
    """Each group a task on the cluster ``config.scheduler`` names (``local:N`` starts one here).

    Workers read the features from the workspace at the same path; a group whose worker dies is rerun by
    the scheduler on another, and each future completes once, so every cell reaches the writer once.
    """
    from enso_ng.cluster import check_workers_see, connect, connected

    if config.scheduler is None:
        raise EnsoError("the dask executor needs --scheduler ADDRESS (or local:N)")
    workspace = Workspace(Path(root))
    needed = sorted({workspace.features_path(g.dataset, g.featurizer) for g in groups})
    with connect(config.scheduler) as client:
        check_workers_see(client, needed)
        futures = {client.submit(_run_group_checked, str(root), config, g, pure=False): g for g in groups}
        try:
            yield _as_completed(futures, config.scheduler)
        finally:
            if connected(client):
                client.cancel(list(futures))


def _as_completed(futures: dict, address: str) -> Results:
    from distributed import as_completed

    from enso_ng.cluster import result_of

    for future in as_completed(list(futures)):
        group = futures.pop(future)
        yield result_of(future, address), group
        future.release()


def _run_group_checked(root: str, config: ExperimentConfig, group: Group) -> GroupResult:
    """On a worker: the group, after checking this worker sees its features (a worker may join late)."""
    from enso_ng.cluster import check_path

    check_path(str(Workspace(Path(root)).features_path(group.dataset, group.featurizer)))
    return run_group(Path(root), config, group)


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Worker initializer: the kernel kills this worker when the run's process dies, even by SIGKILL,
    so no orphan keeps its gigabyte of features (Linux; elsewhere workers notice a broken pipe later)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(1)
