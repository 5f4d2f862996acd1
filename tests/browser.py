"""Headless Chromium driven through chromedriver's W3C WebDriver protocol, plain HTTP on 127.0.0.1.

The report's tests need what a reader does: move the pointer over a point, pick a dataset in a menu,
measure where the verdicts sit. ``--dump-dom`` cannot do those, and no browser library is needed for
the dozen calls WebDriver takes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def chromedriver() -> str | None:
    return shutil.which("chromedriver")


class Browser:
    """One WebDriver session: ``call`` sends a command, the helpers name the ones the tests use."""

    def __init__(self, base: str, session: str) -> None:
        self.base, self.session = base, session

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base}/session/{self.session}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"WebDriver {method} {path}: {exc.read()[:500]!r}") from None

    def open(self, url: str) -> None:
        self.call("POST", "/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def element(self, css: str) -> dict:
        return self.call("POST", "/element", {"using": "css selector", "value": css})

    def hover(self, element: dict) -> None:
        """Move the pointer to the centre of ``element``, as a mouse would."""
        origin = dict(element)
        self.call(
            "POST",
            "/actions",
            {
                "actions": [
                    {
                        "type": "pointer",
                        "id": "mouse",
                        "parameters": {"pointerType": "mouse"},
                        "actions": [{"type": "pointerMove", "duration": 0, "origin": origin, "x": 0, "y": 0}],
                    }
                ]
            },
        )

    def click(self, element: dict) -> None:
        self.call("POST", f"/element/{next(iter(element.values()))}/click", {})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("GET", "/screenshot"))

    def console(self) -> list[dict]:
        """Browser console entries since the last call (chromedriver's log endpoint)."""
        return self.call("POST", "/se/log", {"type": "browser"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def browser(width: int = 1366, height: int = 768) -> Iterator[Browser]:
    """A headless Chromium with a laptop-sized window, gone when the block ends."""
    port = _free_port()
    driver = subprocess.Popen(
        [chromedriver(), f"--port={port}", "--allowed-ips=127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/status", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        capabilities = {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    f"--window-size={width},{height}",
                ],
            },
        }
        request = urllib.request.Request(
            f"{base}/session",
            data=json.dumps({"capabilities": {"alwaysMatch": capabilities}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            session = json.loads(response.read())["value"]["sessionId"]
        page = Browser(base, session)
        try:
            yield page
        finally:
            with contextlib.suppress(Exception):
                urllib.request.urlopen(urllib.request.Request(f"{base}/session/{session}", method="DELETE"), timeout=30)
    finally:
        driver.terminate()
        driver.wait(timeout=30)
