"""The file contracts between stages, in code.

Stages never import each other; they share these schemas and the functions that encode and decode them,
so the shape of ``datasets/``, ``features/`` and ``results/`` files is defined in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from enso_ng.errors import EnsoError
from enso_ng.workspace import read_meta, read_table

DATASET_SCHEMA = pa.schema([
    pa.field("text", pa.string(), nullable=False),
    pa.field("label", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=True),
])
SPLITS = ("train", "validation", "test")

RESULTS_SCHEMA = pa.schema([
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("featurizer", pa.string(), nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("train_size", pa.int64(), nullable=False),
    pa.field("split", pa.int64(), nullable=False),  # the split seed
    pa.field("metric", pa.string(), nullable=False),
    pa.field("value", pa.float64(), nullable=False),
    pa.field("fit_seconds", pa.float64(), nullable=False),
    pa.field("predict_seconds", pa.float64(), nullable=False),
    pa.field("params", pa.string(), nullable=False),  # chosen hyper-parameters, JSON
])
RESULT_KEY = ("dataset", "featurizer", "model", "train_size", "split")

#: ``results/<run>/confusion.parquet``: test-set confusion counts of every cell (for confusion matrices)
CONFUSION_SCHEMA = pa.schema([
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("featurizer", pa.string(), nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("train_size", pa.int64(), nullable=False),
    pa.field("split", pa.int64(), nullable=False),
    pa.field("true_label", pa.string(), nullable=False),
    pa.field("predicted_label", pa.string(), nullable=False),
    pa.field("count", pa.int64(), nullable=False),
])


def read_dataset(path: Path) -> tuple[pa.Table, dict[str, Any]]:
    """A dataset table and its metadata, checked against the contract."""
    meta = read_meta(path)
    table = read_table(path)
    missing = {"text", "label", "split"} - set(table.column_names)
    if missing:
        raise EnsoError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return table, meta


def features_schema(dim: int, sparse: bool) -> pa.Schema:
    base = [pa.field("row", pa.int64(), nullable=False), pa.field("label", pa.string()), pa.field("split", pa.string())]
    if sparse:
        return pa.schema(base + [pa.field("indices", pa.list_(pa.int32())), pa.field("values", pa.list_(pa.float32()))])
    return pa.schema(base + [pa.field("features", pa.list_(pa.float32(), dim))])


def features_batch(schema: pa.Schema, rows: np.ndarray, labels: list, splits: list, X: Any) -> pa.RecordBatch:
    """Encode a block of feature vectors (dense array or CSR matrix) as one record batch."""
    columns = [pa.array(rows, pa.int64()), pa.array(labels, pa.string()), pa.array(splits, pa.string())]
    if sp.issparse(X):
        X = X.tocsr()
        offsets = pa.array(X.indptr.astype(np.int32))
        columns.append(pa.ListArray.from_arrays(offsets, pa.array(X.indices.astype(np.int32))))
        columns.append(pa.ListArray.from_arrays(offsets, pa.array(X.data.astype(np.float32))))
    else:
        X = np.ascontiguousarray(X, dtype=np.float32)
        columns.append(pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), X.shape[1]))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


@dataclass
class Features:
    """A features file decoded for modelling."""

    X: np.ndarray | sp.csr_matrix
    labels: np.ndarray
    splits: np.ndarray
    rows: np.ndarray
    meta: dict[str, Any]


def read_features(path: Path) -> Features:
    meta = read_meta(path)
    table = read_table(path)
    dim = int(meta["dim"])
    if "indices" in table.column_names:
        indices, values = table.column("indices").combine_chunks(), table.column("values").combine_chunks()
        indptr = indices.offsets.to_numpy()
        X: Any = sp.csr_matrix(
            (values.values.to_numpy(), indices.values.to_numpy(), indptr), shape=(table.num_rows, dim)
        )
        data = X.data
    else:
        flat = table.column("features").combine_chunks().flatten().to_numpy()
        X = flat.reshape(table.num_rows, dim)
        data = flat
    if not np.isfinite(data).all():
        raise EnsoError(f"{path}: features contain NaN or infinite values")
    return Features(
        X=X,
        labels=np.asarray(table.column("label").to_pylist(), dtype=object),
        splits=np.asarray(table.column("split").to_pylist(), dtype=object),
        rows=table.column("row").to_numpy(),
        meta=meta,
    )
