"""The file contracts between stages, in code: each declared once, typed, and checked when read.

Stages never import each other; they share these schemas, the metadata records and the functions that
encode and decode them, so the shape of ``datasets/``, ``features/`` and ``results/`` files is defined in
exactly one place. A reader that meets a file breaking its contract fails with one line naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from enso_ng.errors import EnsoError, shown
from enso_ng.workspace import META_KEY, read_meta, read_table, unreadable, write_json

# ---------------------------------------------------------------------------------------- metadata records

M = TypeVar("M", bound="Record")


@dataclass
class Record:
    """A metadata record stored as JSON: every field declared here, missing required fields an error.

    Keys a newer writer added are kept in ``extra`` and written back, so an older reader never drops them.
    """

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {"kind": self.kind, **out, **getattr(self, "extra", {})}

    @classmethod
    def from_dict(cls: type[M], data: dict[str, Any], where: Any) -> M:
        if data.get("kind", cls.kind) != cls.kind:
            raise EnsoError(f"{where}: holds {data.get('kind')!r} metadata, not {cls.kind!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in data]
        if missing:
            raise EnsoError(f"{where}: {cls.kind} metadata lacks {', '.join(missing)}; was it written by enso_ng?")
        known = {k: v for k, v in data.items() if k in names and k != "extra"}
        extra = {k: v for k, v in data.items() if k not in names and k != "kind"}
        record = cls(**known)
        if "extra" in names:
            record.extra = extra  # type: ignore[attr-defined]
        return record

    @classmethod
    def read(cls: type[M], path: Path) -> M:
        """The record stored in a Parquet file's schema metadata."""
        return cls.from_dict(read_meta(path), path)

    @classmethod
    def read_verified(cls: type[M], path: Path, what: str) -> tuple[M | None, str]:
        """The record, if the whole file also reads back as its ``rows`` rows; else None and a note saying
        why the file (``what``: "existing", "cached") is rebuilt. Footers survive damage in the middle."""
        try:
            record = cls.read(path)
        except EnsoError as exc:
            return None, f"rebuilt {path}: the {what} file {str(exc).removeprefix(f'{path}: ')}"
        reason = unreadable(path, record.rows)  # type: ignore[attr-defined]
        return (None, f"rebuilt {path}: the {what} file {reason}") if reason else (record, "")


