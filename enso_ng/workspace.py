"""Where things live, and the only way files are written.

The four stages talk through files under one workspace root: ``datasets/``, ``features/`` and
``results/``. Every Parquet file carries its provenance as JSON under one schema-metadata key, and is
written to a hidden temporary file that is renamed into place only when complete, so an interrupted or
failed stage never leaves a file that a later stage would read as finished.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from enso_ng.errors import EnsoError, shown

META_KEY = b"enso_ng"
ENV_WORKSPACE = "ENSO_WORKSPACE"
ENV_CACHE = "ENSO_CACHE"


def user_cache(*parts: str) -> Path:
    """A folder in the per-user cache (``$ENSO_CACHE``, else ``~/.cache/enso_ng``): what is costly to make
    and serves every workspace on this machine (exported model graphs, measured precision choices)."""
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "enso_ng").joinpath(*parts)


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

    # Every path built from a name goes through name_path: what is asked for lands inside this workspace.

    def dataset_path(self, name: str, what: str = "dataset name") -> Path:
        return name_path(self.datasets_dir, name, what, ".parquet")

    def features_path(self, dataset: str, featurizer: str, what: tuple[str, str] = ("dataset", "featurizer")) -> Path:
        return name_path(name_path(self.features_dir, dataset, what[0]), featurizer, what[1], ".parquet")

    def run_dir(self, run: str, what: str = "run name") -> Path:
        return name_path(self.results_dir, run, what)

    def model_dir(self, name: str, what: str = "model name") -> Path:
        """``models/<name>/``: a model folder that ``enso train`` writes and ``enso predict`` reads by name."""
        return name_path(self.root / "models", name, what)

    def datasets(self) -> list[str]:
        """Names of the datasets downloaded so far."""
        if not self.datasets_dir.is_dir():
            return []
        return sorted(p.stem for p in self.datasets_dir.glob("*.parquet") if is_name(p.stem))

    def featurized(self) -> list[tuple[str, str]]:
        """(dataset, featurizer) pairs with a complete features file."""
        if not self.features_dir.is_dir():
            return []
        found = self.features_dir.glob("*/*.parquet")
        return sorted((p.parent.name, p.stem) for p in found if is_name(p.parent.name) and is_name(p.stem))

    def runs(self) -> list[str]:
        """Result runs, oldest first (by the time their config was written)."""
        if not self.results_dir.is_dir():
            return []
        found = [p.parent for p in self.results_dir.glob("*/config.json") if is_name(p.parent.name)]
        return [p.name for p in sorted(found, key=lambda p: (p.joinpath("config.json").stat().st_mtime, p.name))]


#: the names a user may give (datasets, featurizers, runs, models): ASCII letters and digits, then also
#: ``_``, ``-`` and ``.``. ASCII only, deliberately: no Unicode normalisation is attempted, so a look-alike
#: (fullwidth solidus U+FF0F, division slash U+2215, one-dot leader U+2024, fullwidth letters) is refused
#: rather than mapped onto another name; no separator, no NUL, no control character, no leading dot.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*", re.ASCII)
#: the longest name: figure files join four names, and a file name has 255 bytes
NAME_MAX = 100
#: the longest name of a file that joins several names (a figure, a CSV), its suffix and temp name aside
FILE_NAME_MAX = 220


def is_name(name: object, longest: int = NAME_MAX) -> bool:
    """One plain folder name: ``fullmatch``, so a trailing newline (which ``$`` lets through) is refused."""
    return isinstance(name, str) and len(name) <= longest and bool(_NAME.fullmatch(name)) and ".." not in name


def check_name(name: str, what: str, folder: str, longest: int = NAME_MAX) -> str:
    """A name that becomes one folder under ``folder``: no separators, no ``..``, nothing absolute."""
    if not is_name(name, longest):
        raise EnsoError(
            f"{what} {shown(name)}: use ASCII letters, digits, '_', '-' or '.', starting with a letter or digit, "
            f"at most {longest} characters (no '/', no '..'): it names one entry under {folder}"
        )
    return name


def name_path(parent: Path, name: str, what: str, suffix: str = "", longest: int = NAME_MAX) -> Path:
    """The one way a user-given name becomes a path: ``parent/<name><suffix>``, one plain entry strictly
    inside ``parent``, or an :class:`EnsoError` naming ``what`` (the option that gave it). Figure and table
    files, whose names join several checked names, pass ``longest`` up to :data:`FILE_NAME_MAX`."""
    check_name(name, what, f"{parent.name}/", longest)
    path = parent / f"{name}{suffix}"
    if path.parent != parent or os.path.normpath(path) != str(path):  # cannot happen past check_name; kept
        raise EnsoError(f"{what} {shown(name)}: not one entry of {parent}")
    return path


def check_run_name(name: str, what: str = "run name") -> str:
    return check_name(name, what, "results/")


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files of writers that died (SIGKILL, power loss) in ``folder``; keep live ones."""
    removed = []
    try:
        entries = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if not match or _pid_alive(int(match["pid"])):
            continue
        try:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
        except OSError:
            continue
    return removed


