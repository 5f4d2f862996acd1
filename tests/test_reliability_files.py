"""Files (issue #13): caches verified before reuse, file-system errors as one-line errors naming the path
with nothing partial left, and the parsing details. Read-only and full filesystems are real: a small
tmpfs the test mounts (CI runs as root)."""

import bz2
import csv
import gzip
import shutil

import pyarrow.parquet as pq
import pytest

from enso_ng.download.parsers import csv_columns
from enso_ng.errors import EnsoError

from conftest import CORPUS, invoke
from reliability import fill, one_line_error, remount_read_only, temp_files, tmpfs


def _damage(path, size: int) -> None:
    """Overwrite ``size`` bytes in the middle of ``path``: footer and metadata stay intact."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 - size // 2
    assert middle > 1000 and middle + size < len(data) - 4096, len(data)
    data[middle : middle + size] = b"\xa5" * size
    path.write_bytes(bytes(data))


def test_damaged_features_are_rebuilt_not_reported_cached(workspace):
    # the issue overwrote 200 KB of a larger file; tf-idf's file (~250 KB) takes 60 KB and rebuilds in seconds
    path = workspace / "features" / CORPUS / "tfidf.parquet"
    _damage(path, 60_000)
    result = invoke(workspace, "featurize", "-f", "tfidf")
    assert result.exit_code == 0, result.output
    assert not [line for line in result.output.splitlines() if line.startswith("cached")], result.output
    assert f"rebuilt {path}: the cached file does not read back" in result.output, result.output
    assert pq.read_table(path).num_rows == 2000
    again = invoke(workspace, "experiment", "--name", "after", "--featurizers", "tfidf", "--models", "logreg",
                   "--sizes", "30", "--splits", "1")  # fmt: skip
    assert again.exit_code == 0, again.output


def _own_csv(path, rows: int = 6000) -> None:
    import random

    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i in range(rows):
            writer.writerow([" ".join(rng.choices(words, k=30)), "ab"[i % 2]])


def test_a_damaged_dataset_is_rebuilt_not_reported_cached(tmp_path):
    source = tmp_path / "own.csv"
    _own_csv(source)
    assert invoke(tmp_path, "download", "--from-file", str(source), "--name", "own").exit_code == 0
    path = tmp_path / "datasets" / "own.parquet"
    _damage(path, 20_000)
    result = invoke(tmp_path, "download", "--from-file", str(source), "--name", "own")
    assert result.exit_code == 0, result.output
    assert f"rebuilt {path}" in result.output, result.output
    assert not [line for line in result.output.splitlines() if line.startswith("cached")], result.output
    assert pq.read_table(path).num_rows == 6000


def test_results_being_a_file_is_a_one_line_error(workspace):
    shutil.rmtree(workspace / "results", ignore_errors=True)
    (workspace / "results").write_text("not a folder")
    result = invoke(workspace, "experiment", "--name", "x", "--sizes", "30", "--splits", "1")
    one_line_error(result, str(workspace / "results"))
    assert (workspace / "results").read_text() == "not a folder"


def test_read_only_workspace_is_a_one_line_error_for_every_command(run_workspace, tmp_path):
    source = tmp_path / "own.csv"
    _own_csv(source, rows=50)
    with tmpfs(tmp_path / "ro", "64m") as root:
        shutil.copytree(run_workspace, root / "ws")
        ws = root / "ws"
        remount_read_only(root)
        cases = [
            ("download", "--from-file", str(source), "--name", "own"),
            ("featurize", "-f", "tfidf", "--force"),
            ("experiment", "--name", "new", "--sizes", "30", "--splits", "1", "--featurizers", "tfidf"),
            ("visualize", "--no-tsne"),
        ]
        for args in cases:
            one_line_error(invoke(ws, *args), str(ws), "Read-only file system")


def test_a_full_disk_is_a_one_line_error_and_leaves_nothing_partial(workspace, tmp_path):
    with tmpfs(tmp_path / "full", "8m") as root:
        ws = root / "ws"
        (ws / "features" / CORPUS).mkdir(parents=True)
        shutil.copytree(workspace / "datasets", ws / "datasets")
        shutil.copy(workspace / "features" / CORPUS / "tfidf.parquet", ws / "features" / CORPUS)
        fill(root, 0)
        one_line_error(invoke(ws, "featurize", "-f", "tfidf", "--force"), "No space left on device")
        assert temp_files(ws) == []
        failures = []
        for leave in (0, 4096, 8192, 12288, 16384, 24576, 32768, 49152):
            (root / "filler").unlink()
            shutil.rmtree(ws / "results", ignore_errors=True)
            fill(root, leave)
            result = invoke(ws, "experiment", "--name", "full", "--sizes", "30", "--splits", "2",
                            "--featurizers", "tfidf", "--models", "logreg")  # fmt: skip
            if result.exit_code != 0:
                failures.append(one_line_error(result, "No space left on device", str(ws)))
            run = ws / "results" / "full"
            assert temp_files(ws) == [], result.output
            if (run / "confusion.parquet").exists():  # counts only beside the results they belong to
                assert (run / "results.parquet").exists() and (run / "config.json").exists(), result.output
        # the defect's case among them: counts written, then the results write ran out of space
        assert len(failures) >= 3 and any("results.parquet" in line for line in failures), failures


@pytest.mark.parametrize("suffix, kind", [(".csv.gz", "gzip"), (".csv.bz2", "bz2")])
def test_a_compressed_name_on_plain_bytes_is_a_one_line_error(tmp_path, suffix, kind):
    source = tmp_path / f"own{suffix}"
    source.write_text("text,label\na,b\nc,d\n")
    result = invoke(tmp_path, "download", "--from-file", str(source), "--name", "own")
    one_line_error(result, f"own{suffix}: not a valid {kind} file")
    assert not (tmp_path / "datasets" / "own.parquet").exists()


@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress])
def test_compressed_files_still_import(tmp_path, compress):
    data = b"text,label\nalpha,a\nbeta,b\n"
    suffix = {None: "", gzip.compress: ".gz", bz2.compress: ".bz2"}[compress]
    source = tmp_path / f"own.csv{suffix}"
    source.write_bytes(compress(data) if compress else data)
    result = invoke(tmp_path, "download", "--from-file", str(source), "--name", "own")
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "datasets" / "own.parquet")
    assert table.column("text").to_pylist() == ["alpha", "beta"] and table.column("label").to_pylist() == ["a", "b"]


def test_a_csv_field_over_128_kib_imports_as_jsonl_does(tmp_path):
    long = "word " * 40_000  # 200 KB
    source = tmp_path / "long.csv"
    with open(source, "w", newline="") as fh:
        csv.writer(fh).writerows([["text", "label"], [long, "a"], ["short", "b"]])
    result = invoke(tmp_path, "download", "--from-file", str(source), "--name", "long")
    assert result.exit_code == 0, result.output
    assert max(len(t) for t in pq.read_table(tmp_path / "datasets" / "long.parquet")["text"].to_pylist()) > 128 * 1024


@pytest.mark.parametrize(
    "content, line",
    [
        ('text,label\na,b\nc,d\n"x"y,z\n', 4),  # a stray character after a closing quote, on line 4
        ('text,label\na,b\n"unclosed,x\nc,d\n', 3),  # the unclosed record starts on line 3
        ('text,label\n"two\nlines",a\n"x"y,z\n', 4),
    ],
)
def test_csv_errors_name_the_files_line(tmp_path, content, line):
    source = tmp_path / "bad.csv"
    source.write_text(content)
    with pytest.raises(EnsoError, match=rf"bad.csv: line {line}: malformed CSV"):
        list(csv_columns("text", "label")(source))


def test_a_row_with_more_fields_than_the_header_names_its_line(tmp_path):
    """An unquoted comma in a text read its tail as the label (" loved it", a class of one row) and dropped
    the real one, silently; the same file with the field quoted imports."""
    source = tmp_path / "ragged.csv"
    source.write_text("text,label\ngreat movie,pos\nawful film,neg\ngreat movie, loved it,pos\nboring,neg\n")
    result = invoke(tmp_path, "download", "--from-file", str(source), "--name", "ragged")
    one_line_error(result, "ragged.csv: line 4: 3 fields where the header has 2", "inside a text? quote the field")
    assert not (tmp_path / "datasets" / "ragged.parquet").exists()
    # quoted, it imports; a spreadsheet's trailing delimiters (empty fields past the header's) are nothing
    source.write_text('text,label\ngreat movie,pos,\nawful film,neg,,\n"great movie, loved it",pos\nboring,neg\n')
    assert invoke(tmp_path, "download", "--from-file", str(source), "--name", "ragged").exit_code == 0
    labels = pq.read_table(tmp_path / "datasets" / "ragged.parquet")["label"].to_pylist()
    assert sorted(labels) == ["neg", "neg", "pos", "pos"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_an_unknown_split_names_the_file_and_line(tmp_path, suffix):
    source = tmp_path / f"own{suffix}"
    if suffix == ".csv":
        source.write_text('text,label,split\na,x,train\n"two\nlines",y,test\nc,x,dev-ish\n')
    else:
        source.write_text('{"text":"a","label":"x","split":"train"}\n\n{"text":"c","label":"y","split":"dev-ish"}\n')
    line = 5 if suffix == ".csv" else 3
    result = invoke(tmp_path, "download", "--from-file", str(source), "--name", "own", "--split-column", "split")
    one_line_error(result, f"own{suffix} line {line}", "'dev-ish'")
