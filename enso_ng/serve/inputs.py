"""Texts to score, read in batches from csv, tsv, jsonl, parquet, plain text (one per line) or stdin.

Each batch keeps every input row: a row that cannot be scored (missing, empty, not text, unreadable)
carries a status instead of a text, so the output has one row per input row and nothing is dropped
silently. Readers stream: memory holds one batch, whatever the file's size.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from enso_ng.errors import EnsoError, either

OK, EMPTY, MISSING, NOT_TEXT, UNREADABLE = "ok", "empty", "missing", "not_text", "unreadable"
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".txt": "text"}


@dataclass
class Batch:
    """Input rows ``start..start+len``: their texts (None where ``statuses`` says why not) and ids."""

    start: int
    texts: list[str | None]
    statuses: list[str]
    ids: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.texts)


def ok_rows(batch: Batch) -> list[int]:
    """The positions of a batch's rows that can be scored."""
    return [i for i, status in enumerate(batch.statuses) if status == OK]


def input_format(source: str, given: str | None) -> str:
    if given:
        return given
    if source == "-":
        return "text"
    suffix = Path(source).suffix.lower()
    if suffix not in FORMATS:
        raise EnsoError(
            f"{source}: cannot tell the format from {suffix or 'no suffix'!r}; give --input-format ({either(sorted(set(FORMATS.values())))})"
        )
    return FORMATS[suffix]


def batches(
    source: str, fmt: str, text_column: str, id_column: str | None, rows: int
) -> tuple[int | None, Iterator[Batch]]:
    """(the row count where the format knows it up front, else None; the batches)."""
    if source != "-" and not Path(source).is_file():
        raise EnsoError(f"{source}: no such input file")
    if fmt == "parquet":
        return _parquet(Path(source), text_column, id_column, rows)
    if fmt in ("csv", "tsv"):
        return None, _csv(Path(source), "\t" if fmt == "tsv" else ",", text_column, id_column, rows)
    if fmt == "jsonl":
        return None, _jsonl(_open(source), source, text_column, id_column, rows)
    if fmt == "text":
        return None, _lines(_open(source), rows)
    raise EnsoError(f"--input-format {fmt!r} is not one of {either(sorted(set(FORMATS.values())))}")


def _open(source: str) -> IO[str]:
    return sys.stdin if source == "-" else open(source, encoding="utf-8", errors="replace", newline="")


def status_of(value: Any) -> str:
    if value is None:
        return MISSING
    if not isinstance(value, str):
        return NOT_TEXT
    return OK if value.strip() else EMPTY


def to_batch(start: int, values: list[Any], ids: list[Any] | None) -> Batch:
    statuses = [status_of(v) for v in values]
    texts = [v if s == OK else None for v, s in zip(values, statuses)]
    return Batch(start, texts, statuses, None if ids is None else [None if i is None else str(i) for i in ids])


def _columns(source: Path, have: list[str], text_column: str, id_column: str | None) -> list[str]:
    wanted = [text_column] + ([id_column] if id_column else [])
    for column in wanted:
        if column not in have:
            raise EnsoError(
                f"{source}: no column {column!r} (columns: {', '.join(have)}); see --text-column/--id-column"
            )
    return wanted


def _parquet(source: Path, text_column: str, id_column: str | None, rows: int) -> tuple[int, Iterator[Batch]]:
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(source)
    except Exception as exc:  # Arrow raises several types for a file that is not Parquet
        raise EnsoError(f"{source}: not a readable Parquet file ({type(exc).__name__})") from None
    columns = _columns(source, file.schema_arrow.names, text_column, id_column)

    def read() -> Iterator[Batch]:
        start = 0
        for record in file.iter_batches(batch_size=rows, columns=columns):
            values = record.column(text_column).to_pylist()
            ids = record.column(id_column).to_pylist() if id_column else None
            yield to_batch(start, values, ids)
            start += len(values)

    return file.metadata.num_rows, read()


def _csv(source: Path, delimiter: str, text_column: str, id_column: str | None, rows: int) -> Iterator[Batch]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with open(source, encoding="utf-8", errors="replace", newline="") as fh:
        header = fh.readline().rstrip("\r\n").split(delimiter)
    columns = _columns(source, [h.strip('"') for h in header], text_column, id_column)
    try:
        reader = pcsv.open_csv(
            source,
            read_options=pcsv.ReadOptions(block_size=1 << 20),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                include_columns=columns, column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise EnsoError(f"{source}: not readable as {'tsv' if delimiter == chr(9) else 'csv'} ({exc})") from None
    start, pending, pending_ids = 0, [], []
    try:
        for record in reader:
            pending.extend(record.column(text_column).to_pylist())
            if id_column:
                pending_ids.extend(record.column(id_column).to_pylist())
            while len(pending) >= rows:
                yield to_batch(start, pending[:rows], pending_ids[:rows] if id_column else None)
                pending, pending_ids, start = pending[rows:], pending_ids[rows:], start + rows
    except pa.ArrowInvalid as exc:
        raise EnsoError(f"{source}: after row {start + len(pending)}: {str(exc).splitlines()[0]}") from None
    if pending:
        yield to_batch(start, pending, pending_ids if id_column else None)


def _jsonl(fh: IO[str], source: str, text_column: str, id_column: str | None, rows: int) -> Iterator[Batch]:
    start, values, ids, unreadable = 0, [], [], []
    with fh if fh is not sys.stdin else contextlib.nullcontext(fh):
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                unreadable.append(len(values))
                values.append(None)
                ids.append(None)
            else:
                values.append(obj.get(text_column))
                ids.append(obj.get(id_column) if id_column else None)
            if len(values) == rows:
                yield _marked(to_batch(start, values, ids if id_column else None), unreadable)
                start, values, ids, unreadable = start + rows, [], [], []
    if values:
        yield _marked(to_batch(start, values, ids if id_column else None), unreadable)


def _marked(batch: Batch, unreadable: list[int]) -> Batch:
    for i in unreadable:
        batch.statuses[i] = UNREADABLE
    return batch


def _lines(fh: IO[str], rows: int) -> Iterator[Batch]:
    start, values = 0, []
    with fh if fh is not sys.stdin else contextlib.nullcontext(fh):
        for line in fh:
            values.append(line.rstrip("\r\n"))
            if len(values) == rows:
                yield to_batch(start, values, None)
                start, values = start + rows, []
    if values:
        yield to_batch(start, values, None)