@dataclass
class DatasetMeta(Record):
    """``datasets/<name>.parquet``: where the rows came from and what cleaning did to them."""

    kind: ClassVar[str] = "dataset"
    name: str
    fingerprint: str
    rows: int
    labels: dict[str, int]
    splits: dict[str, int] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    recipe: dict[str, Any] = field(default_factory=dict)
    task: str = ""
    description: str = ""
    licence: str = ""
    citation: str = ""
    homepage: str = ""
    note: str = ""
    dropped: dict[str, int] = field(default_factory=dict)
    repaired_rows: int = 0
    #: rows whose label was NFC-normalised on import (two spellings of one label are one class)
    normalised_labels: int = 0
    #: test rows, those repeating a training text exactly, and those of them with another label ({} without
    #: a test split)
    test_overlap: dict[str, int] = field(default_factory=dict)
    #: a sentence-pair dataset: each row holds a second text in ``text_pair`` (see :func:`dataset_schema`)
    pairs: bool = False
    enso_ng_version: str = ""
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FeaturesMeta(Record):
    """``features/<dataset>/<featurizer>.parquet``: what made the vectors, so a cache is reused only on a match."""

    kind: ClassVar[str] = "features"
    dataset: str
    dataset_fingerprint: str
    featurizer: str
    #: every parameter that changes the vectors, weights' sha256 included
    params: dict[str, Any]
    dim: int
    rows: int
    #: how the rows are stored, one of :data:`LAYOUTS` (each read and written by its codec in :data:`CODECS`)
    layout: str = "dense"
    #: vectors per row, stored flattened (layers x dim / layers)
    layers: int = 1
    #: 2 for a pair dataset: each row holds its first text's vector then its second's (``dim`` = 2 x one side's)
    sides: int = 1
    #: what the run saw (truncated texts, out-of-vocabulary rate, precision used)
    report: dict[str, Any] = field(default_factory=dict)
    #: inference cost: seconds to embed 1,000 texts, timed on the first block (up to 4,096 texts), and where
    timing: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def cache_key(self) -> dict[str, Any]:
        """What a request must match for this file to be reused."""
        return {"dataset_fingerprint": self.dataset_fingerprint, "featurizer": self.featurizer, "params": self.params}

    def identity(self) -> str:
        """A digest of what made this file and when (parameters, dataset, rows, the time it was written): a
        run checks it before each group, so features rewritten under it, even with the same parameters, are
        noticed rather than mixed into its cells."""
        made = [self.dataset_fingerprint, self.featurizer, self.params, self.rows, self.dim, self.layout, self.created]
        return hashlib.sha256(json.dumps(made, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def provenance(self) -> dict[str, Any]:
        """The part of the metadata a run records for each features file it used."""
        return {
            "dataset_fingerprint": self.dataset_fingerprint,
            "timing": self.timing,
            "params": self.params,
            "dim": self.dim,
            "layout": self.layout,
            "layers": self.layers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: Any) -> FeaturesMeta:
        """The record; a file written before ``layout`` existed says it by three flags, read as the layout."""
        if "layout" not in data:
            flags = {k: data.get(k) for k in ("sparse", "tokens", "sequence")}
            layout = (
                TOKEN_IDS
                if flags["tokens"]
                else TOKEN_VECTORS
                if flags["sequence"]
                else SPARSE
                if flags["sparse"]
                else DENSE
            )
            data = {**{k: v for k, v in data.items() if k not in flags}, "layout": layout}
        record = super().from_dict(data, where)
        if record.layout not in LAYOUTS:
            raise EnsoError(f"{where}: features layout {record.layout!r} is not one of {', '.join(LAYOUTS)}")
        return record


# ---------------------------------------------------------------------------------------- datasets/

DATASET_SCHEMA = pa.schema(
    [
        pa.field("text", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=True),
    ]
)
SPLITS = ("train", "validation", "test")
#: a sentence-pair dataset (``DatasetMeta.pairs``: paraphrase, entailment, a résumé and a job) holds each row's
#: second text here, non-empty like ``text``; single-text datasets have no such column. Its features files
#: hold both sides' vectors (``FeaturesMeta.sides`` = 2) and the experiment stage combines them.
TEXT_PAIR = "text_pair"


def dataset_schema(pairs: bool = False) -> pa.Schema:
    """The columns of a dataset file: ``DATASET_SCHEMA``, and ``text_pair`` for a pair dataset."""
    return DATASET_SCHEMA.append(pa.field(TEXT_PAIR, pa.string(), nullable=False)) if pairs else DATASET_SCHEMA


def read_dataset(path: Path) -> tuple[pa.Table, DatasetMeta]:
    """A dataset table and its metadata, checked against the contract."""
    meta = DatasetMeta.read(path)
    table = read_table(path)
    missing = {"text", "label", "split", *([TEXT_PAIR] if meta.pairs else [])} - set(table.column_names)
    if missing:
        raise EnsoError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return table, meta


# ---------------------------------------------------------------------------------------- features/

#: the closed set of features-file layouts; ``FeaturesMeta.layout`` names one, and its codec in :data:`CODECS`
#: alone writes and reads it (never sniffing columns):
#: ``dense``: ``features``, ``fixed_size_list<float32>[dim]`` (several layers flattened, ``layers`` says how many);
#: ``sparse``: ``indices``/``values`` lists (tf-idf); ``token_ids``: an encoder's ``tokens`` (int32 lists, for
#: models that fine-tune it; ``dim`` is the most a row may hold); ``token_vectors`` (``pooling=none``): each text's
#: ``length`` (int32, tokens kept) and ``vectors``, one ``dim``-wide float32 or float16 vector per token, padding
#: never stored, at most ``max_tokens`` per text (the texts cut counted in ``report.capped``).
DENSE, SPARSE, TOKEN_IDS, TOKEN_VECTORS = "dense", "sparse", "token_ids", "token_vectors"
LAYOUTS = (DENSE, SPARSE, TOKEN_IDS, TOKEN_VECTORS)
#: the featurizers that write ``token_vectors`` with ``-o pooling=none`` (``bert`` every token the encoder
#: read, [CLS] and [SEP] included; ``glove`` each known word; ``elmo`` each word): named here so that the
#: experiment stage, which meets other layouts, can say which make them (a test checks it against the registry)
TOKEN_VECTOR_FEATURIZERS = ("bert", "elmo", "glove")
#: the featurizers that learn from the dataset's own texts (a vocabulary, trained vectors): two datasets'
#: files of one of them are in two spaces, so a model trained on one cannot score the other (transfer)
CORPUS_FEATURIZERS = ("doc2vec", "fasttext", "tfidf", "word2vec")


@dataclass(frozen=True)
class Codec:
    """One layout's storage: its columns (``schema(dim, dtype)``), ``encode(schema, X)`` giving the columns of
    a block, and ``decode(path, table, meta)`` giving the matrix and the numbers that must be finite."""

    schema: Callable[[int, str], list[pa.Field]]
    encode: Callable[[pa.Schema, Any], list[pa.Array]]
    decode: Callable[[Path, pa.Table, Any], tuple[Any, np.ndarray]]


def _dense_encode(schema: pa.Schema, X: Any) -> list[pa.Array]:
    X = np.ascontiguousarray(X, dtype=np.float32)
    return [pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), X.shape[1])]


