"""``enso predict --scheduler``: a large file's batches scored on a Dask cluster, written here in order.

As ``enso featurize --scheduler`` does with blocks of rows: the client reads the input batch by batch and
sends each batch's texts to a worker as a task; each worker loads the model folder itself (verified, as
``enso predict`` verifies it, from the same path: the folder must be on a filesystem every worker mounts)
once per process, and sends the scores back. The client writes the batches in input order, so the output
is the file a local run writes; at most a few batches per worker are in flight, so memory stays flat. An
encoder's ``--precision auto`` is measured once, on the client, on the first texts (as featurize does),
and the workers use what it chose.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.serve.inputs import Batch, ok_rows

#: batches in flight per worker: enough to keep each busy while the client writes the one in front
IN_FLIGHT_PER_WORKER = 2


def cluster_scores(
    scheduler: str, folder: Path, pipeline: Any, stream: Iterator[Batch], runtime: str
) -> Iterator[tuple[Batch, np.ndarray | None]]:
    """Each batch with its scorable rows' scores, in input order, computed by the cluster's workers."""
    from enso_ng.cluster import check_workers_see, connect, result_of

    folder = folder.resolve()
    precision = None
    pending: deque = deque()
    with connect(scheduler) as client:
        check_workers_see(client, [folder])
        window = IN_FLIGHT_PER_WORKER * max(len(client.scheduler_info(n_workers=-1)["workers"]), 1)
        try:
            for batch in stream:
                texts = [batch.texts[i] for i in ok_rows(batch)]
                if precision is None and texts:  # measured on the first texts there are
                    precision = _resolved_precision(pipeline, texts)
                future = None
                if texts:
                    digest = pipeline.manifest.digest
                    future = client.submit(score_on_worker, str(folder), digest, precision, runtime, texts, pure=False)
                pending.append((batch, future))
                while len(pending) >= window:
                    yield _done(pending.popleft(), lambda f: result_of(f, scheduler))
            while pending:
                yield _done(pending.popleft(), lambda f: result_of(f, scheduler))
        finally:
            client.cancel([future for _, future in pending if future is not None])


def _done(item: tuple[Batch, Any], result_of: Any) -> tuple[Batch, np.ndarray | None]:
    """A batch and its scores, once its task is done (a batch with nothing to score had none)."""
    batch, future = item
    if future is None:
        return batch, None
    scores = result_of(future)
    future.release()
    return batch, scores


def _resolved_precision(pipeline: Any, texts: list[str]) -> str:
    """The encoder's precision for every worker: ``auto`` measured here, once; '' where there is none."""
    featurizer = pipeline.featurizer
    if featurizer is None or not hasattr(featurizer, "precision"):
        return ""
    featurizer.prepare(texts)
    return str(featurizer.precision or "")


#: a worker process's loaded folder: (path, manifest digest, precision, runtime) -> the pipeline
_LOADED: dict[tuple, Any] = {}


def score_on_worker(folder: str, digest: str, precision: str, runtime: str, texts: list[str]) -> np.ndarray:
    """On a worker: the texts' scores by the folder's pipeline, loaded (and verified) once per process."""
    from enso_ng.cluster import check_path
    from enso_ng.serve.folder import load_model

    check_path(folder)
    key = (folder, digest, precision, runtime)
    if key not in _LOADED:
        _LOADED.clear()
        pipeline = load_model(Path(folder), precision=precision or None, runtime=runtime)
        if pipeline.manifest.digest != digest:
            raise EnsoError(f"{folder}: on a worker it holds another model than on the client; copy it again")
        _LOADED[key] = pipeline
    return _LOADED[key].scores(texts)
