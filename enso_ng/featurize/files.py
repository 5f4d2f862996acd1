"""Model files given by path or URL: a URL is fetched once into the user cache, verified, and reused.

Downloads go through :mod:`enso_ng.fetch`, with the catalog's retries and time-outs. A URL may pin its
bytes pip-style, ``URL#sha256=HEX``; either way the cache keeps the sha256 of what it received beside the
file, so a cached copy that changed on disk is detected and fetched again, never used.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from enso_ng.errors import EnsoError
from enso_ng.fetch import download_url, verify
from enso_ng.workspace import atomic_path, sha256_file

CACHE = Path(os.environ.get("ENSO_CACHE", Path.home() / ".cache" / "enso_ng")) / "files"


def local_file(location: str, what: str) -> Path:
    """A local path for ``location``: the path itself, or a URL downloaded (atomically) into the cache."""
    if "://" not in location:
        path = Path(location).expanduser()
        if not path.is_file():
            raise EnsoError(f"{what}: {path} does not exist")
        return path
    url, _, fragment = location.partition("#")
    pinned = fragment[len("sha256=") :].lower() if fragment.startswith("sha256=") else None
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "download"
    target = CACHE / hashlib.sha256(url.encode()).hexdigest()[:16] / name
    receipt = target.with_name(target.name + ".sha256")
    if target.exists() and receipt.exists():
        try:
            verify(target, pinned or receipt.read_text().strip(), str(target))
            return target
        except EnsoError:
            target.unlink()  # changed since it was fetched: fetch it again
    try:
        with atomic_path(target) as tmp:
            download_url(url, tmp)
            if pinned:
                verify(tmp, pinned, url)
            digest = sha256_file(tmp)
        with atomic_path(receipt) as tmp:
            tmp.write_text(digest + "\n")
    except EnsoError as exc:
        raise EnsoError(f"{what}: {exc}") from None
    return target