def clean_workspace_temps(workspace: Workspace) -> list[Path]:
    """Stale temporary files anywhere a stage writes: datasets/, features/<dataset>/, results/<run>/."""
    folders = [workspace.datasets_dir, workspace.raw_dir, workspace.features_dir, workspace.results_dir]
    for parent in (workspace.features_dir, workspace.results_dir):
        try:
            folders += [p for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
        except OSError:
            continue
    return [path for folder in folders for path in clean_stale_temps(folder)]


def os_reason(exc: OSError) -> str:
    """The reason of a file-system error in a few words, whether Python or Arrow raised it."""
    if exc.strerror:
        return exc.strerror
    if exc.errno:
        return os.strerror(exc.errno)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    match = re.search(r"\[Errno (\d+)\]", text)
    return os.strerror(int(match[1])) if match else text


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` only if the block succeeds.

    The block may create a file or a folder there; a folder replaces any stale folder at ``path``. The
    temporary name carries this process's id, so a later writer can tell a dead writer's leftover.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise EnsoError(f"{path}: {os_reason(exc)}") from None  # a failed write() names no file itself
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


def unreadable(path: Path, rows: int) -> str | None:
    """Why ``path`` does not read back whole as ``rows`` rows (every page decoded, a block at a time), or None.

    A cache is reused only when this is None: footer metadata alone survives a file damaged in the middle.
    """
    try:
        file = pq.ParquetFile(path)
        seen = sum(batch.num_rows for batch in file.iter_batches(batch_size=65536))
    except (pa.ArrowException, OSError, ValueError) as exc:
        return f"does not read back ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    if seen != rows:
        return f"holds {seen} rows, its metadata says {rows}"
    return None


def file_identity(path: Path) -> tuple:
    """What rewriting or replacing a file changes (its path, inode, size, modification time and change time,
    which no user can set back): the key of a digest or of contents kept in memory for this process."""
    stat = path.stat()
    return str(path.resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


#: file identity -> sha256, for this process (``known_sha256``)
_DIGESTS: dict[tuple, str] = {}


def known_sha256(path: Path) -> str:
    """``sha256_file``, hashed once per process while the file is unchanged (``file_identity``): an encoder's
    weights or a vectors file asked for again (a featurizer made again, a server holding several folders) is
    not read again; a replaced or edited file is."""
    key = file_identity(path)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


LOCK_FILE = ".lock"


@contextmanager
def run_lock(run_dir: Path, run: str) -> Iterator[Path]:
    """Hold ``run_dir/.lock`` for the block: one writer per run, the holder's pid, host and start inside.

    ``flock`` is released by the kernel when the holder dies, however it dies, so a lock is never stale.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise EnsoError(
                f"run {run!r} is being written by {_holder(path)}; wait for it or choose another --name"
            ) from None
        started = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}).encode())
        except OSError as exc:
            raise EnsoError(f"{path}: {os_reason(exc)}") from None
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays, empty of meaning until the next holder writes it


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')} (started {info.get('started')})"
