"""Real services for the cluster and tracking tests: a ``dask scheduler`` with ``dask worker`` processes,
and an ``mlflow server``, each on 127.0.0.1, started and stopped by the test that needs them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reliability import REPO

BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    """Workers import this checkout's enso_ng, whatever is installed."""
    return {**os.environ, "PYTHONPATH": str(REPO), "ENSO_QUIET": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


@dataclass
class DaskCluster:
    address: str
    folder: Path
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start_worker(self, name: str, hide: Path | None = None) -> subprocess.Popen:
        """A ``dask worker`` (one thread, no nanny: SIGKILL ends it for good). With ``hide``, the worker
        runs in its own mount namespace with an empty tmpfs over that folder: it cannot see what is in it."""
        command = [
            _command("dask"),
            "worker",
            self.address,
            "--name",
            name,
            "--nthreads",
            "1",
            "--no-nanny",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--local-directory",
            str(self.folder / name),
        ]
        if hide is not None:
            script = f'mount -t tmpfs none "{hide}" && exec "$@"'
            command = ["unshare", "--map-root-user", "--mount", "sh", "-c", script, "sh", *command]
        log = open(self.folder / f"{name}.log", "w")
        process = subprocess.Popen(command, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        self.workers[name] = process
        self.processes.append(process)
        return process

    def wait_for_workers(self, n: int, timeout: float = 90.0) -> dict[str, str]:
        """name -> address of the connected workers, once there are ``n``."""
        from distributed import Client

        with Client(self.address, timeout="20s") as client:
            client.wait_for_workers(n, timeout=timeout)
            return {info["name"]: address for address, info in client.scheduler_info(n_workers=-1)["workers"].items()}

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int = 2) -> Iterator[DaskCluster]:
    """``dask scheduler`` on 127.0.0.1 and ``workers`` workers named w1, w2, ...; all stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    scheduler = subprocess.Popen(
        [_command("dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=_env(),
        stdout=open(folder / "scheduler.log", "w"),
        stderr=subprocess.STDOUT,
    )
    cluster = DaskCluster(f"tcp://127.0.0.1:{port}", folder, processes=[scheduler])
    try:
        for i in range(workers):
            cluster.start_worker(f"w{i + 1}")
        if workers:
            cluster.wait_for_workers(workers)
        yield cluster
    finally:
        # the workers first, the scheduler once they are gone: a worker told to stop while the scheduler
        # closes too can hang in its own close (a cancelled plugin removal) until the kill below, 20 s later
        workers, rest = cluster.processes[1:], cluster.processes[:1]
        for group in (workers, rest):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@contextlib.contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 with a SQLite store and an artifacts folder in ``folder``; its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [
            _command("mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        # MLflow's job runner (huey consumer processes, each importing mlflow: about 10 CPU-seconds on 2 cores)
        # serves features of MLflow's own that no enso_ng command asks for
        env={**_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=open(folder / "server.log", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its web workers are stopped with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", process, 120, folder / "server.log", "mlflow server")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_until_up(url: str, process: subprocess.Popen, seconds: float, log: Path, what: str) -> None:
    """Poll ``url`` until it answers 200; fail with the log's tail if ``process`` dies or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start: {log.read_text()[-3000:]}")
        time.sleep(0.3)
