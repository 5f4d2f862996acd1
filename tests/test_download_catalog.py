"""``enso download`` with no name fetches the whole catalog: a catalog of generated entries served on
127.0.0.1 (and one that fails), so the test needs no network."""

from __future__ import annotations

import http.server

import pytest

from enso_ng.download.entry import CATALOG, DatasetEntry, same
from enso_ng.download.parsers import csv_columns
from enso_ng.download.sources import UrlSource
from enso_ng.fetch import sha256_file

from conftest import invoke, serve

LABELS = ("food", "music", "sport")


def _write_csv(path, rows: int, labels=LABELS) -> None:
    lines = ["text,label"] + [
        f"text number {i} about {labels[i % len(labels)]},{labels[i % len(labels)]}" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")


class Counting(http.server.SimpleHTTPRequestHandler):
    """Counts the requests per path, so the test can tell what was fetched again."""

    requests: list[str] = []

    def do_GET(self):
        Counting.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def toy_catalog(tmp_path, monkeypatch):
    """A catalog of three served entries and one whose file is missing (HTTP 404)."""
    served = tmp_path / "served"
    served.mkdir()
    _write_csv(served / "alpha.csv", 30)
    _write_csv(served / "beta.csv", 40, ("yes", "no"))
    _write_csv(served / "gamma.csv", 50)
    (served / "gone.csv").write_text("text,label\na,b\n")
    Counting.requests = []
    with serve(served, Counting) as base:
        entries = {}
        for name, rows, labels in (("alpha", 30, LABELS), ("beta", 40, ("yes", "no")), ("gamma", 50, LABELS)):
            entries[name] = _entry(name, f"{base}/{name}.csv", sha256_file(served / f"{name}.csv"), labels, rows)
        entries["gone"] = _entry("gone", f"{base}/missing.csv", sha256_file(served / "gone.csv"), ("b",), 1)
        monkeypatch.setattr(CATALOG, "_items", entries)
        yield tmp_path / "work"


def _entry(name, url, sha256, labels, rows) -> DatasetEntry:
    return DatasetEntry(
        name=name,
        task="topic",
        description="generated",
        files={None: UrlSource(url, sha256)},
        parser=csv_columns("text", "label"),
        labels=same(*labels),
        licence="CC0",
        citation="",
        homepage="",
        rows=rows,
    )


def test_no_name_fetches_the_catalog_keeps_what_is_there_and_summarises(toy_catalog):
    first = invoke(toy_catalog, "download", "alpha")
    assert first.exit_code == 0, first.output
    assert any("alpha.csv" in r for r in Counting.requests)
    Counting.requests.clear()

    result = invoke(toy_catalog, "download")
    assert result.exit_code != 0, "a failed entry makes the exit status non-zero"
    assert not any("alpha.csv" in r for r in Counting.requests), "a dataset already there is not fetched again"
    assert any("beta.csv" in r for r in Counting.requests) and any("gamma.csv" in r for r in Counting.requests)
    for name in ("alpha", "beta", "gamma"):
        assert (toy_catalog / "datasets" / f"{name}.parquet").exists()
    assert not (toy_catalog / "datasets" / "gone.parquet").exists()
    table = {line.split()[0]: line for line in result.output.splitlines() if line.split()}
    assert table["name"].split() == ["name", "rows", "classes", "state", "reason"]
    assert table["alpha"].split()[:5] == ["alpha", "30", "3", "already", "there"]
    assert table["beta"].split()[:5] == ["beta", "40", "2", "downloaded", "now"]
    assert table["gamma"].split()[:5] == ["gamma", "50", "3", "downloaded", "now"]
    assert table["gone"].split()[:2] == ["gone", "failed"] and "404" in table["gone"], table["gone"]
    assert "summary: 3 of 4 available; failed: gone" in result.output
    assert result.output.strip().splitlines()[-1] == "Error: 1 of 4 dataset(s) failed: gone"


def test_no_name_with_everything_there_exits_zero(toy_catalog, monkeypatch):
    monkeypatch.delitem(CATALOG._items, "gone")
    assert invoke(toy_catalog, "download").exit_code == 0
    Counting.requests.clear()
    again = invoke(toy_catalog, "download")
    assert again.exit_code == 0, again.output
    assert Counting.requests == [], "nothing fetched the second time"
    assert "summary: 3 of 3 available" in again.output
    assert again.output.count("already there") == 3


@pytest.mark.parametrize("args, message", [(["--name", "x"], "--name"), (["--split-column", "fold"], "--split-column")])
def test_from_file_options_without_from_file_are_one_line_errors(toy_catalog, args, message):
    result = invoke(toy_catalog, "download", *args)
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [f"Error: {message} applies to --from-file only"]
    assert not (toy_catalog / "datasets").exists() or not any((toy_catalog / "datasets").glob("*.parquet"))
