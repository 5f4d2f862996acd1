"""Fetching bytes over HTTP, once, for every stage: retries, time-outs, and checksums.

The dataset catalog (``download``) and model files given by URL (``featurize``) both come through here, so
both get the same guarantees: transient failures (5xx, resets, truncated bodies, time-outs) are retried
with exponential back-off, client errors are not, and a file is verified against its sha256 before use.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from enso_ng.errors import EnsoError
from enso_ng.progress import bar
from enso_ng.workspace import sha256_file

#: seconds without a byte before a request counts as timed out, unless ``timeout`` sets it for a block
DEFAULT_TIMEOUT_S = 30.0
_timeout_s: ContextVar[float] = ContextVar("timeout_s", default=DEFAULT_TIMEOUT_S)
#: extra tries after a transient failure, waiting BACKOFF_S, 2*BACKOFF_S, 4*BACKOFF_S, ...
RETRIES = 3
BACKOFF_S = 1.0


@contextlib.contextmanager
def timeout(seconds: float) -> Iterator[None]:
    """Requests inside the block time out after ``seconds`` without data (``enso download --timeout``): a
    setting of the call, not a module global another caller would inherit."""
    if not seconds > 0:
        raise EnsoError(f"--timeout must be positive, got {seconds}")
    token = _timeout_s.set(seconds)
    try:
        yield
    finally:
        _timeout_s.reset(token)


def verify(path: Path, expected: str, what: str) -> None:
    """Fail unless ``path`` has the sha256 ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise EnsoError(f"checksum mismatch for {what}: expected sha256 {expected}, got {actual}")


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
                raise EnsoError(
                    f"{url}: cannot resolve the host ({exc.reason.strerror}); offline? try --mirror"
                ) from None
            if attempt == RETRIES:
                reason = getattr(exc, "reason", None) or str(exc) or exc.__class__.__name__
                raise EnsoError(f"{url}: download failed after {RETRIES + 1} tries ({reason})") from None
        time.sleep(BACKOFF_S * 2**attempt)


def _download_once(url: str, dest: Path) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "enso_ng"})
    with urllib.request.urlopen(request, timeout=_timeout_s.get()) as response, open(dest, "wb") as out:
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
