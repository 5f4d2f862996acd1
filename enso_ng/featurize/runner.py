"""Featurize a dataset into ``features/<dataset>/<featurizer>.parquet``, or reuse a matching cache.

Rows are processed in fixed-size blocks and each block is written as a row group as soon as it is
computed, so peak memory does not grow with the dataset. The file appears only when complete.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.featurize.base import FEATURIZERS
from enso_ng.featurize.pairs import check_pairs, distinct_sides, pair_blocks
from enso_ng.featurize.sharded import cluster_blocks
from enso_ng.formats import TEXT_PAIR, FeaturesMeta, features_batch, features_schema, read_dataset
from enso_ng.progress import bar
from enso_ng.provenance import library_versions, machine
from enso_ng.workspace import Workspace, parquet_writer

BLOCK_ROWS = 4096


@dataclass
class Featurized:
    """What ``featurize`` did: the file's metadata, whether a cache was reused, and how long it took."""

    meta: FeaturesMeta
    cached: bool
    seconds: float = 0.0
    #: why a cache was not reused though its parameters matched (damaged file), for the user to hear
    note: str = ""


def featurize(
    dataset: str,
    featurizer: str,
    workspace: Workspace,
    options: dict[str, Any] | None = None,
    force: bool = False,
    scheduler: str | None = None,
) -> Featurized:
    """Write (or reuse) the features of one dataset; with ``scheduler``, its blocks embedded by the
    workers of that Dask cluster (``local:N``: a local one), into the same file a local run writes."""
    data_path = workspace.dataset_path(dataset)
    if not data_path.exists():
        raise EnsoError(f"no dataset {dataset!r} in {workspace.datasets_dir} (run: enso download {dataset})")
    table, data_meta = read_dataset(data_path)
    model = FEATURIZERS.get(featurizer)(**(options or {}))
    texts = table.column("text").to_pylist()
    sides = None
    if data_meta.pairs and model.pairs == "cross":  # each pair one input: [CLS] text [SEP] text_pair [SEP]
        texts = list(zip(texts, table.column(TEXT_PAIR).to_pylist()))
    elif data_meta.pairs:  # both sides embedded in one pass over the distinct texts, rows rebuilt from them
        texts, sides = distinct_sides(texts, table.column(TEXT_PAIR).to_pylist())
    model.prepare(texts)
    if sides is not None:
        check_pairs(model, dataset)
    key = {"dataset_fingerprint": data_meta.fingerprint, "featurizer": featurizer, "params": model.params()}
    path = workspace.features_path(dataset, featurizer)
    note = ""
    if path.exists() and not force:
        existing, note = FeaturesMeta.read_verified(path, "cached")
        if existing is not None and existing.cache_key() == key:
            return Featurized(existing, cached=True)

    started = time.perf_counter()
    labels = table.column("label").to_pylist()
    splits = table.column("split").to_pylist()
    extra = _pair_report(data_meta.pairs, sides, texts)
    model.fit(texts)
    with contextlib.ExitStack() as stack:
        # open before the first (timed) block, so the bar counts from the start of the work
        rows = _Rows(stack.enter_context(bar(len(texts), desc=f"{featurizer} {dataset}", unit="text")))
        stack.callback(setattr, model, "on_rows", None)
        if scheduler is None:
            model.on_rows = rows.heard
            first, timing = _timed_first_block(model, texts)
            blocks = _local_blocks(model, texts, first)
        else:
            timing, blocks = stack.enter_context(
                cluster_blocks(scheduler, model, texts, BLOCK_ROWS, _timed_first_block)
            )
        if sides is not None:  # every distinct text embedded (and counted), then the rows built from them
            blocks = pair_blocks(list(blocks), sides, BLOCK_ROWS)
            meta = _write(path, model, key, dataset, sides, labels, splits, timing, blocks, _Rows(_Silent()), 2, extra)
        else:
            meta = _write(path, model, key, dataset, texts, labels, splits, timing, blocks, rows, 1, extra)
    meta.report = {**model.report(), **extra}  # what transforming saw too; the file keeps what fitting saw
    return Featurized(meta, cached=False, seconds=time.perf_counter() - started, note=note)