def _dense_decode(path: Path, table: pa.Table, meta: Any) -> tuple[Any, np.ndarray]:
    flat = table.column("features").combine_chunks().flatten().to_numpy()
    if flat.size != table.num_rows * meta.dim:
        raise EnsoError(f"{path}: features hold {flat.size} values, not rows x dim = {table.num_rows} x {meta.dim}")
    return flat.reshape(table.num_rows, meta.dim), flat


def _sparse_encode(schema: pa.Schema, X: Any) -> list[pa.Array]:
    X = sp.csr_matrix(X)
    offsets = pa.array(X.indptr.astype(np.int32))
    return [
        pa.ListArray.from_arrays(offsets, pa.array(X.indices.astype(np.int32))),
        pa.ListArray.from_arrays(offsets, pa.array(X.data.astype(np.float32))),
    ]


def _sparse_decode(path: Path, table: pa.Table, meta: Any) -> tuple[Any, np.ndarray]:
    indices, values = table.column("indices").combine_chunks(), table.column("values").combine_chunks()
    X = sp.csr_matrix(
        (values.values.to_numpy(), indices.values.to_numpy(), indices.offsets.to_numpy()),
        shape=(table.num_rows, meta.dim),
    )
    return X, X.data


def _ids_encode(schema: pa.Schema, X: Any) -> list[pa.Array]:
    return [pa.array([list(map(int, ids)) for ids in X], pa.list_(pa.int32()))]


def _ids_decode(path: Path, table: pa.Table, meta: Any) -> tuple[Any, np.ndarray]:
    return _padded_ids(table.column("tokens").combine_chunks()), np.zeros(0)


def _vectors_schema(dim: int, dtype: str) -> list[pa.Field]:
    value = pa.float16() if dtype == "float16" else pa.float32()
    return [pa.field("length", pa.int32()), pa.field("vectors", pa.list_(pa.list_(value, dim)))]


def _vectors_encode(schema: pa.Schema, X: Any) -> list[pa.Array]:
    vectors_type = schema.field("vectors").type
    dim, value = vectors_type.value_type.list_size, vectors_type.value_type.value_type
    lengths = np.array([len(v) for v in X], dtype=np.int32)
    flat = np.concatenate([np.asarray(v).reshape(-1, dim) for v in X] or [np.zeros((0, dim))])
    flat = flat.astype(value.to_pandas_dtype(), copy=False).reshape(-1)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    return [
        pa.array(lengths, pa.int32()),
        pa.ListArray.from_arrays(offsets, pa.FixedSizeListArray.from_arrays(pa.array(flat), dim)),
    ]


