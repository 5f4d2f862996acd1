"""Texts to score, read in batches from csv, tsv, jsonl, parquet, plain text (one per line) or stdin.

Each batch keeps every input row: a row that cannot be scored (missing, empty, not text, unreadable)
carries a status instead of a text, so the output has one row per input row and nothing is dropped
silently. Readers stream: memory holds one batch, whatever the file's size.
"""

from __future__ import annotations

import contextlib
import csv
import io
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
        if source == "-":
            raise EnsoError("-: Parquet cannot be read from standard input (it is read from its end); give a file")
        return _parquet(Path(source), text_column, id_column, rows)
    if fmt in ("csv", "tsv"):
        return None, _csv(_open(source), source, "\t" if fmt == "tsv" else ",", text_column, id_column, rows)
    if fmt == "jsonl":
        return None, _jsonl(_open(source), source, text_column, id_column, rows)
    if fmt == "text":
        if id_column:
            raise EnsoError(f"--id-column {id_column}: {source} is plain text, one text a line, with no columns")
        return None, _lines(_open(source), rows)
    raise EnsoError(f"--input-format {fmt!r} is not one of {either(sorted(set(FORMATS.values())))}")


def _open(source: str) -> IO[str]:
    """The input as text: UTF-8, an undecodable byte replaced (standard input too, whatever the locale)."""
    if source != "-":
        return open(source, encoding="utf-8", errors="replace", newline="")
    if hasattr(sys.stdin, "buffer"):
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
    return sys.stdin


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


def _columns(source: str | Path, have: list[str], text_column: str, id_column: str | None) -> list[str]:
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


#: the longest csv field read: a text is never this long, while an unterminated quote makes one field of
#: the rest of the file, which the csv module holds whole (about 4 bytes a character) before it can say so
FIELD_LIMIT = 64 * 2**20


def _csv(
    fh: IO[str], source: str, delimiter: str, text_column: str, id_column: str | None, rows: int
) -> Iterator[Batch]:
    """Rows of a csv file, streamed by Python's ``csv`` module in its strict mode, or of a tsv file.

    Every record is a row, a blank line included (an empty text, as in a one-column file; blank lines after
    the last record are the file's end, not rows), so ``row`` counts the file's records. A record with
    another number of fields than the header is ``unreadable``, in its place; an unterminated quote, which
    would swallow every row after it into one field, is an error naming the line it opens on. A byte-order
    mark (Excel's "CSV UTF-8") is not part of the first column's name. tsv has no quoting (IANA's format:
    a field holds no tab or newline), so a quote in a text is a character, as the catalog's tsv is read.
    """
    kind = "tsv" if delimiter == "\t" else "csv"
    quoting = csv.QUOTE_NONE if kind == "tsv" else csv.QUOTE_MINIMAL
    csv.field_size_limit(FIELD_LIMIT)
    with fh if fh is not sys.stdin else contextlib.nullcontext(fh):
        reader = csv.reader(fh, delimiter=delimiter, quoting=quoting, strict=True)
        ended = 0  # the line the last record ended on: the next one starts after it
        try:
            header = next(reader, [])
            ended = reader.line_num
            if header and header[0].startswith("\ufeff"):
                header[0] = header[0][1:]
            wanted = _columns(source, header, text_column, id_column)
            at = [header.index(column) for column in wanted]
            start, values, ids, unreadable, blank = 0, [], [], [], 0
            for record in reader:
                ended = reader.line_num
                if not record:  # a blank line: an empty row, once a record after it shows it is not the end
                    blank += 1
                    continue
                for kept in [[""] * len(header)] * blank + [record]:
                    if len(kept) != len(header):
                        unreadable.append(len(values))
                        values.append(None)
                        ids.append(None)
                    else:
                        values.append(kept[at[0]])
                        ids.append(kept[at[1]] if id_column else None)
                    if len(values) == rows:
                        yield _marked(to_batch(start, values, ids if id_column else None), unreadable)
                        start, values, ids, unreadable = start + rows, [], [], []
                blank = 0
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                what = "an unterminated quote?" if kind == "csv" else "not one text a line?"
                reason = f"a field over {FIELD_LIMIT // 2**20} MiB: {what}"
            raise EnsoError(f"{source}: line {ended + 1}: malformed {kind} ({reason})") from None
    if values:
        yield _marked(to_batch(start, values, ids if id_column else None), unreadable)


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
