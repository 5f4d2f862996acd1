"""What a cell of a user's file means as a text or a label: one rule for CSV, JSONL and Parquet alike.

A data frame exported three ways must give the same dataset: a float label column is ``2.0`` in CSV,
``2.0`` in JSON and a double in Parquet, and its missing values are an empty cell, ``null`` and NaN. So:

- a label that is missing however encoded (null, NaN, an empty or blank cell, the text ``nan``) is missing
  (the row is dropped and counted);
- a number is its shortest decimal text, and an integer-valued one has no fraction (``2``, ``2.0`` and the
  text ``"2.0"`` are the class ``2``); an infinite one is refused;
- a boolean is ``true`` or ``false``, as JSON spells it;
- a text must be a string (or missing: an empty text, dropped and counted); a JSON object, list, number or
  boolean where the text belongs is refused, naming the file and line, never stored as its Python repr.

Labels are also NFC-normalised by the cleaner (``download.build.clean``), which counts what that changed.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pyarrow as pa

from enso_ng.errors import EnsoError

#: texts that spell a missing number (Python's and numpy's ``str(nan)``), compared case-insensitively
MISSING_TEXTS = ("nan",)
_INTEGRAL_DECIMAL = re.compile(r"[+-]?\d+\.0*")


def _json_kind(value: Any) -> str:
    """How a JSON (or Parquet) value is named in an error."""
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, (list, tuple)):
        return "a JSON list"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, (int, float)):
        return "a JSON number"
    return f"a {type(value).__name__}"


def text_of(value: Any, where: str) -> str:
    """A text cell as a string ("" where missing); anything but a string is refused, naming ``where``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise EnsoError(f"{where}: text is {_json_kind(value)}, not a string")


def label_of(value: Any, where: str) -> str:
    """A label cell as its text by the module's rule; "" where missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            raise EnsoError(f"{where}: label is {value}, not a label")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in MISSING_TEXTS:
            return ""
        if _INTEGRAL_DECIMAL.fullmatch(text):
            return str(int(text.partition(".")[0]))
        return text
    raise EnsoError(f"{where}: label is {_json_kind(value)}, not a label")


def check_column_types(name: str, schema: pa.Schema, text: str, label: str) -> None:
    """A Parquet file's text column must hold strings, its label column strings, numbers or booleans."""

    def base(kind: pa.DataType) -> pa.DataType:
        return kind.value_type if pa.types.is_dictionary(kind) else kind

    text_type, label_type = base(schema.field(text).type), base(schema.field(label).type)
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type) or pa.types.is_null(text_type)):
        raise EnsoError(f"{name}: column {text!r} holds {text_type} values, not text")
    usable = (
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_boolean,
        pa.types.is_null,
    )
    if not any(check(label_type) for check in usable):
        raise EnsoError(f"{name}: column {label!r} holds {label_type} values, not labels (strings, numbers, booleans)")