CODECS: dict[str, Codec] = {
    DENSE: Codec(lambda dim, dtype: [pa.field("features", pa.list_(pa.float32(), dim))], _dense_encode, _dense_decode),
    SPARSE: Codec(
        lambda dim, dtype: [pa.field("indices", pa.list_(pa.int32())), pa.field("values", pa.list_(pa.float32()))],
        _sparse_encode,
        _sparse_decode,
    ),
    TOKEN_IDS: Codec(lambda dim, dtype: [pa.field("tokens", pa.list_(pa.int32()))], _ids_encode, _ids_decode),
    TOKEN_VECTORS: Codec(
        _vectors_schema, _vectors_encode, lambda path, table, meta: _token_vectors(path, table, meta.dim)
    ),
}


def features_schema(layout: str, dim: int, dtype: str = "float32") -> pa.Schema:
    """The file's columns: ``row``, ``label``, ``split``, then the layout's own."""
    base = [pa.field("row", pa.int64(), nullable=False), pa.field("label", pa.string()), pa.field("split", pa.string())]
    return pa.schema(base + CODECS[layout].schema(dim, dtype))


def features_batch(
    layout: str, schema: pa.Schema, rows: np.ndarray, labels: list, splits: list, X: Any
) -> pa.RecordBatch:
    """A block of rows (a dense array, a CSR matrix, token id lists, or one (tokens, dim) array per text, as the
    layout holds them) as one record batch."""
    columns = [pa.array(rows, pa.int64()), pa.array(labels, pa.string()), pa.array(splits, pa.string())]
    return pa.RecordBatch.from_arrays(columns + CODECS[layout].encode(schema, X), schema=schema)


class TokenVectors:
    """Each text's token vectors, stored back to back (``values``, one row per token, as stored: float16
    or float32) with ``offsets`` into them; no padding is held, so memory is what the file holds.

    Rows are selected like a matrix's (``X[rows]``), so the experiment code slices it as it slices
    vectors; :meth:`padded` makes the (texts, longest, dim) batch and mask a sequence model needs.
    """

    def __init__(self, values: np.ndarray, offsets: np.ndarray) -> None:
        self.values = values
        self.offsets = np.asarray(offsets, dtype=np.int64)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(texts, longest text in tokens, dim): the padded shape."""
        return (len(self), int(self.lengths.max(initial=0)), self.dim)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, rows: Any) -> TokenVectors:
        rows = np.arange(len(self))[rows]
        lengths = self.lengths[rows]
        starts = self.offsets[rows]
        take = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        return TokenVectors(self.values[take], np.concatenate([[0], np.cumsum(lengths)]))

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 (texts, longest, dim) zero-padded, and the (texts, longest) mask of real tokens.

        A text with no tokens (no known word) holds one zero vector, so a softmax over it is defined.
        """
        n, longest, dim = self.shape
        longest = max(longest, 1)
        lengths = self.lengths
        mask = np.arange(longest)[None, :] < lengths[:, None]
        out = np.zeros((n, longest, dim), dtype=np.float32)
        out[mask] = self.values
        mask[lengths == 0, 0] = True
        return out, mask

    def mean(self) -> np.ndarray:
        """One float32 vector per text: the mean of its tokens (padding excluded; zeros for an empty text)."""
        sums = np.add.reduceat(self.values.astype(np.float32), self.offsets[:-1], axis=0) if len(self.values) else None
        out = np.zeros((len(self), self.dim), dtype=np.float32)
        lengths = self.lengths
        if sums is not None:
            out[lengths > 0] = sums[lengths > 0] / lengths[lengths > 0, None]
        return out


@dataclass
class Features:
    """A features file decoded for modelling."""

    X: np.ndarray | sp.csr_matrix
    labels: np.ndarray
    splits: np.ndarray
    rows: np.ndarray
    meta: FeaturesMeta
    _mean: np.ndarray | None = field(default=None, repr=False)

    def pooled(self) -> np.ndarray | sp.csr_matrix:
        """One vector per row: multi-layer features averaged over their layers, others as stored, and token
        vectors as ``pooling=mean`` would have stored them (computed once): the mean over each text's tokens,
        L2-normalised where the file's parameters say ``normalize`` (bert's default), so that a pooled model
        sees the vectors the file's parameters describe."""
        if self.meta.layout == TOKEN_VECTORS:
            if self._mean is None:
                mean = self.X.mean()
                if self.meta.params.get("normalize"):
                    mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)  # as torch's normalize
                self._mean = mean
            return self._mean
        layers = self.meta.layers
        if layers < 2:
            return self.X
        return np.asarray(self.X).reshape(self.X.shape[0], layers, -1).mean(1)


