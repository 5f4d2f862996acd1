"""How `enso download --from-file` turns a user's cells into texts and labels: one documented rule for
every format (README, "Bring your own data"), so that a label means the same class however it is stored.

- a missing label is missing however encoded (null, NaN, pandas' NA, empty, blank, ``nan``): dropped and
  counted as ``missing label``;
- a number is its shortest decimal text, an integer-valued one without a fraction (``2``, ``2.0``,
  ``"2.0"`` are all the class ``2``); a boolean is ``true`` / ``false``;
- labels are NFC-normalised (``Zoë`` typed either way is one class), and the summary says how many;
- a text that is not a string (a JSON object, a number column) is refused, naming the file and line.
"""

from __future__ import annotations

import csv
import json
import math
import unicodedata

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enso_ng.workspace import read_meta

from conftest import invoke

TEXTS = [f"ticket number {i} about {'crashes' if i % 2 else 'ideas'}" for i in range(12)]


def _import(workspace, path, *extra):
    return invoke(workspace, "download", "--from-file", str(path), "--name", "own", *extra)


def _labels(workspace) -> dict:
    return read_meta(workspace / "datasets" / "own.parquet")


# ---------------------------------------------------------------- missing labels (issue 30, item 7)


def test_a_float_label_column_with_nan_and_nulls_drops_them_as_missing(tmp_path):
    labels = [1.0, 2.0, float("nan"), None, 1.0, 2.0, float("nan"), 1.0, 2.0, 1.0, 2.0, None]
    path = tmp_path / "own.parquet"
    # NaN stored as a value (not a null): what a float column of pandas or numpy holds
    pq.write_table(pa.table({"text": TEXTS, "label": pa.array(labels, pa.float64(), from_pandas=False)}), path)
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 0, result.output
    meta = _labels(tmp_path / "ws")
    assert meta["labels"] == {"1": 4, "2": 4}, "NaN is not a class, and 1.0 is the class 1"
    assert meta["dropped"] == {"missing label": 4}
    assert "dropped 4 missing label" in result.output


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_missing_labels_are_missing_however_spelled(tmp_path, fmt):
    labels = ["a", "b", "", "   ", "nan", "NaN", None, "a", "b", "a", "b", "a"]
    path = tmp_path / f"own.{fmt}"
    if fmt == "csv":
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text", "label"])
            writer.writerows(zip(TEXTS, ["" if v is None else v for v in labels]))
    else:
        path.write_text("".join(json.dumps({"text": t, "label": v}) + "\n" for t, v in zip(TEXTS, labels)))
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 0, result.output
    meta = _labels(tmp_path / "ws")
    assert meta["labels"] == {"a": 4, "b": 3}
    assert meta["dropped"] == {"missing label": 5}


# ---------------------------------------------------------------- numbers and booleans (items 7, 9)


def test_jsonl_numbers_and_booleans_become_one_documented_text(tmp_path):
    labels = [2, 2.0, "2", "2.0", 1, 1.0, False, False, True, "true", 0.5, 0.5]
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": v}) + "\n" for t, v in zip(TEXTS, labels)))
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 0, result.output
    assert _labels(tmp_path / "ws")["labels"] == {"0.5": 2, "1": 2, "2": 4, "false": 2, "true": 2}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_the_same_labels_give_the_same_classes_in_every_format(tmp_path, fmt):
    """A float column (2.0, 1.0, NaN) exported each way by a data frame library: the same dataset."""
    values = [2.0, 1.0, float("nan")] * 4
    path = tmp_path / f"own.{fmt}"
    if fmt == "csv":  # pandas writes a float column as 2.0 and NaN as an empty cell
        path.write_text("text,label\n" + "".join(f"{t},{'' if math.isnan(v) else v}\n" for t, v in zip(TEXTS, values)))
    elif fmt == "jsonl":  # and NaN as null in JSON
        path.write_text(
            "".join(json.dumps({"text": t, "label": None if math.isnan(v) else v}) + "\n" for t, v in zip(TEXTS, values))
        )
    else:
        pq.write_table(pa.table({"text": TEXTS, "label": pa.array(values, pa.float64(), from_pandas=False)}), path)
    assert _import(tmp_path / "ws", path).exit_code == 0
    meta = _labels(tmp_path / "ws")
    assert (meta["labels"], meta["dropped"]) == ({"1": 4, "2": 4}, {"missing label": 4})


