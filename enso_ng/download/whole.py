"""``enso download`` with no name: every catalog entry, as Enso's ``python -m enso.download`` did.

Datasets already in the workspace (same sources and recipe) are kept, not fetched again; a failure is
recorded and the next entry goes on, so one unreachable host does not cost the rest of the catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from enso_ng.download.build import Downloaded, download
from enso_ng.download.catalog import CATALOG
from enso_ng.errors import EnsoError
from enso_ng.workspace import Workspace

DOWNLOADED, PRESENT, FAILED = "downloaded now", "already there", "failed"


@dataclass
class Fetched:
    """What one catalog entry came to: its state, and its rows and classes where it is there."""

    name: str
    state: str
    rows: int | None = None
    classes: int | None = None
    reason: str = ""


def download_catalog(
    workspace: Workspace,
    mirror: str | None = None,
    force: bool = False,
    on_each: Callable[[str, Downloaded | None, str], None] | None = None,
) -> list[Fetched]:
    """Fetch every catalog entry in name order; ``on_each(name, downloaded or None, reason)`` as each ends."""
    out = []
    for name in CATALOG.names():
        try:
            done = download(name, workspace, mirror=mirror, force=force)
        except Exception as exc:  # noqa: BLE001 - any failure of one entry is that entry's, not the run's
            reason = _one_line(name, exc)
            out.append(Fetched(name, FAILED, reason=reason))
            if on_each:
                on_each(name, None, reason)
            continue
        out.append(Fetched(name, PRESENT if done.cached else DOWNLOADED, done.meta.rows, len(done.meta.labels)))
        if on_each:
            on_each(name, done, "")
    return out


def _one_line(name: str, exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if not isinstance(exc, EnsoError):
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return message.removeprefix(f"{name}: ")
