import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enso_ng.errors import EnsoError
from enso_ng.workspace import Workspace, atomic_path, read_meta, write_parquet


def test_workspace_defaults_to_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENSO_WORKSPACE", raising=False)
    assert Workspace.resolve().root == tmp_path.resolve()
    monkeypatch.setenv("ENSO_WORKSPACE", str(tmp_path / "elsewhere"))
    assert Workspace.resolve().root == (tmp_path / "elsewhere").resolve()
    assert Workspace.resolve(tmp_path / "given").root == (tmp_path / "given").resolve()


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_metadata_round_trip(tmp_path):
    path = tmp_path / "t.parquet"
    write_parquet(path, pa.table({"x": [1, 2]}), {"kind": "test", "n": 2})
    assert read_meta(path) == {"kind": "test", "n": 2}


def test_foreign_parquet_is_rejected_with_its_path(tmp_path):
    path = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"x": [1]}), path)
    with pytest.raises(EnsoError, match="foreign.parquet: no enso_ng metadata"):
        read_meta(path)
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(EnsoError, match="junk.parquet: not a readable Parquet file"):
        read_meta(tmp_path / "junk.parquet")
