"""Embedding a dataset's blocks on a Dask cluster (``enso featurize --scheduler``).

The client fits the featurizer (tf-idf's vocabulary, a trained word2vec) and sends it to every worker
once, without loaded weights (each worker loads them itself, on its GPU where it has one); each block of
rows is a task, the very blocks a local run embeds, so the vectors are the same. The client takes the
blocks back in order and writes them into the one features file, so it is the only writer. At most a few
blocks per worker are in flight, which keeps the client's and the scheduler's memory flat.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from enso_ng.featurize.base import Featurizer

#: blocks in flight per worker: enough to keep each busy while the client writes the one in front
IN_FLIGHT_PER_WORKER = 2


@contextlib.contextmanager
def cluster_blocks(
    scheduler: str,
    model: Featurizer,
    texts: list[str],
    block_rows: int,
    timed: Callable[[Featurizer, list[str]], tuple[Any, dict[str, Any]]],
) -> Iterator[tuple[dict[str, Any], Iterator[Any]]]:
    """The featurizer's timing (measured by the worker that embeds the first block, with ``timed``) and
    an iterator over every block's vectors in row order, while the cluster is connected."""
    from enso_ng.cluster import connect, connected, result_of

    starts = list(range(0, len(texts), block_rows))
    with connect(scheduler) as client:
        [shared] = client.scatter([model], broadcast=True, hash=False)
        window = IN_FLIGHT_PER_WORKER * max(len(client.scheduler_info(n_workers=-1)["workers"]), 1)
        pending: deque = deque()

        def submit(start: int) -> None:
            block = texts[start : start + block_rows]
            first = start == 0
            pending.append(client.submit(_embed, shared, block, timed if first else None, pure=False))

        for start in starts[:window]:
            submit(start)
        queued = iter(starts[window:])
        X, timing = result_of(pending[0], scheduler)

        def blocks() -> Iterator[Any]:
            nonlocal X
            while pending:
                future = pending.popleft()
                vectors = X if X is not None else result_of(future, scheduler)[0]
                X = None
                future.release()
                following = next(queued, None)
                if following is not None:
                    submit(following)
                yield vectors

        try:
            yield timing, blocks()
        finally:
            if connected(client):
                client.cancel(list(pending))


def _embed(model: Featurizer, texts: list[str], timed: Callable | None) -> tuple[Any, dict[str, Any] | None]:
    """On a worker: one block's vectors (the first also times the featurizer, as a local run does)."""
    if timed is not None:
        return timed(model, texts)
    return model.transform(texts), None
