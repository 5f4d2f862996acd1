"""Model files given by path or URL: a URL is downloaded once into the user cache and reused."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from enso_ng.errors import EnsoError
from enso_ng.workspace import atomic_path

CACHE = Path(os.environ.get("ENSO_CACHE", Path.home() / ".cache" / "enso_ng")) / "files"


def local_file(location: str, what: str) -> Path:
    """A local path for ``location``: the path itself, or a URL downloaded (atomically) into the cache."""
    if "://" not in location:
        path = Path(location).expanduser()
        if not path.is_file():
            raise EnsoError(f"{what}: {path} does not exist")
        return path
    name = location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "download"
    target = CACHE / hashlib.sha256(location.encode()).hexdigest()[:16] / name
    if not target.exists():
        try:
            with atomic_path(target) as tmp, urllib.request.urlopen(location, timeout=30) as response, \
                    open(tmp, "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
        except OSError as exc:
            raise EnsoError(f"{what}: cannot download {location} ({exc})") from None
    return target
