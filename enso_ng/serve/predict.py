"""``enso predict``: score texts with a model folder, batch by batch, into parquet, csv, jsonl or stdout.

One output row per input row: its position (``row``), its id (``--id-column``), a ``status`` (``ok``, or why
it was not scored), the predicted label and each class's probability (``proba_<label>``; an SVM's margins
as ``score_<label>``), or the ``top_k`` labels and theirs. Memory holds one batch; the output file appears
whole when the last batch is written (never a partial file).
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from enso_ng.errors import EnsoError, either
from enso_ng.progress import bar
from enso_ng.serve.distributed import cluster_scores
from enso_ng.serve.folder import load_model
from enso_ng.serve.inputs import OK, Batch, batches, input_format, ok_rows
from enso_ng.serve.pipeline import Pipeline
from enso_ng.workspace import Workspace, atomic_path

OUTPUT_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl"}


@dataclass
class Predicted:
    output: str
    rows: int = 0
    scored: int = 0
    #: status -> rows not scored for that reason
    not_scored: dict[str, int] = field(default_factory=dict)
    #: predicted label -> rows
    labels: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        """The summary: rows written, scored, and those not scored by reason (none is dropped silently)."""
        skipped = ", ".join(f"{n} {status}" for status, n in sorted(self.not_scored.items()))
        return (
            f"{'wrote ' + self.output if self.output != '-' else 'scored'}: {self.rows} rows, {self.scored} scored"
            + (f"; not scored: {skipped}" if skipped else "")
            + f" in {self.seconds:.1f} s"
        )


def model_folder(workspace: Workspace, model: str) -> Path:
    """A model by name (``models/<name>/`` of the workspace) or by path, written as one (``./name``, a ``/``).

    A plain name is always the workspace's, checked as every name is: a folder of that name in the current
    directory does not shadow it (that would score with another model, silently)."""
    if "/" in model or os.sep in model or model.startswith("."):
        return Path(model)
    return workspace.model_dir(model)


def predict(
    folder: Path,
    source: str,
    output: str | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    top_k: int | None = None,
    batch_rows: int = 4096,
    input_fmt: str | None = None,
    output_fmt: str | None = None,
    precision: str | None = None,
    runtime: str = "torch",
    scheduler: str | None = None,
) -> Predicted:
    """Score ``source``'s rows with the folder's pipeline (here, or batch by batch on the Dask cluster that
    ``scheduler`` names) and write one output row per input row."""
    started = time.perf_counter()
    if batch_rows < 1:
        raise EnsoError(f"--batch-size must be positive, not {batch_rows}")
    fmt_out = _output_format(output, output_fmt)
    pipeline = load_model(folder, precision=precision, runtime=runtime)
    if top_k is not None and not 1 <= top_k <= len(pipeline.labels):
        raise EnsoError(f"--top-k must be between 1 and {len(pipeline.labels)} (the model's classes), not {top_k}")
    total, stream = batches(source, input_format(source, input_fmt), text_column, id_column, batch_rows)
    schema = output_schema(pipeline, id_column is not None, top_k)
    done = Predicted(output or "-")
    statuses: collections.Counter = collections.Counter()
    labels: collections.Counter = collections.Counter()
    scored = iter(
        ((batch, None) for batch in stream)
        if scheduler is None
        else cluster_scores(scheduler, Path(folder), pipeline, stream, pipeline.runtime)
    )
    # the first batch is read before the output is opened: an input the reader refuses at its start (no
    # such column, a malformed header) leaves no output at all, not even a header on standard output
    first = next(scored, None)
    with _writer(output, fmt_out, schema) as write, bar(total, "predict", "rows") as progress:
        for batch, given in itertools.chain([first] if first is not None else [], scored):
            table = score_batch(pipeline, batch, schema, top_k, given)
            write(table)
            statuses.update(batch.statuses)
            labels.update(_counts(table.column("label")))
            done.rows += len(batch)
            progress.update(len(batch))
    done.scored = statuses.pop(OK, 0)
    done.not_scored = dict(statuses)
    done.labels = dict(labels.most_common())
    done.seconds = time.perf_counter() - started
    return done


def _output_format(output: str | None, given: str | None) -> str:
    if output not in (None, "-") and Path(str(output)).is_dir():
        raise EnsoError(f"{output}: is a folder; -o takes a file name (e.g. {Path(str(output)) / 'scored.parquet'})")
    if given:
        return given
    if output in (None, "-"):
        return "csv"
    suffix = Path(str(output)).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise EnsoError(
            f"{output}: cannot tell the output format from {suffix or 'no suffix'!r}; give --format ({either(sorted(OUTPUT_FORMATS.values()))})"
        )
    return OUTPUT_FORMATS[suffix]


def output_schema(pipeline: Pipeline, with_id: bool, top_k: int | None) -> pa.Schema:
    prefix = "proba" if pipeline.score_kind == "proba" else "score"
    fields = [pa.field("row", pa.int64())]
    if with_id:
        fields.append(pa.field("id", pa.string()))
    fields += [pa.field("status", pa.string()), pa.field("label", pa.string())]
    if top_k is None:
        fields += [pa.field(f"{prefix}_{label}", pa.float64()) for label in pipeline.labels]
    else:
        for k in range(1, top_k + 1):
            fields += [pa.field(f"label_{k}", pa.string()), pa.field(f"{prefix}_{k}", pa.float64())]
    return pa.schema(fields)


def score_batch(
    pipeline: Pipeline, batch: Batch, schema: pa.Schema, top_k: int | None, given: np.ndarray | None = None
) -> pa.Table:
    """The batch's output rows; ``given``: its scorable rows' scores, computed elsewhere (a cluster worker)."""
    ok = ok_rows(batch)
    n, labels = len(batch), np.asarray(pipeline.labels, dtype=object)
    scores = np.full((n, len(labels)), np.nan)
    if len(ok):
        scores[ok] = pipeline.scores([batch.texts[i] for i in ok]) if given is None else given
    valid = np.zeros(n, dtype=bool)
    valid[ok] = True
    columns: dict[str, pa.Array] = {"row": pa.array(np.arange(batch.start, batch.start + n, dtype=np.int64))}
    if "id" in schema.names:
        columns["id"] = pa.array(batch.ids, pa.string())
    columns["status"] = pa.array(batch.statuses, pa.string())
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), axis=1, kind="stable")
    columns["label"] = pa.array(labels[order[:, 0]], pa.string(), mask=~valid)
    names = schema.names[len(columns) :]
    if top_k is None:
        for name, column in zip(names, scores.T):
            columns[name] = pa.array(column, pa.float64(), mask=~valid)
    else:
        for k in range(top_k):
            columns[names[2 * k]] = pa.array(labels[order[:, k]], pa.string(), mask=~valid)
            columns[names[2 * k + 1]] = pa.array(
                np.take_along_axis(scores, order[:, k : k + 1], 1)[:, 0], pa.float64(), mask=~valid
            )
    return pa.Table.from_pydict(columns, schema=schema)


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    """Rows per predicted label (missing labels, of rows not scored, left out), counted by Arrow."""
    import pyarrow.compute as pc

    return {row["values"]: row["counts"] for row in pc.value_counts(column.drop_null()).to_pylist()}


@contextlib.contextmanager
def _writer(output: str | None, fmt: str, schema: pa.Schema) -> Iterator:
    """A function that writes one table; to a file atomically, or to stdout as it goes."""
    if output in (None, "-"):
        stream = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
        if stream is None:  # a captured stdout (click's test runner) takes text
            buffer = io.BytesIO()
            with _format_writer(buffer, fmt, schema) as write:
                yield write
            sys.stdout.write(buffer.getvalue().decode())
            return
        with _format_writer(stream, fmt, schema) as write:
            yield write
        stream.flush()
        return
    with atomic_path(Path(output)) as tmp, open(tmp, "wb") as fh, _format_writer(fh, fmt, schema) as write:
        yield write


@contextlib.contextmanager
def _format_writer(sink, fmt: str, schema: pa.Schema) -> Iterator:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        writer = pq.ParquetWriter(sink, schema, compression="zstd")
        try:
            yield writer.write_table
        finally:
            writer.close()
    elif fmt == "csv":
        writer = pcsv.CSVWriter(sink, schema)
        try:
            yield writer.write_table
        finally:
            writer.close()
    elif fmt == "jsonl":
        import json

        def write(table: pa.Table) -> None:
            for record in table.to_pylist():
                sink.write((json.dumps(record, allow_nan=False) + "\n").encode())

        yield write
    else:
        raise EnsoError(f"--format {fmt!r} is not one of {either(sorted(OUTPUT_FORMATS.values()))}")
