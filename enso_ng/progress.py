"""Progress bars that respect quiet mode.

Long work shows a bar with rate and ETA on stderr; ``enso --quiet`` (or ``ENSO_QUIET=1``) turns every
bar off so scripts get clean output.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from tqdm.auto import tqdm


def env_quiet() -> bool:
    """``ENSO_QUIET`` set to anything but empty or 0."""
    return os.environ.get("ENSO_QUIET", "") not in ("", "0")


_quiet = env_quiet()


@contextlib.contextmanager
def quiet(enabled: bool) -> Iterator[None]:
    """Bars off (or on) for the block, then as before: ``enso --quiet`` holds it for its one command, so no
    setting outlives the command that asked for it."""
    global _quiet
    before, _quiet = _quiet, enabled
    try:
        yield
    finally:
        _quiet = before


def bar(total: int | None = None, desc: str = "", unit: str = "it", **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, disabled in quiet mode."""
    return tqdm(total=total, desc=desc, unit=unit, disable=_quiet, dynamic_ncols=True, leave=False, **kwargs)


@contextlib.contextmanager
def ticking(shown: tqdm, every: float = 1.0) -> Iterator[None]:
    """Redraw ``shown`` every ``every`` seconds for the block, so its clock moves while one long step runs
    (a group of cells on 5,000 classes fits for minutes between two updates). Nothing for a hidden bar."""
    if getattr(shown, "disable", False):
        yield
        return
    import threading

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every):
            shown.refresh()

    thread = threading.Thread(target=tick, name="enso-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
