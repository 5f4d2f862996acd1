"""Helpers of the reliability tests: real ``enso`` processes, waiting on files, small mounted filesystems."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import Result

from conftest import invoke, unavailable

REPO = Path(__file__).resolve().parents[1]


def enso(workspace: Path, *args: str) -> subprocess.Popen:
    """``enso`` as a separate process (not in-process), so a test can run two at once or SIGKILL one."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "ENSO_QUIET": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


#: the session process of ``enso_session``: it imports no module of enso_ng; each command runs as ``enso -q -w
#: WORKSPACE ...`` would, in a child forked from it, and one line per command (prefixed ``enso_session ``)
#: gives its exit code, standard output and error, and whether torch was imported by its end. The
#: third-party libraries to preload are imported once, after the first ``torch_free`` commands.
_SESSION = textwrap.dedent("""
    import contextlib, importlib, io, json, os, sys, traceback
    workspace, commands = sys.argv[1], json.loads(sys.argv[2])
    torch_free, preload = int(sys.argv[3]), json.loads(sys.argv[4])
    for i, args in enumerate(commands):
        if i == torch_free:
            for name in preload:
                importlib.import_module(name)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            out, err = io.StringIO(), io.StringIO()
            sys.argv = ["enso", "-q", "-w", workspace, *args]
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    from enso_ng.cli import main
                    main()
                    code = 0
                except SystemExit as stop:
                    code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
                except BaseException:
                    traceback.print_exc()
                    code = -1
            with os.fdopen(write, "w") as fh:
                json.dump([code, out.getvalue(), err.getvalue(), "torch" in sys.modules], fh)
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as fh:
            result = fh.read()
        _, status = os.waitpid(pid, 0)
        print("enso_session " + (result or json.dumps([-1, "", f"the child ended with status {status}", None])))
    sys.stdout.flush()
    os._exit(0)  # the children have reported; tearing down the preloaded libraries would take a second
""")

#: what a session imports once for its commands (each would import them itself: seconds a process)
PRELOAD = ("numpy", "pyarrow.parquet", "scipy.sparse", "torch", "sklearn.metrics", "sklearn.feature_extraction.text")


@dataclass
class Finished:
    """One command of an ``enso_session``: its arguments and exit code, what it printed, and whether torch
    had been imported by its end (None: the child died before reporting)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    torch: bool | None


def enso_session(
    workspace: Path,
    *commands: Sequence[str],
    package: Path = REPO,
    torch_free: int = 0,
    preload: Sequence[str] = PRELOAD,
) -> list[Finished]:
    """Each command in turn, as a fresh process would run it, for a fraction of the cost: one new Python
    process (importing the package from ``package``: this checkout, or a test's edited copy) imports the
    third-party libraries in ``preload`` once, and forks a child per command. So nothing of the test's
    process helps a command, and nothing of an earlier command (enso_ng's modules, registries, caches) helps
    a later one. The first ``torch_free`` commands are forked before anything is preloaded, and must not
    import torch (ONNX Runtime and a tokenizer need no training stack)."""
    env = {**os.environ, "PYTHONPATH": str(package), "ENSO_QUIET": "1"}
    argv = [json.dumps([list(c) for c in commands]), str(torch_free), json.dumps(list(preload))]
    session = subprocess.run(
        [sys.executable, "-c", _SESSION, str(workspace), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=package,
        timeout=900,
    )
    assert session.returncode == 0, session.stderr[-3000:]
    lines = [
        json.loads(line.split(" ", 1)[1]) for line in session.stdout.splitlines() if line.startswith("enso_session ")
    ]
    assert len(lines) == len(commands), session.stdout[-3000:] + session.stderr[-3000:]
    finished = [Finished(list(args), *line) for args, line in zip(commands, lines, strict=True)]
    for done in finished[:torch_free]:
        assert done.returncode != 0 or done.torch is False, f"{done.args} imported torch"
    return finished


def wait_for(check: Callable[[], object], what: str, timeout: float = 120.0, process=None) -> object:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (and a dead process's output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process ended before {what}: {process.stdout.read()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def one_line_error(result: Result, *needles: str) -> str:
    """The command failed with exit 1 and one ``Error:`` line (no traceback) containing every needle."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in errors[0], result.output
    return errors[0]


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp")]


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (needs root, as CI has); unmounted after the block."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        unavailable("needs root to mount a small tmpfs (read-only and full-disk workspaces)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def fill(where: Path, leave: int) -> None:
    """Fill the filesystem at ``where`` up, then free ``leave`` bytes again."""
    filler = where / "filler"
    block = b"\0" * (1 << 16)
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(block)
                fh.flush()
        except OSError:
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))


# ---------------------------------------------------------------- a tiny workspace, made in seconds (tf-idf only)

LABELS = ("good", "bad", "meh")


def tiny_csv(path: Path, rows: int = 60, labels: tuple[str, ...] = LABELS) -> Path:
    """A small labelled CSV whose texts carry a word per label, so that tf-idf separates them."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i in range(rows):
            label = labels[i % len(labels)]
            writer.writerow([f"word{i % len(labels)} sample text number {i} about {i % 7}", label])
    return path


def tiny_workspace(root: Path, name: str = "tiny", labels: tuple[str, ...] = LABELS, rows: int = 60) -> Path:
    """``root`` with datasets/<name>.parquet and its tf-idf features."""
    root.mkdir(parents=True, exist_ok=True)
    source = tiny_csv(root.parent / f"{name}.csv", rows, labels)
    for args in (["download", "--from-file", str(source), "--name", name], ["featurize", "-f", "tfidf", "-d", name]):
        result = invoke(root, *args)
        assert result.exit_code == 0, result.output
    return root


def tiny_run(root: Path, labels: tuple[str, ...], rows: int, metrics: str = "accuracy") -> Path:
    """A tiny workspace at ``root`` with a finished run ``r`` (tf-idf + logreg, sizes 12 and 30, 2 splits)."""
    tiny_workspace(root, labels=labels, rows=rows)
    result = invoke(
        root, "experiment", "-d", "tiny", "-f", "tfidf", "-m", "logreg", "--sizes", "12,30", "--splits", "2",
        "--name", "r", "--metrics", metrics,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root


def own_workspace(root: Path, *featurizers: str, rows: int = 150) -> Path:
    """A workspace with one small imported dataset (``own``: 3 classes of short texts with an overlap of
    words) featurized by ``featurizers`` through the command line: seconds, not the session corpus."""
    import random

    from conftest import invoke

    words = {
        "bug": ["crash", "error", "fails", "broken", "freeze"],
        "feature": ["add", "please", "support", "would", "idea"],
        "question": ["how", "why", "what", "where", "when"],
    }
    draw = random.Random(0)
    lines = ["text,label"]
    for i in range(rows):
        label = list(words)[i % 3]
        shared = draw.choice(["app", "screen", "login", "report"])
        lines.append(" ".join(draw.choice(words[label]) for _ in range(4)) + f" {shared} item{i % 7},{label}")
    source = root.parent / f"{root.name}-own.csv"
    source.write_text("\n".join(lines) + "\n")
    result = invoke(root, "download", "--from-file", str(source), "--name", "own")
    assert result.exit_code == 0, result.output
    for featurizer in featurizers:
        result = invoke(root, "featurize", "-f", featurizer)
        assert result.exit_code == 0, result.output
    return root
