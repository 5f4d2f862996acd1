"""Where things live, and the only way files are written.

The four stages talk through files under one workspace root: ``datasets/``, ``features/`` and
``results/``. Every Parquet file carries its provenance as JSON under one schema-metadata key, and is
written to a hidden temporary file that is renamed into place only when complete, so an interrupted or
failed stage never leaves a file that a later stage would read as finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from enso_ng.errors import EnsoError

META_KEY = b"enso_ng"
ENV_WORKSPACE = "ENSO_WORKSPACE"


@dataclass(frozen=True)
class Workspace:
    """The folder holding ``datasets/``, ``features/`` and ``results/``."""

    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> Workspace:
        """``path``, else ``$ENSO_WORKSPACE``, else the current directory."""
        chosen = path or os.environ.get(ENV_WORKSPACE) or os.getcwd()
        return cls(Path(chosen).expanduser().resolve())

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def raw_dir(self) -> Path:
        """Verified raw downloads, kept so a re-run does not fetch again."""
        return self.datasets_dir / ".raw"

    @property
    def features_dir(self) -> Path:
        return self.root / "features"

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    def dataset_path(self, name: str) -> Path:
        return self.datasets_dir / f"{name}.parquet"

    def features_path(self, dataset: str, featurizer: str) -> Path:
        return self.features_dir / dataset / f"{featurizer}.parquet"

    def run_dir(self, run: str) -> Path:
        return self.results_dir / run

    def datasets(self) -> list[str]:
        """Names of the datasets downloaded so far."""
        if not self.datasets_dir.is_dir():
            return []
        return sorted(p.stem for p in self.datasets_dir.glob("*.parquet"))

    def featurized(self) -> list[tuple[str, str]]:
        """(dataset, featurizer) pairs with a complete features file."""
        if not self.features_dir.is_dir():
            return []
        return sorted((p.parent.name, p.stem) for p in self.features_dir.glob("*/*.parquet"))

    def runs(self) -> list[str]:
        """Result runs, oldest first (by the time their config was written)."""
        if not self.results_dir.is_dir():
            return []
        found = [p.parent for p in self.results_dir.glob("*/config.json")]
        return [p.name for p in sorted(found, key=lambda p: (p.joinpath("config.json").stat().st_mtime, p.name))]


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` only if the block succeeds.

    The block may create a file or a folder there; a folder replaces any stale folder at ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()


def with_meta(schema: pa.Schema, meta: dict[str, Any]) -> pa.Schema:
    return schema.with_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode()})


@contextmanager
def parquet_writer(path: Path, schema: pa.Schema, meta: dict[str, Any]) -> Iterator[pq.ParquetWriter]:
    """Stream row groups into ``path`` atomically: readers see the old file or the whole new one."""
    with atomic_path(path) as tmp:
        writer = pq.ParquetWriter(tmp, with_meta(schema, meta), compression="zstd")
        try:
            yield writer
        finally:
            writer.close()


def write_parquet(path: Path, table: pa.Table, meta: dict[str, Any]) -> None:
    with parquet_writer(path, table.schema, meta) as writer:
        writer.write_table(table)


def read_meta(path: Path) -> dict[str, Any]:
    """The provenance dictionary stored in a Parquet file written by enso_ng."""
    try:
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    except FileNotFoundError:
        raise EnsoError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise EnsoError(f"{path}: not a readable Parquet file ({exc})") from None
    if raw is None:
        raise EnsoError(f"{path}: no enso_ng metadata; was it written by enso_ng?")
    return json.loads(raw)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns)
    except FileNotFoundError:
        raise EnsoError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise EnsoError(f"{path}: cannot read ({exc})") from None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
