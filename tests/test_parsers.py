"""Property-based tests of the raw-file parsers and the cleaner: odd quoting, embedded newlines, BOMs,
blank lines and undecodable bytes never crash them, and no valid row is ever dropped without being counted."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enso_ng.download.build import clean
from enso_ng.download.entry import DatasetEntry
from enso_ng.download.parsers import Record, csv_columns, delimited_lines
from enso_ng.download.sources import LocalFile
from enso_ng.errors import EnsoError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Any unicode text but surrogates (not encodable) and NUL.
any_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
labels = st.sampled_from(["pos", "neg", "neutral", "très bien", "a,b", 'say "x"'])
rows = st.lists(st.tuples(any_text, labels), min_size=1, max_size=25)


def _as_read(text: str) -> str:
    """What the CSV parser promises to return for a field: a lone CR as a space, outer whitespace trimmed."""
    return re.sub(r"\r(?!\n)", " ", text).strip()


def _parse(parser, tmp_path: Path, data: bytes, name: str = "data.csv") -> list[Record]:
    path = tmp_path / name
    path.write_bytes(data)
    return list(parser(path))


@SETTINGS
@given(
    rows=rows,
    bom=st.booleans(),
    terminator=st.sampled_from(["\r\n", "\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
)
def test_csv_round_trips_any_text(tmp_path, rows, bom, terminator, quoting):
    """Commas, quotes and embedded newlines in any field come back exactly; a lone CR reads as a space."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=terminator, quoting=quoting)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    data = ("\ufeff" if bom else "") + out.getvalue()
    parsed = _parse(csv_columns("text", "label"), tmp_path, data.encode("utf-8"))
    assert [(r.text, r.label) for r in parsed] == [(_as_read(t), label) for t, label in rows]


@SETTINGS
@given(
    rows=st.lists(st.tuples(st.binary(max_size=30), labels), min_size=1, max_size=25),
    blank_lines=st.lists(st.integers(0, 25), max_size=5),
)
def test_csv_with_undecodable_bytes_and_blank_lines_keeps_every_row(tmp_path, rows, blank_lines):
    """Raw bytes that are not UTF-8 are replaced, never fatal; blank lines are not rows."""
    lines = [b"text,label"]
    for text, label in rows:
        body = text.replace(b'"', b'""')
        lines.append(b'"' + body + b'",' + label.replace('"', '""').join('""').encode())
    for position in sorted(blank_lines, reverse=True):
        lines.insert(min(position, len(lines) - 1) + 1, b"")
    parsed = _parse(csv_columns("text", "label"), tmp_path, b"\n".join(lines) + b"\n")
    assert [r.label for r in parsed] == [label for _, label in rows]
    assert [r.text for r in parsed] == [_as_read(t.decode("utf-8", errors="replace")) for t, _ in rows]


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40),
            st.sampled_from(["ham", "spam"]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_tsv_without_quoting_keeps_stray_quotes(tmp_path, rows):
    """SMS-style TSV: a message may start with a quote that never closes; with quoting off it is text."""
    rows = [(t.replace("\t", " ").replace("\x85", " "), label) for t, label in rows]
    data = "label\ttext\n" + "".join(f"{label}\t{text}\n" for text, label in rows)
    parser = csv_columns("text", "label", delimiter="\t", quoting=csv.QUOTE_NONE)
    parsed = _parse(parser, tmp_path, data.encode("utf-8"), "data.tsv")
    assert [(r.text, r.label) for r in parsed] == [(t.strip(), label) for t, label in rows]


@SETTINGS
@given(
    lines=st.lists(
        st.tuples(st.sampled_from(["0", "1", "DESC:manner"]), st.binary(max_size=30)), min_size=1, max_size=30
    ),
    blanks=st.lists(st.integers(0, 30), max_size=5),
    bom=st.booleans(),
    crlf=st.booleans(),
    encoding=st.sampled_from(["utf-8", "cp1252", "latin-1"]),
)
def test_label_first_lines_keep_every_non_blank_line(tmp_path, lines, blanks, bom, crlf, encoding):
    """Any bytes after the label (0x85, invalid UTF-8, a lone CR) stay in one record per line."""
    lines = [(label, text.replace(b"\n", b" ").replace(b"\r", b" ")) for label, text in lines]
    raw = [label.encode() + b" " + text for label, text in lines]
    for position in sorted(blanks, reverse=True):
        raw.insert(min(position, len(raw)), b"  ")
    end = b"\r\n" if crlf else b"\n"
    data = (b"\xef\xbb\xbf" if bom else b"") + end.join(raw) + end
    parsed = _parse(delimited_lines(encoding), tmp_path, data, "data.all")
    assert [r.label for r in parsed] == [label for label, _ in lines]
    assert [r.text for r in parsed] == [t.decode(encoding, errors="replace") for _, t in lines]


@SETTINGS
@given(
    records=st.lists(
        st.tuples(st.sampled_from(["", "  ", "text", " padded "]), st.sampled_from(["", "a", "b", "skip", "NA"])),
        max_size=40,
    )
)
def test_cleaning_counts_every_row_it_drops(records):
    entry = DatasetEntry(
        name="t",
        task="t",
        description="",
        files={},
        parser=lambda p: iter(()),
        labels={"a": "A", "b": "B"},
        licence="",
        citation="",
        homepage="",
        drop_labels=frozenset({"skip"}),
        missing_labels=frozenset({"NA"}),
    )
    cleaned = clean(entry, [(None, iter(Record(t, label) for t, label in records))])
    assert len(cleaned.texts) + sum(cleaned.dropped.values()) == len(records)
    assert all(text and text == text.strip() for text in cleaned.texts)
    assert set(cleaned.labels) <= {"A", "B"}


def test_unknown_label_is_an_error_naming_the_record():
    entry = DatasetEntry(
        name="t",
        task="t",
        description="",
        files={},
        parser=lambda p: iter(()),
        labels={"a": "A"},
        licence="",
        citation="",
        homepage="",
    )
    with pytest.raises(EnsoError, match=r"t: train record 2 has unknown label 'zz'"):
        clean(entry, [("train", iter([Record("x", "a"), Record("y", "zz")]))])


@pytest.mark.parametrize(
    "data",
    [
        b'text,label\n"never closed,pos\nnext,neg\n',
        b'text,label\nok,pos\n"a "quoted" word,neg\n',
    ],
)
def test_broken_quoting_is_an_error_naming_the_line(tmp_path, data):
    with pytest.raises(EnsoError, match=r"data.csv: line \d+: malformed CSV"):
        _parse(csv_columns("text", "label"), tmp_path, data)


def test_local_file_that_changed_after_import_is_refused(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("text,label\na,b\n")
    source = LocalFile.of(path)
    path.write_text("text,label\na,c\n")
    with pytest.raises(EnsoError, match="checksum mismatch"):
        source.fetch(tmp_path, None)
