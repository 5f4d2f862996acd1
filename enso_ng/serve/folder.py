"""Writing and reading a model folder: arrays as safetensors, state as JSON, every file's sha256 checked.

Nothing here unpickles: a folder received from someone else is data, never code. :func:`open_folder`
verifies every file against the manifest before anything reads one, so a changed byte anywhere is refused
with one line that says what to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from enso_ng.errors import EnsoError, either
from enso_ng.formats import MANIFEST_FILE, MODEL_FILE_SUFFIXES, ModelManifest
from enso_ng.registry import Registry
from enso_ng.workspace import atomic_path, sha256_file

#: numpy dtypes safetensors stores
_DTYPES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")


@dataclass
class Parts:
    """One component's fitted state: named arrays (dense or CSR), JSON, and text files (a model's own format)."""

    arrays: dict[str, np.ndarray | sp.csr_matrix] = field(default_factory=dict)
    json: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """``value`` as JSON holds it (numpy scalars and arrays, tuples): what a manifest records is what it reads."""

    def convert(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} is not JSON")

    return json.loads(json.dumps(value, default=convert))


def _flatten(arrays: dict[str, np.ndarray | sp.csr_matrix]) -> tuple[dict[str, np.ndarray], dict[str, list[int]]]:
    """Dense arrays as they are; a CSR matrix as its three arrays, its shape kept beside them."""
    flat, sparse = {}, {}
    for name, value in arrays.items():
        if sp.issparse(value):
            value = value.tocsr()
            flat.update({f"{name}.data": value.data, f"{name}.indices": value.indices, f"{name}.indptr": value.indptr})
            sparse[name] = list(value.shape)
        else:
            flat[name] = np.asarray(value)
    for name, value in flat.items():
        if value.dtype.name not in _DTYPES:
            raise EnsoError(f"array {name!r} of dtype {value.dtype} has no safe encoding (numbers only)")
    return {k: np.ascontiguousarray(v) for k, v in flat.items()}, sparse


def write_parts(folder: Path, prefix: str, parts: Parts) -> None:
    """``prefix.safetensors`` (arrays), ``prefix.json`` (state and the sparse shapes), ``prefix.<name>.txt``."""
    from safetensors.numpy import save_file

    flat, sparse = _flatten(parts.arrays)
    (folder / f"{prefix}.json").write_text(
        json.dumps(plain({"state": parts.json, "sparse": sparse, "texts": sorted(parts.texts)}), sort_keys=True)
    )
    if flat:
        target = folder / f"{prefix}.safetensors"
        save_file(flat, str(target))  # streamed to the file (save() would hold the whole buffer twice)
        # save_file makes the file owner-only (0600): a folder shared with a server or cluster workers of
        # another user could not be loaded. It takes the mode of its sibling, written under the umask
        os.chmod(target, (folder / f"{prefix}.json").stat().st_mode & 0o777)
    for name, text in parts.texts.items():
        (folder / f"{prefix}.{name}.txt").write_text(text)


def read_parts(folder: Path, prefix: str) -> Parts:
    from safetensors.numpy import load_file

    meta = json.loads((folder / f"{prefix}.json").read_text())
    arrays_path = folder / f"{prefix}.safetensors"
    flat = load_file(str(arrays_path)) if arrays_path.exists() else {}
    arrays: dict[str, Any] = {}
    for name, shape in meta["sparse"].items():
        parts = (flat.pop(f"{name}.{k}") for k in ("data", "indices", "indptr"))
        arrays[name] = sp.csr_matrix(tuple(parts), shape=tuple(shape))
    arrays.update(flat)
    texts = {name: (folder / f"{prefix}.{name}.txt").read_text() for name in meta["texts"]}
    return Parts(arrays=arrays, json=meta["state"], texts=texts)


@dataclass(frozen=True)
class Codec:
    """A component's fitted state out (``save(obj) -> Parts``) and back in (``load(obj, parts)``, which sets
    it on a freshly built object of the same kind and parameters)."""

    save: Callable[[Any], Parts]
    load: Callable[[Any, Parts], None]


def codec(registry: Registry, name: str, what: str) -> Any:
    """The codec of ``name``, or one line saying which kinds a model folder can hold."""
    if name not in registry:
        raise EnsoError(
            f"enso train cannot yet write {what} {name!r} to a model folder (it can: {either(registry.names())})"
        )
    return registry.get(name)


def refuse_existing(path: Path, force: bool) -> None:
    """A model folder is replaced only with ``--force``."""
    if path.exists() and not force:
        raise EnsoError(f"{path} exists; choose another --name or give --force to replace it")


@contextmanager
def new_folder(path: Path, force: bool) -> Iterator[Path]:
    """A temporary folder that becomes ``path`` when the block succeeds (whole or not at all)."""
    refuse_existing(path, force)
    with atomic_path(path) as tmp:
        tmp.mkdir()
        yield tmp


def seal(folder: Path, manifest: ModelManifest) -> None:
    """Record the sha256 of every file in the manifest, then write it (the last file written)."""
    manifest.files = {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    manifest.write(folder)


def open_folder(folder: Path) -> ModelManifest:
    """The manifest of a model folder whose every file is the one training wrote; refused otherwise."""
    if not folder.is_dir():
        raise EnsoError(f"{folder}: no such model folder (train one with: enso train ... --name NAME)")
    manifest = ModelManifest.read(folder)
    redo = "the folder changed after training: retrain it (enso train) or copy it again from its source"
    for relative, digest in manifest.files.items():
        path = folder / relative
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise EnsoError(f"{folder / MANIFEST_FILE}: lists {relative!r}, outside the folder; {redo}")
        if not path.is_file():
            raise EnsoError(f"{path}: missing; {redo}")
        if sha256_file(path) != digest:
            raise EnsoError(f"{path}: sha256 differs from the manifest's; {redo}")
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_file() and relative != MANIFEST_FILE and relative not in manifest.files:
            raise EnsoError(f"{path}: not listed in the manifest; {redo}")
        if path.is_file() and path.suffix not in MODEL_FILE_SUFFIXES:
            raise EnsoError(f"{path}: a {path.suffix or 'suffix-less'} file, which a model folder never holds; {redo}")
    return manifest


def load_model(folder: Path, precision: str | None = None, runtime: str = "torch") -> Any:
    """A verified folder, loaded: see :class:`enso_ng.serve.pipeline.Pipeline`."""
    from enso_ng.serve.pipeline import Pipeline

    return Pipeline.load(folder, precision=precision, runtime=runtime)