def _padded_ids(column: pa.ListArray) -> np.ndarray:
    """Token id lists as an (n, longest) int64 matrix, padded with -1 (so a mask is ``X >= 0``)."""
    lengths = np.diff(column.offsets.to_numpy())
    X = np.full((len(column), int(lengths.max(initial=1))), -1, dtype=np.int64)
    X[np.arange(X.shape[1])[None, :] < lengths[:, None]] = column.values.to_numpy()
    return X


def _token_vectors(path: Path, table: pa.Table, dim: int) -> tuple[TokenVectors, np.ndarray]:
    column = table.column("vectors").combine_chunks()
    offsets = column.offsets.to_numpy().astype(np.int64)
    lengths = table.column("length").to_numpy()
    if not np.array_equal(np.diff(offsets), lengths):
        bad = int(np.flatnonzero(np.diff(offsets) != lengths)[0])
        raise EnsoError(
            f"{path}: row {bad} holds {np.diff(offsets)[bad]} token vectors, but its length says {lengths[bad]}"
        )
    flat = column.values.flatten().to_numpy(zero_copy_only=False)
    if flat.size % dim or flat.size // dim < offsets[-1]:
        raise EnsoError(f"{path}: token vectors hold {flat.size} values, not tokens x dim = {offsets[-1]} x {dim}")
    values = flat.reshape(-1, dim)[offsets[0] : offsets[-1]]
    return TokenVectors(values, offsets - offsets[0]), values