def test_an_integer_label_column_is_its_numbers_and_a_bool_column_true_false(tmp_path):
    path = tmp_path / "own.parquet"
    pq.write_table(pa.table({"text": TEXTS, "label": pa.array([i % 3 for i in range(12)], pa.int64())}), path)
    assert _import(tmp_path / "ws", path).exit_code == 0
    assert _labels(tmp_path / "ws")["labels"] == {"0": 4, "1": 4, "2": 4}
    pq.write_table(pa.table({"text": TEXTS, "label": [i % 2 == 0 for i in range(12)]}), path)
    assert _import(tmp_path / "ws", path, "--force").exit_code == 0
    assert _labels(tmp_path / "ws")["labels"] == {"false": 6, "true": 6}


@pytest.mark.parametrize(
    "value, what",
    [({"a": 1}, "a JSON object"), (["x", "y"], "a JSON list"), (17, "a JSON number"), (True, "a JSON boolean")],
)
def test_a_jsonl_text_that_is_not_a_string_is_refused_naming_the_line(tmp_path, value, what):
    rows = [{"text": t, "label": "a" if i % 2 else "b"} for i, t in enumerate(TEXTS)]
    rows[4]["text"] = value
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: own: own.jsonl line 5: text is {what}, not a string"]
    assert not (tmp_path / "ws" / "datasets" / "own.parquet").exists()


def test_a_jsonl_label_that_is_an_object_is_refused_naming_the_line(tmp_path):
    rows = [{"text": t, "label": "a" if i % 2 else "b"} for i, t in enumerate(TEXTS)]
    rows[2]["label"] = {"name": "a"}
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: own: own.jsonl line 3: label is a JSON object, not a label"]


def test_a_parquet_text_column_of_numbers_is_refused_naming_the_column(tmp_path):
    path = tmp_path / "own.parquet"
    pq.write_table(pa.table({"text": list(range(12)), "label": ["a", "b"] * 6}), path)
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: own: own.parquet: column 'text' holds int64 values, not text"
    ]


def test_an_infinite_label_is_refused_naming_the_row(tmp_path):
    path = tmp_path / "own.parquet"
    labels = [1.0, 2.0] * 5 + [float("inf"), 1.0]
    pq.write_table(pa.table({"text": TEXTS, "label": labels}), path)
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: own: own.parquet row 11: label is inf, not a label"]


# ---------------------------------------------------------------- Unicode normalisation (item 8)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_labels_differing_only_by_unicode_normalisation_are_one_class(tmp_path, fmt):
    nfc, nfd = unicodedata.normalize("NFC", "Zoë"), unicodedata.normalize("NFD", "Zoë")
    assert nfc != nfd
    labels = [nfc, nfd, "Ann"] * 4
    path = tmp_path / f"own.{fmt}"
    if fmt == "csv":
        path.write_text("text,label\n" + "".join(f"{t},{v}\n" for t, v in zip(TEXTS, labels)), encoding="utf-8")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps({"text": t, "label": v}) + "\n" for t, v in zip(TEXTS, labels)))
    else:
        pq.write_table(pa.table({"text": TEXTS, "label": labels}), path)
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 0, result.output
    meta = _labels(tmp_path / "ws")
    assert meta["labels"] == {"Ann": 4, nfc: 8}
    assert meta["normalised_labels"] == 4
    assert "4 labels NFC-normalised" in result.output


# ---------------------------------------------------------------- test rows that copy training rows (item 10)


def test_test_rows_copying_training_rows_are_counted_and_warned(tmp_path):
    rows = [(t, "a" if i % 2 else "b", "train") for i, t in enumerate(TEXTS)]
    rows += [
        (TEXTS[1], "a", "test"),  # an exact copy of a training row
        (TEXTS[3], "b", "test"),  # a copy with the other label
        ("  " + TEXTS[5] + " ", "a", "test"),  # the same text once stripped
        ("a text of its own", "b", "test"),
    ]
    path = tmp_path / "own.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label", "fold"])
        writer.writerows(rows)
    result = _import(tmp_path / "ws", path, "--split-column", "fold")
    assert result.exit_code == 0, result.output
    assert _labels(tmp_path / "ws")["test_overlap"] == {"test_rows": 4, "duplicates": 3, "conflicting": 1}
    assert "warning: 3 of 4 test rows repeat a training text exactly (1 with another label)" in result.output


def test_no_overlap_no_warning_and_zero_counts(tmp_path):
    rows = [(t, "a" if i % 2 else "b", "test" if i >= 8 else "train") for i, t in enumerate(TEXTS)]
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps(dict(zip(("text", "label", "fold"), r))) + "\n" for r in rows))
    result = _import(tmp_path / "ws", path, "--split-column", "fold")
    assert result.exit_code == 0, result.output
    assert "warning:" not in result.output
    assert _labels(tmp_path / "ws")["test_overlap"] == {"test_rows": 4, "duplicates": 0, "conflicting": 0}