class _Rows:
    """The bar's count: texts the featurizer says it embedded (per batch, where it works in batches), topped
    up to the block's size when the block is written (featurizers that do a block in one go)."""

    def __init__(self, progress: Any) -> None:
        self.progress, self.in_block = progress, 0

    def heard(self, rows: int) -> None:
        self.in_block += rows
        self.progress.update(rows)

    def written(self, rows: int) -> None:
        self.progress.update(max(rows - self.in_block, 0))
        self.in_block = 0


def _pair_report(pairs: bool, sides: Any, embedded: Sized) -> dict[str, Any]:
    """A pair file's own report entries: the distinct texts a ``[u, v]`` file embedded, or that its rows are
    cross-encoded pairs (what ``finetune`` and the refusals read)."""
    if not pairs:
        return {}
    return {"distinct_texts": len(embedded)} if sides is not None else {"pairs": "cross"}


class _Silent:
    """A bar that shows nothing: a pair file's rows are written after its distinct texts were counted."""

    def update(self, rows: int) -> None:
        pass


def _local_blocks(model: Any, texts: list[str], first: Any) -> Iterator[Any]:
    yield first
    for start in range(BLOCK_ROWS, len(texts), BLOCK_ROWS):
        yield model.transform(texts[start : start + BLOCK_ROWS])


def _write(
    path: Path,
    model: Any,
    key: dict[str, Any],
    dataset: str,
    texts: Sized,
    labels: list,
    splits: list,
    timing: dict[str, Any],
    blocks: Iterator[Any],
    progress: _Rows,
    sides: int = 1,
    extra: dict[str, Any] | None = None,
) -> FeaturesMeta:
    """The features file, one row group per block as it comes, renamed into place when complete."""
    schema = features_schema(model.layout, model.dim * sides, model.dtype)
    if model.sequence:  # the size a user pays for keeping every token, known before the file is written
        blocks = iter(blocks)
        first = next(blocks)
        timing["bytes_per_1k"] = _bytes_per_1k(
            features_batch(
                model.layout, schema, np.arange(len(first)), labels[: len(first)], splits[: len(first)], first
            )
        )
        blocks = itertools.chain([first], blocks)
    meta = FeaturesMeta(
        dataset=dataset,
        **key,
        dim=model.dim * sides,
        rows=len(texts),
        layout=model.layout,
        layers=model.layers,
        sides=sides,
        # What fitting saw (truncated texts, out-of-vocabulary rate) belongs with the vectors it explains.
        report={**model.report(), **(extra or {})},
        timing=timing,
        versions=library_versions(),
        created=datetime.now(UTC).isoformat(timespec="microseconds"),  # identity(): two writes in one second differ
    )
    with parquet_writer(path, schema, meta.to_dict()) as writer:
        for start, X in zip(range(0, len(texts), BLOCK_ROWS), blocks):
            stop = min(start + BLOCK_ROWS, len(texts))
            rows = np.arange(start, stop, dtype=np.int64)
            writer.write_batch(features_batch(model.layout, schema, rows, labels[start:stop], splits[start:stop], X))
            progress.written(stop - start)
    return meta


def _bytes_per_1k(batch: Any) -> int:
    """Bytes per 1,000 texts of the first block written as the file writes it (Parquet, zstd)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_batches([batch]), sink, compression="zstd")
    return round(1000 * sink.getvalue().size / max(batch.num_rows, 1))


def _timed_first_block(model: Any, texts: list[str]) -> tuple[Any, dict[str, Any]]:
    """The first block's vectors, and the featurizer's inference cost measured on it.

    One text is embedded first, untimed, so loading weights does not count as per-document cost. The
    metadata is written before the rows, so the rate comes from the first block (the whole dataset below
    4,096 texts); it is what ``enso experiment`` adds to each model's inference time per document.
    """
    import torch

    hook, model.on_rows = model.on_rows, None  # the untimed warm-up text is not progress
    model.transform(texts[:1])
    model.on_rows = hook
    stop = min(BLOCK_ROWS, len(texts))
    started = time.perf_counter()
    X = model.transform(texts[:stop])
    seconds = time.perf_counter() - started
    timing = {
        "seconds_per_1k": round(1000 * seconds / stop, 6),
        "timed_texts": stop,
        "torch_threads": torch.get_num_threads(),
        "machine": machine(),
        # how busy the machine was: a rate measured beside other work is slower than the featurizer is
        "load_1min": round(os.getloadavg()[0], 2),
    }
    return X, timing
