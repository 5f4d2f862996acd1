"""CSV files written for people to open in a spreadsheet, written one way.

A spreadsheet evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and some strip a
leading tab or carriage return first; a label such as ``=HYPERLINK(...)`` would run there (CSV formula
injection). As OWASP recommends, such a text cell is written with a leading single quote, which
spreadsheets show as text. Numbers stay numbers, and so does text that is a plain number (a label ``-1``):
a spreadsheet reads it as a number, never as a formula.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from enso_ng.workspace import atomic_path

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(cell: Any) -> Any:
    """``cell``, or ``'cell`` where it is text a spreadsheet would evaluate as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def write_csv(path: Path, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Path:
    """Write ``header`` and ``rows`` to ``path`` atomically, every text cell made spreadsheet-safe."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([spreadsheet_safe(c) for c in header])
        writer.writerows([spreadsheet_safe(c) for c in row] for row in rows)
    return path