def read_labels_and_splits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The label and split columns of a features (or dataset) file, without the vectors."""
    table = read_table(path, columns=["label", "split"])
    return (
        np.asarray(table.column("label").to_pylist(), dtype=object),
        np.asarray(table.column("split").to_pylist(), dtype=object),
    )


def read_features(path: Path) -> Features:
    """Decode a features file by its layout's codec into a matrix and its labels; the metadata is the one of
    the table read (one open), so a file replaced meanwhile cannot pair one file's metadata with another's rows."""
    table = read_table(path)
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise EnsoError(f"{path}: no enso_ng metadata; was it written by enso_ng?")
    meta = FeaturesMeta.from_dict(json.loads(raw), path)
    missing = [f.name for f in features_schema(meta.layout, meta.dim) if f.name not in table.column_names]
    if missing:
        raise EnsoError(f"{path}: its {meta.layout} layout needs column(s) {', '.join(missing)}, which it lacks")
    X, data = CODECS[meta.layout].decode(path, table, meta)
    if not np.isfinite(data).all():
        raise EnsoError(f"{path}: features contain NaN or infinite values")
    labels, splits = (np.asarray(table.column(c).to_pylist(), dtype=object) for c in ("label", "split"))
    return Features(X=X, labels=labels, splits=splits, rows=table.column("row").to_numpy(), meta=meta)


# ---------------------------------------------------------------------------------------- results/<run>/

RESULTS_SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("featurizer", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        # how the training subsets were drawn or selected (files from before the column: the run's sampler)
        pa.field("sampler", pa.string(), nullable=False),
        pa.field("train_size", pa.int64(), nullable=False),
        pa.field("split", pa.int64(), nullable=False),  # the split seed
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("fit_seconds", pa.float64(), nullable=False),
        pa.field("predict_seconds", pa.float64(), nullable=False),
        pa.field("params", pa.string(), nullable=False),  # chosen hyper-parameters, JSON
        # What the cell costs (null where it could not be measured, or in runs made before it was recorded):
        # inference per 1,000 documents, the featurizer's own time included, and that featurizer share
        pa.field("predict_seconds_per_1k", pa.float64(), nullable=True),
        pa.field("featurize_seconds_per_1k", pa.float64(), nullable=True),
        pa.field("parameters", pa.int64(), nullable=True),  # numeric values the fitted model stores
        pa.field("model_bytes", pa.int64(), nullable=True),  # the fitted model, pickled
        pa.field("fit_peak_bytes", pa.int64(), nullable=True),  # peak memory of the fit above the process's
        # the 1-minute load average per core when the timings were taken (the larger of the model's and the
        # featurizer's): above 1, other work shared the cores and the times above are too high
        pa.field("load_per_core", pa.float64(), nullable=True),
    ]
)
#: cost columns a results file written before they existed lacks; read as null
COST_COLUMNS = (
    "predict_seconds_per_1k",
    "featurize_seconds_per_1k",
    "parameters",
    "model_bytes",
    "fit_peak_bytes",
    "load_per_core",
)
#: the columns that name a cell of the grid (one dataset x featurizer x model x training size, over seeds)
CELL_KEY = ("dataset", "featurizer", "model", "sampler", "train_size")
#: the columns that name one fitted model: a cell at one split seed, scored by every metric
RESULT_KEY = (*CELL_KEY, "split")

#: ``results/<run>/confusion.parquet``: test-set confusion counts of every cell (for confusion matrices)
CONFUSION_SCHEMA = pa.schema(
    [
        *(RESULTS_SCHEMA.field(name) for name in RESULT_KEY),
        pa.field("true_label", pa.string(), nullable=False),
        pa.field("predicted_label", pa.string(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
    ]
)

#: columns every row must hold a finite number in (a metric undefined for a cell's rows is not written)
FINITE_COLUMNS = ("value", "fit_seconds", "predict_seconds")

RESULTS_FILE = "results.parquet"
CONFUSION_FILE = "confusion.parquet"
CONFIG_FILE = "config.json"


def _checked(path: Path, table: pa.Table, schema: pa.Schema) -> pa.Table:
    if "sampler" not in table.column_names:  # written before samplers were an axis: one sampler, the run's
        at = table.column_names.index("model") + 1 if "model" in table.column_names else 0
        table = table.add_column(
            at, schema.field("sampler"), pa.array([run_sampler(path)] * table.num_rows, pa.string())
        )
    for name in COST_COLUMNS:
        if name in schema.names and name not in table.column_names:
            table = table.append_column(schema.field(name), pa.nulls(table.num_rows, schema.field(name).type))
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise EnsoError(f"{path}: missing column(s) {', '.join(missing)}; not an enso_ng results file")
    try:
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise EnsoError(f"{path}: columns do not have the results types ({exc})") from None
    for name in FINITE_COLUMNS:
        if name in table.column_names:
            column = table.column(name)
            bad = column.null_count + pc.sum(pc.invert(pc.is_finite(column))).as_py() if len(column) else 0
            if bad:
                raise EnsoError(f"{path}: column {name} holds {bad} missing, NaN or infinite value(s); edited by hand?")
    return table


def run_sampler(path: Path) -> str:
    """The single sampler of the run a results file belongs to (its ``config.json``'s), for files written
    before results had a ``sampler`` column; ``stratified``, the default, where there is no config.json."""
    record = RunRecord.read(path.parent) if (path.parent / CONFIG_FILE).exists() else None
    return str(record.config.get("sampler", "stratified")) if record is not None else "stratified"


def read_results(path: Path) -> pa.Table:
    """``results.parquet`` in the results schema (column order and types checked)."""
    return _checked(path, read_table(path), RESULTS_SCHEMA)


def read_confusion(path: Path) -> pa.Table:
    return _checked(path, read_table(path), CONFUSION_SCHEMA)


def result_keys(table: pa.Table | None) -> set[tuple]:
    """The cells (``RESULT_KEY`` tuples) a results table holds."""
    if table is None:
        return set()
    return set(zip(*(table.column(k).to_pylist() for k in RESULT_KEY)))


@dataclass
class RunRecord:
    """``results/<run>/config.json``: the fully resolved run, written before its first cell.

    ``config`` is the experiment configuration as the experiment stage resolved it; ``metrics`` says, per
    metric, whether higher is better, so readers never keep their own list.
    """

    run: str
    config: dict[str, Any]
    split_seeds: list[int] = field(default_factory=list)
    size_unit: str = "examples"
    #: dataset -> test source, pool and test rows, and the provenance of every features file used
    datasets: dict[str, Any] = field(default_factory=dict)
    #: metric name -> {"higher_is_better": bool}
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: model name -> {"strategy": "frozen features" | "fine-tuned" | ..., "criterion": its inner-CV criterion}
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the machine the costs were measured on
    machine: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    written: str = ""
    #: "running" while cells are being added, "complete" when the run ended normally
    state: str = "complete"

    def higher_is_better(self, metric: str) -> bool:
        """The declared direction of a metric (``train_`` variants share it); unknown metrics count as higher."""
        base = metric[len("train_") :] if metric.startswith("train_") and metric not in self.metrics else metric
        return bool(self.metrics.get(base, {}).get("higher_is_better", True))

    def strategy(self, model: str) -> str:
        return str(self.models.get(model, {}).get("strategy", "frozen features"))

    def write(self, run_dir: Path) -> None:
        write_json(run_dir / CONFIG_FILE, dataclasses.asdict(self))

    @classmethod
    def read(cls, run_dir: Path) -> RunRecord | None:
        """The run's record, or None where the run has none yet."""
        path = run_dir / CONFIG_FILE
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise EnsoError(f"{path}: not readable as JSON ({exc})") from None
        if not isinstance(data, dict) or "config" not in data:
            raise EnsoError(f"{path}: not an enso_ng run configuration (no 'config')")
        names = {f.name for f in dataclasses.fields(cls)}
        for key, value in data.items():
            if key in _RUN_TYPES and not _RUN_TYPES[key](value):
                raise EnsoError(f"{path}: {key} must be {_RUN_TYPE_TEXT[key]}, not {shown(value)}; edited by hand?")
        return cls(**{k: v for k, v in data.items() if k in names})


def _table_of(kind: type) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, kind) for k, x in v.items())


