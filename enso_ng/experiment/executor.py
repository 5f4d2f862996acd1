"""Where groups of cells run: this process, local worker processes, and (next) a cluster.

An executor takes the run's groups and yields each group's result as it finishes, in any order; the
results writer alone touches files. Adding an executor is registering one more function here.
"""

from __future__ import annotations

import multiprocessing
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
    with ProcessPoolExecutor(max_workers=config.jobs, mp_context=context) as pool:
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
