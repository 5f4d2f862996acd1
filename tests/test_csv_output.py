"""CSV files written for people (issue 30, item 3): a text cell that a spreadsheet would evaluate as a formula
(it starts with '=', '+', '-', '@', a tab or a carriage return) is written with a leading single quote, as
OWASP recommends; numbers, and text that is a plain number such as the label '-1', are written as they are."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from enso_ng.csv_files import spreadsheet_safe, write_csv

from conftest import invoke
from reliability import tiny_run

HOSTILE_LABELS = ("=1+1", "+cmd", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x","y")', "-1")
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"


@pytest.mark.parametrize(
    "cell, written",
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\r=x", "'\r=x"),
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("-1", "-1"),
        ("+0.5", "+0.5"),
        ("-1e-3", "-1e-3"),
        ("good", "good"),
        ("", ""),
        ("a=b", "a=b"),
        (-0.5, -0.5),
        (3, 3),
        (None, None),
    ],
)
def test_a_cell_is_neutralised_only_where_a_spreadsheet_would_evaluate_it(cell, written):
    assert spreadsheet_safe(cell) == written


def test_write_csv_neutralises_every_text_cell_and_keeps_numbers(tmp_path):
    path = tmp_path / "t.csv"
    write_csv(path, ["=label", "value"], [["=1+1", -0.5], ["-1", 0.25], ["@x", float("nan")]])
    rows = list(csv.reader(path.open(newline="")))
    assert rows == [["'=label", "value"], ["'=1+1", "-0.5"], ["-1", "0.25"], ["'@x", "nan"]]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    """A finished run (tf-idf + logreg) on a tiny dataset whose labels are formulas."""
    root = tiny_run(tmp_path_factory.mktemp("csv") / "ws", HOSTILE_LABELS, 90, "accuracy,macro_f1")
    result = invoke(root, "visualize", "--run", "r", "--no-tsne")
    assert result.exit_code == 0, result.output
    return root / "results" / "r"


def _cells(run: Path) -> list[tuple[str, str]]:
    return [(p.name, cell) for p in sorted(run.glob("*.csv")) for row in csv.reader(p.open(newline="")) for cell in row]


def test_no_csv_of_visualize_holds_a_cell_a_spreadsheet_would_evaluate(hostile_run):
    import re

    cells = _cells(hostile_run)
    assert any(name.startswith("classification_report_") for name, _ in cells), sorted({n for n, _ in cells})
    bad = [(n, c) for n, c in cells if c.startswith(DANGEROUS) and not re.fullmatch(NUMBER, c)]
    assert not bad, bad[:5]


def test_labels_are_kept_readable_behind_the_quote(hostile_run):
    (report,) = hostile_run.glob("classification_report_*.csv")
    rows = list(csv.DictReader(report.open(newline="")))
    classes = {row[next(iter(row))] for row in rows}
    for label in HOSTILE_LABELS:
        assert (label if label == "-1" else "'" + label) in classes, classes


def test_numeric_cells_stay_numbers(hostile_run):
    (report,) = hostile_run.glob("classification_report_*.csv")
    rows = list(csv.reader(report.open(newline="")))
    numbers = [cell for row in rows[1:] for cell in row[1:]]
    assert numbers and all(not math.isnan(float(cell)) for cell in numbers if cell), numbers
