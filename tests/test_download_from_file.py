"""`enso download --from-file`: a team's own labelled file becomes a dataset like any catalog entry."""

from __future__ import annotations

import csv
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enso_ng.workspace import read_meta

from conftest import invoke

ROWS = [
    ("The app crashes on start", "bug", "train"),
    ("Please add dark mode", "feature", "train"),
    ("Login fails with error 500", "bug", "train"),
    ("Export to CSV would help", "feature", "dev"),
    ("Crash when saving, again", "bug", "test"),
    ("Could you support SSO?", "feature", "TEST"),
]


def _write(path, fmt: str, rows=ROWS, columns=("body", "queue", "fold")):
    if fmt in ("csv", "tsv"):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter="," if fmt == "csv" else "\t")
            writer.writerow(columns)
            writer.writerows(rows)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(dict(zip(columns, row))) + "\n" for row in rows))
    else:
        pq.write_table(pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)}), path)
    return path


def _import(workspace, path, *extra):
    return invoke(
        workspace,
        "download",
        "--from-file",
        str(path),
        "--name",
        "tickets",
        "--text-column",
        "body",
        "--label-column",
        "queue",
        *extra,
    )


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_each_format_writes_the_dataset_contract(tmp_path, fmt):
    source = _write(tmp_path / f"tickets.{fmt}", fmt)
    result = _import(tmp_path / "ws", source, "--split-column", "fold")
    assert result.exit_code == 0, result.output
    path = tmp_path / "ws" / "datasets" / "tickets.parquet"
    table = pq.read_table(path)
    assert table.schema.names == ["text", "label", "split"]
    assert table.column("text").to_pylist() == [r[0] for r in ROWS]
    assert table.column("label").to_pylist() == [r[1] for r in ROWS]
    # The team's own assignment is kept, with dev/TEST spelled the contract's way.
    assert table.column("split").to_pylist() == ["train", "train", "train", "validation", "test", "test"]
    meta = read_meta(path)
    assert meta["labels"] == {"bug": 3, "feature": 3}
    assert meta["sources"][0]["kind"] == "file" and len(meta["sources"][0]["sha256"]) == 64
    assert meta["recipe"]["format"] == fmt and meta["recipe"]["split_column"] == "fold"


def test_without_split_column_the_split_is_null_and_rows_are_cleaned(tmp_path):
    rows = [*ROWS, ("   ", "bug", "train"), ("No label here", "", "train")]
    source = _write(tmp_path / "tickets.csv.gz", "csv", rows)
    source.write_bytes(gzip.compress(source.read_bytes()))
    result = _import(tmp_path / "ws", source)
    assert result.exit_code == 0, result.output
    meta = read_meta(tmp_path / "ws" / "datasets" / "tickets.parquet")
    assert meta["splits"] == {"None": 6}
    assert meta["dropped"] == {"empty text": 1, "missing label": 1}
    assert "dropped 1 empty text, 1 missing label" in result.output


def test_imported_dataset_flows_through_featurize_and_experiment(tmp_path):
    rows = [
        (f"{word} report number {i}", label, "test" if i % 5 == 0 else "train")
        for i in range(60)
        for word, label in [("crash", "bug"), ("idea", "feature")]
    ]
    source = _write(tmp_path / "tickets.csv", "csv", rows)
    workspace = tmp_path / "ws"
    assert _import(workspace, source, "--split-column", "fold").exit_code == 0
    assert invoke(workspace, "featurize", "-f", "tfidf").exit_code == 0
    result = invoke(workspace, "experiment", "--sizes", "10,40", "--splits", "2", "--models", "logreg", "--name", "own")
    assert result.exit_code == 0, result.output
    config = json.loads((workspace / "results" / "own" / "config.json").read_text())
    assert config["datasets"]["tickets"]["test_source"] == "official"
    assert config["datasets"]["tickets"]["test_rows"] == 24


def test_rerun_is_cached_and_a_changed_choice_rebuilds(tmp_path):
    source = _write(tmp_path / "tickets.csv", "csv")
    assert _import(tmp_path / "ws", source).exit_code == 0
    assert _import(tmp_path / "ws", source).output.startswith("cached")
    assert _import(tmp_path / "ws", source, "--split-column", "fold").output.startswith("wrote")
    _write(source, "csv", ROWS[:4])
    assert _import(tmp_path / "ws", source, "--split-column", "fold").output.startswith("wrote"), "new bytes"


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (
            lambda p: _write(p / "t.csv", "csv"),
            ["--label-column", "label"],
            "t.csv: no column(s) label (has body, queue, fold)",
        ),
        (
            lambda p: _write(p / "t.csv", "csv", [*ROWS, ("x", "bug", "holdout")]),
            ["--split-column", "fold"],
            "tickets: t.csv line 8 has split 'holdout' (expected train, validation or test)",
        ),
        (
            lambda p: _write(p / "t.jsonl", "jsonl", [("only", "bug", "train")] * 3),
            [],
            "tickets: only one label ('bug')",
        ),
        (lambda p: p / "missing.csv", [], "missing.csv: no such file"),
        (lambda p: _write(p / "t.xlsx", "csv"), [], "t.xlsx: cannot tell the format from the name"),
        (lambda p: _write(p / "t.csv", "csv"), ["--name", "sst2"], "--name 'sst2' is a catalog dataset"),
        (lambda p: _write(p / "t.csv", "csv"), ["--name", "../up"], "--name '../up': use ASCII letters"),
    ],
)
def test_bad_input_is_a_one_line_error_and_writes_nothing(tmp_path, setup, args, message):
    source = setup(tmp_path)
    workspace = tmp_path / "ws"
    result = invoke(
        workspace,
        "download",
        "--from-file",
        str(source),
        "--name",
        "tickets",
        "--text-column",
        "body",
        "--label-column",
        "queue",
        *args,
    )
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output
    assert not (workspace / "datasets").exists() or not list((workspace / "datasets").glob("*.parquet"))


def test_broken_jsonl_names_the_line(tmp_path):
    source = tmp_path / "t.jsonl"
    source.write_text('{"body": "fine", "queue": "bug"}\n{"body": "broken", \n')
    result = _import(tmp_path / "ws", source)
    assert result.exit_code == 1 and "t.jsonl: line 2: not JSON" in result.output


def test_unclosed_quote_in_csv_is_an_error_not_a_merged_row(tmp_path):
    source = tmp_path / "t.csv"
    source.write_text('body,queue\nfine,bug\n"never closed,feature\nnext,bug\n')
    result = _import(tmp_path / "ws", source)
    assert result.exit_code == 1 and "t.csv: line" in result.output and "malformed CSV" in result.output


def test_imported_datasets_appear_in_the_list(tmp_path):
    _import(tmp_path / "ws", _write(tmp_path / "tickets.csv", "csv"))
    lines = invoke(tmp_path / "ws", "download", "--list").output.splitlines()
    row = next(line for line in lines if line.startswith("tickets"))
    assert "user data" in row and row.rstrip().endswith("yes")