#: the JSON type of each field of config.json, checked on reading: a hand-edited file fails in one line
_RUN_TYPES: dict[str, Callable[[Any], bool]] = {
    "run": lambda v: isinstance(v, str),
    "config": lambda v: isinstance(v, dict),
    "split_seeds": lambda v: isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v),
    "size_unit": lambda v: isinstance(v, str),
    "datasets": lambda v: isinstance(v, dict),
    "metrics": _table_of(dict),
    "models": _table_of(dict),
    "machine": lambda v: isinstance(v, dict),
    "skipped": lambda v: isinstance(v, list) and all(isinstance(x, dict) and "reason" in x for x in v),
    "versions": lambda v: isinstance(v, dict),
    "written": lambda v: isinstance(v, str),
    "state": lambda v: isinstance(v, str),
}
_RUN_TYPE_TEXT = {
    "split_seeds": "a list of integers",
    "metrics": "a table of tables",
    "models": "a table of tables",
    "skipped": "a list of tables with a reason",
    **{k: "a string" for k in ("run", "size_unit", "written", "state")},
    **{k: "a table" for k in ("config", "datasets", "machine", "versions")},
}


# ---------------------------------------------------------------------------------------- models/<name>/

#: the model folder's layout version: a reader refuses a folder of a newer version than it knows
MODEL_FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
#: the JSON type of each manifest field, and the keys its loader reads: a folder is data from elsewhere, so a
#: field of another shape (even under a matching digest) is refused in one line, not met as a traceback
_MANIFEST_SHAPE: dict[str, tuple[type, tuple[str, ...]]] = {
    "name": (str, ()),
    "featurizer": (dict, ("name", "params")),
    "model": (dict, ("name", "params")),
    "labels": (list, ()),
    "training": (dict, ()),
    "expected": (dict, ()),
    "exports": (dict, ()),
    "files": (dict, ()),
    "versions": (dict, ()),
    "created": (str, ()),
    "digest": (str, ()),
}


def _check_manifest_shape(path: Path, data: dict[str, Any]) -> None:
    for key, (kind, inner) in _MANIFEST_SHAPE.items():
        value = data.get(key, kind())
        if not isinstance(value, kind):
            raise EnsoError(
                f"{path}: {key} is a {type(value).__name__}, not a {kind.__name__}; retrain with enso train"
            )
        for part in inner:
            if part not in value:
                raise EnsoError(f"{path}: {key} has no {part!r}; retrain with enso train")
        if key in ("featurizer", "model") and not (
            isinstance(value["name"], str) and isinstance(value["params"], dict)
        ):
            raise EnsoError(f"{path}: {key}'s name must be text and its params an object; retrain with enso train")
    if not all(isinstance(label, str) for label in data["labels"]):
        raise EnsoError(f"{path}: labels must all be text; retrain with enso train")
    if not all(isinstance(v, str) for v in data.get("files", {}).values()):
        raise EnsoError(f"{path}: files must map each file to its sha256; retrain with enso train")


#: the only kinds of file a model folder may hold: none of them can run code when loaded (no pickle, joblib)
MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".txt", ".onnx")


@dataclass
class ModelManifest:
    """``models/<name>/manifest.json``: one fitted featurizer + model pair, self-describing.

    ``files`` maps every other file of the folder (relative path) to its sha256; a loader verifies all of
    them before it reads any, so a folder received from someone else is used exactly as it was trained.
    Weights are safetensors arrays, JSON, or a model's own text format (LightGBM): never pickle.
    """

    format_version: int
    name: str
    #: {"name", "params" (every parameter, encoder weights' sha256 included), "encoder": {"model",
    #: "weights_sha256"} or null, "state": files holding its fitted state, "fitted_on": which texts}
    featurizer: dict[str, Any]
    #: {"name", "params" (resolved), "chosen" (inner-CV choice: best_params_), "scores": "proba" | "decision"}
    model: dict[str, Any]
    #: the class order of every probability column
    labels: list[str]
    #: {"dataset", "fingerprint", "rows", "rows_sha1", "labels": counts}
    training: dict[str, Any]
    #: the run and cell reproduced ({"run", "dataset", "featurizer", "model", "size", "split", "metric",
    #: "value", "mean", "ci_low", "ci_high", "splits"}), or {} for a model trained on every training row
    #: without a run; the accuracy a user should expect
    expected: dict[str, Any] = field(default_factory=dict)
    #: other forms of the same scorer in the folder: {"onnx": {"graph", "inputs", "output", "tokenizer"}}
    exports: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    #: sha256 of the manifest's other fields (canonical JSON): a changed byte in the manifest is caught too
    digest: str = ""

    def _digest(self) -> str:
        body = {k: v for k, v in dataclasses.asdict(self).items() if k != "digest"}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def write(self, folder: Path) -> None:
        self.digest = self._digest()
        (folder / MANIFEST_FILE).write_text(json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, folder: Path) -> ModelManifest:
        """The manifest, refused unless this enso_ng knows its format version."""
        path = folder / MANIFEST_FILE
        if not path.is_file():
            raise EnsoError(f"{folder}: no {MANIFEST_FILE}; not an enso_ng model folder (make one with enso train)")
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise EnsoError(f"{path}: not readable as JSON ({exc}); retrain with enso train") from None
        version = data.get("format_version") if isinstance(data, dict) else None
        if not isinstance(version, int):
            raise EnsoError(f"{path}: no format_version; not an enso_ng model manifest")
        if version > MODEL_FORMAT_VERSION:
            raise EnsoError(
                f"{folder}: model format {version} is newer than this enso_ng reads ({MODEL_FORMAT_VERSION}); "
                "upgrade enso_ng (pip install -U enso_ng)"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise EnsoError(f"{path}: manifest lacks {', '.join(missing)}; retrain with enso train")
        _check_manifest_shape(path, data)
        manifest = cls(**{k: v for k, v in data.items() if k in names})
        if manifest.digest != manifest._digest():
            raise EnsoError(
                f"{path}: its digest does not match its content; the folder changed after training: "
                "retrain it (enso train) or copy it again from its source"
            )
        return manifest
